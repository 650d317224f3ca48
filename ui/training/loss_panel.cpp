#include "ui/training/loss_panel.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include "ui/plots/loss_plot.h"
#include "ui/training/smoothing_control.h"

namespace attnx::ui {

LossPanel::LossPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  plot_ = new LossPlot(this);
  const char* names[] = {"KL", "L1", "total", "validation"};
  for (int s = 0; s < LossPlot::SeriesCount; ++s) {
    auto* box = new QCheckBox(tr(names[s]), this);
    box->setChecked(true);
    box->setToolTip(tr("Show the %1 curve").arg(tr(names[s])));
    connect(box, &QCheckBox::toggled, this, [this, s](bool on) { plot_->setSeriesVisible(LossPlot::Series(s), on); });
    bar->addWidget(box);
  }
  bar->addStretch();
  auto* log = new QCheckBox(tr("log axis"), this);
  log->setToolTip(tr("Logarithmic loss axis"));
  connect(log, &QCheckBox::toggled, plot_, &LossPlot::setLogScale);
  bar->addWidget(log);
  bar->addWidget(makeSmoothingControl(this, plot_->smoothing(),
                                      tr("EMA smoothing weight (0: raw curves only); the raw curve stays faint behind"),
                                      [this](double w) { plot_->setSmoothing(w); }));
  layout->addLayout(bar);
  layout->addWidget(plot_, 1);
}

}  // namespace attnx::ui
