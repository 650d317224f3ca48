#include "ui/plots/loss_plot.h"

#include "ui/plots/figure_layout.h"

namespace attnx::ui {
namespace {

struct SeriesStyle {
  const char* name;
  QColor color;
};
// Colour-blind-safe (Okabe–Ito) colours, readable on white.
const SeriesStyle kStyles[LossPlot::SeriesCount] = {
    {"KL (teacher ‖ student)", QColor(0, 114, 178)},
    {"Σ|α| (right axis)", QColor(230, 159, 0)},
    {"total loss", QColor(0, 158, 115)},
    {"validation KL", QColor(204, 121, 167)},
};

// The raw curve behind its smoothed twin: the series' own colour, light (not grey), so a reader
// still sees which noise belongs to which curve.
QColor faint(QColor c) {
  c.setAlpha(80);
  return c;
}

}  // namespace

LossPlot::LossPlot(QWidget* parent) : StreamingPlot(parent) {
  xAxis->setLabel(tr("step"));
  yAxis->setLabel(tr("KL, total loss"));
  // Σ|α| is on another scale than the KL (tens against tenths): it gets the right-hand axis.
  yAxis2->setVisible(true);
  yAxis2->setLabel(tr("Σ|α|"));
  yAxis2->setTickLabelColor(kStyles[L1].color);
  yAxis2->setLabelColor(kStyles[L1].color);
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  placeLegendBelow(this, SeriesCount);  // off the data: the total loss runs along the top right
  for (int s = 0; s < SeriesCount; ++s) {
    const auto& style = kStyles[s];
    QCPAxis* valueAxis = s == L1 ? yAxis2 : yAxis;
    raw_[s] = addGraph(xAxis, valueAxis);
    if (s == Validation) {
      raw_[s]->setName(tr(style.name));
      raw_[s]->setPen(QPen(style.color, 2));
      raw_[s]->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, style.color, Qt::white, 6));
      smooth_[s] = raw_[s];
      continue;
    }
    raw_[s]->setName(tr(style.name));
    raw_[s]->setPen(QPen(faint(style.color), 1));
    raw_[s]->removeFromLegend();
    smooth_[s] = addGraph(xAxis, valueAxis);
    smooth_[s]->setName(tr(style.name));  // the legend names the series; CSV tells the twin apart
    // With λ₁ small the total loss lies on the KL: drawn after it, thinner and dashed, both show.
    smooth_[s]->setPen(s == Total ? QPen(style.color, 1.6, Qt::DashLine) : QPen(style.color, s == Kl ? 2.6 : 2));
  }
  setSmoothing(smoothing_);
}

void LossPlot::addSamples(const TrainingSamples& samples) {
  QVector<double> keys, values[SeriesCount], smoothed[SeriesCount], valKeys;
  keys.reserve(samples.size());
  for (const auto& m : samples) {
    keys.push_back(static_cast<double>(m.step));
    const double v[3] = {m.kl, m.l1, m.loss};
    for (int s = 0; s < 3; ++s) {
      values[s].push_back(v[s]);
      smoothed[s].push_back(ema_[s].add(v[s]));
    }
    if (m.validationKl >= 0) {
      valKeys.push_back(keys.back());
      values[Validation].push_back(m.validationKl);
    }
  }
  for (int s = 0; s < 3; ++s) {
    raw_[s]->addData(keys, values[s], /*alreadySorted=*/true);
    smooth_[s]->addData(keys, smoothed[s], true);
  }
  if (!valKeys.isEmpty()) raw_[Validation]->addData(valKeys, values[Validation], true);
  markCoincident();
  scheduleReplot();
}

void LossPlot::clear() {
  for (int s = 0; s < SeriesCount; ++s) {
    raw_[s]->data()->clear();
    smooth_[s]->data()->clear();
    ema_[s].reset();
  }
  markCoincident();
  setFollowLatest(true);
  scheduleReplot();
}

void LossPlot::setSmoothing(double weight) {
  smoothing_ = qBound(0.0, weight, 0.999);
  for (int s = 0; s < SeriesCount; ++s) ema_[s] = EmaSmoother(smoothing_);
  resmooth();
  // With smoothing off the drawn curve is the raw one and carries the plain name.
  for (int s = 0; s < Validation; ++s)
    setCsvSeriesName(smooth_[s], smoothing_ > 0 ? smoothedSeriesName(raw_[s]->name(), smoothing_) : raw_[s]->name());
  markCoincident();
  setPlotTitle(this, tr("Distillation loss against training step"),
               smoothing_ > 0 ? tr("faint: raw values; solid: EMA-smoothed, weight %1; Σ|α| on the right axis")
                                    .arg(QString::number(smoothing_, 'f', 2))
                              : tr("raw values, not smoothed; Σ|α| on the right axis"));
  scheduleReplot();
}

void LossPlot::setSeriesVisible(Series s, bool visible) {
  smooth_[s]->setVisible(visible);
  raw_[s]->setVisible(visible && (s == Validation || smoothing_ > 0));
  scheduleReplot();
}

void LossPlot::markCoincident() {
  // A run without validation has no validation curve: no legend entry promising one.
  if (raw_[Validation]->data()->isEmpty()) raw_[Validation]->removeFromLegend();
  else if (!legend->hasItemWithPlottable(raw_[Validation])) raw_[Validation]->addToLegend();
  // KL and total loss share the left axis; they coincide when λ₁ = 0.
  markCoincidentSeries({smooth_[Kl], smooth_[Total]}, {raw_[Kl]->name(), raw_[Total]->name()});
}

void LossPlot::resmooth() {
  for (int s = 0; s < 3; ++s) {
    ema_[s].reset();
    QVector<double> keys, values;
    for (const auto& p : *raw_[s]->data()) {
      keys.push_back(p.key);
      values.push_back(ema_[s].add(p.value));
    }
    smooth_[s]->setData(keys, values, true);
    // With smoothing off the raw curve is the curve: draw it at full strength.
    raw_[s]->setVisible(smoothing_ > 0 && smooth_[s]->visible());
  }
}

}  // namespace attnx::ui
