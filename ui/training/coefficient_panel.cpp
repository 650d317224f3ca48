#include "ui/training/coefficient_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include "ui/plots/coefficient_plot.h"
#include "ui/training/smoothing_control.h"

namespace attnx::ui {

CoefficientPanel::CoefficientPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  plot_ = new CoefficientPlot(this);
  auto* bar = new QHBoxLayout;
  auto combo = [&](const QString& label, const QString& tip) {
    bar->addWidget(new QLabel(label, this));
    auto* c = new QComboBox(this);
    c->setToolTip(tip);
    c->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    bar->addWidget(c);
    connect(c, &QComboBox::activated, this, &CoefficientPanel::applyFilter);
    return c;
  };
  layer_ = combo(tr("layer"), tr("Show the coefficients of one layer or of all"));
  head_ = combo(tr("head"), tr("Show the coefficients of one head or of all"));
  mask_ = combo(tr("mask"), tr("Show the coefficients of one mask or of all"));
  bar->addStretch();
  layout->addLayout(bar);
  // Second row: how the curves are drawn.
  bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("pruning threshold"), this));
  auto* threshold = new QDoubleSpinBox(this);
  threshold->setDecimals(4);
  threshold->setRange(0, 100);
  threshold->setSingleStep(0.01);
  threshold->setValue(plot_->threshold());
  threshold->setToolTip(tr("Pruning threshold τ_α: a marker shows where a coefficient crosses it"));
  connect(threshold, &QDoubleSpinBox::valueChanged, plot_, &CoefficientPlot::setThreshold);
  bar->addWidget(threshold);
  auto* log = new QCheckBox(tr("log"), this);
  log->setToolTip(tr("Logarithmic α axis"));
  connect(log, &QCheckBox::toggled, plot_, &CoefficientPlot::setLogScale);
  bar->addWidget(log);
  bar->addWidget(makeSmoothingControl(this, plot_->smoothing(), tr("EMA smoothing weight; the raw curve stays faint behind"),
                                      [this](double w) { plot_->setSmoothing(w); }));
  bar->addStretch();
  layout->addLayout(bar);
  note_ = new QLabel(this);
  note_->setVisible(false);
  layout->addWidget(note_);
  layout->addWidget(plot_, 1);
  connect(plot_, &CoefficientPlot::drawnCurvesChanged, this, [this](int drawn, int filtered) {
    note_->setVisible(drawn < filtered);
    note_->setText(tr("Showing %1 of %2 curves: choose a layer, head or mask to see the others.").arg(drawn).arg(filtered));
  });
}

void CoefficientPanel::setShape(const TrainingShape& shape) {
  auto fill = [](QComboBox* c, int n, const QString& prefix, const QStringList& names, int keep) {
    c->clear();
    c->addItem(QObject::tr("all"), CoefficientPlot::kAll);
    for (int i = 0; i < n; ++i) c->addItem(names.isEmpty() ? prefix + QString::number(i) : names[i], i);
    c->setCurrentIndex(qBound(0, keep, c->count() - 1));
  };
  // Start with layer 0, head 0 and every mask: one readable curve per mask with a legend (all of
  // GPT-2 small's 12 × 12 × K curves at once would be a blur).
  fill(layer_, shape.layers, QStringLiteral("L"), {}, shape.layers > 1 ? 1 : 0);
  fill(head_, shape.heads, QStringLiteral("H"), {}, shape.heads > 1 ? 1 : 0);
  fill(mask_, shape.masks(), {}, shape.maskNames, 0);
  plot_->setShape(shape);
  applyFilter();
}

void CoefficientPanel::applyFilter() {
  plot_->setFilter(layer_->currentData().toInt(), head_->currentData().toInt(), mask_->currentData().toInt());
}

}  // namespace attnx::ui
