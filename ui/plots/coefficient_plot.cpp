#include "ui/plots/coefficient_plot.h"

#include "ui/plots/ema_smoother.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/series_colors.h"

namespace attnx::ui {

CoefficientPlot::CoefficientPlot(QWidget* parent) : StreamingPlot(parent) {
  xAxis->setLabel(tr("step"));
  yAxis->setLabel(tr("coefficient α"));
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  placeLegendBelow(this, 4);  // off the data: the curves fill the whole axis rect
  thresholdLine_ = new QCPItemStraightLine(this);
  thresholdLine_->setPen(QPen(QColor(200, 0, 0, 160), 1, Qt::DashLine));
  thresholdLine_->setSelectable(false);
  markers_ = addGraph();
  markers_->setName(tr("crosses the pruning threshold"));
  markers_->setLineStyle(QCPGraph::lsNone);
  markers_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QColor(200, 0, 0), QColor(200, 0, 0), 8));
  setThreshold(threshold_);
}

QString CoefficientPlot::curveName(int curve) const {
  const int K = shape_.masks(), H = shape_.heads;
  const int mask = curve % K, head = (curve / K) % H, layer = curve / (K * H);
  return QStringLiteral("L%1 H%2 %3").arg(layer).arg(head).arg(shape_.maskNames.value(mask));
}

void CoefficientPlot::setShape(const TrainingShape& shape) {
  shape_ = shape;
  steps_.clear();
  values_ = QVector<QVector<double>>(shape.alphaCount());
  crossings_ = QVector<QVector<Crossing>>(shape.alphaCount());
  layer_ = qMin(layer_, shape.layers - 1);
  head_ = qMin(head_, shape.heads - 1);
  mask_ = qMin(mask_, shape.masks() - 1);
  setFollowLatest(true);
  rebuildGraphs();
}

void CoefficientPlot::clear() { setShape(shape_); }

QVector<int> CoefficientPlot::filteredCurves() const {
  QVector<int> curves;
  for (int l = 0; l < shape_.layers; ++l)
    for (int h = 0; h < shape_.heads; ++h)
      for (int k = 0; k < shape_.masks(); ++k)
        if ((layer_ == kAll || layer_ == l) && (head_ == kAll || head_ == h) && (mask_ == kAll || mask_ == k))
          curves.push_back(shape_.alphaIndex(l, h, k));
  return curves;
}

void CoefficientPlot::addSamples(const TrainingSamples& samples) {
  const int first = pointCount();
  for (const auto& m : samples) {
    if (m.alpha.size() != static_cast<size_t>(curveCount())) continue;  // a sample of another run shape: not ours
    steps_.push_back(static_cast<double>(m.step));
    for (int c = 0; c < curveCount(); ++c) values_[c].push_back(m.alpha[c]);
  }
  if (pointCount() == first) return;
  for (int c = 0; c < curveCount(); ++c) appendCrossings(c, first);
  // Append the new points to the drawn curves only; the others are kept in values_.
  const QVector<double> keys(steps_.begin() + first, steps_.end());
  for (auto& d : drawn_) {
    QVector<double> raw(values_[d.curve].begin() + first, values_[d.curve].end());
    // The EMA state is the smoothed graph's last value: continue from it.
    QVector<double> smooth;
    smooth.reserve(raw.size());
    double prev = d.smooth->data()->isEmpty() ? raw.front() : (d.smooth->data()->constEnd() - 1)->value;
    for (double x : raw) smooth.push_back(prev = smoothing_ * prev + (1 - smoothing_) * x);
    d.raw->addData(keys, raw, true);
    d.smooth->addData(keys, smooth, true);
  }
  markCoincidentCurves();
  refreshCrossingMarkers();
  scheduleReplot();
}

void CoefficientPlot::setFilter(int layer, int head, int mask) {
  layer_ = layer;
  head_ = head;
  mask_ = mask;
  rebuildGraphs();
}

void CoefficientPlot::setThreshold(double threshold) {
  threshold_ = threshold;
  refreshTitle();
  thresholdLine_->point1->setCoords(0, threshold);
  thresholdLine_->point2->setCoords(1, threshold);
  recomputeCrossings();
  refreshCrossingMarkers();
  scheduleReplot();
}

void CoefficientPlot::setSmoothing(double weight) {
  smoothing_ = qBound(0.0, weight, 0.999);
  rebuildGraphs();
}

void CoefficientPlot::rebuildGraphs() {
  for (auto& d : drawn_) {
    removeGraph(d.raw);
    removeGraph(d.smooth);
  }
  drawn_.clear();
  const auto curves = filteredCurves();
  for (int i = 0; i < curves.size() && i < kMaxDrawnCurves; ++i) {
    const int c = curves[i];
    Drawn d{c, addGraph(), addGraph()};
    // Colour by mask, so a mask keeps its colour whichever heads are shown.
    QColor color = seriesColor(c % qMax(1, shape_.masks()));
    // Masks often share α (two windows longer than the training length are the same mask):
    // each mask also gets its own dash, later masks thinner, so coinciding curves stay visible.
    const int k = c % qMax(1, shape_.masks());
    static const Qt::PenStyle dashes[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};
    QPen pen(color, qMax(1.0, 2.4 - 0.3 * k), dashes[k % 5]);
    pen.setCapStyle(Qt::FlatCap);
    d.smooth->setPen(pen);
    d.smooth->setName(curveName(c));
    setCsvSeriesName(d.smooth, smoothing_ > 0 ? smoothedSeriesName(curveName(c), smoothing_) : curveName(c));
    color.setAlpha(70);  // the raw curve in its series' colour, light
    d.raw->setPen(QPen(color, 1));
    d.raw->setName(curveName(c));
    d.raw->removeFromLegend();
    d.raw->setVisible(smoothing_ > 0);
    // The smoothed values start from the first raw value (a plain EMA; α starts at its initial value).
    QVector<double> smooth;
    smooth.reserve(pointCount());
    double prev = pointCount() ? values_[c].front() : 0;
    for (double x : values_[c]) smooth.push_back(prev = smoothing_ * prev + (1 - smoothing_) * x);
    d.raw->setData(steps_, values_[c], true);
    d.smooth->setData(steps_, smooth, true);
    drawn_.push_back(d);
  }
  // Keep the markers above the curves and last in the legend.
  markers_->setLayer(QStringLiteral("main"));
  markers_->removeFromLegend();
  markers_->addToLegend();
  legend->setVisible(!drawn_.isEmpty() && drawn_.size() <= 16);
  markCoincidentCurves();
  refreshTitle();
  refreshCrossingMarkers();
  Q_EMIT drawnCurvesChanged(drawn_.size(), curves.size());
  setFollowLatest(true);
  scheduleReplot();
}

QString CoefficientPlot::filterText() const {
  auto part = [](int value, const QString& one, const QString& all) { return value == kAll ? all : one.arg(value); };
  const QString mask = mask_ == kAll ? tr("every mask") : tr("mask %1").arg(shape_.maskNames.value(mask_, QString::number(mask_)));
  return tr("%1, %2, %3").arg(part(layer_, tr("layer %1"), tr("every layer")), part(head_, tr("head %1"), tr("every head")), mask);
}

QJsonObject CoefficientPlot::figureContext() const {
  auto value = [](int v) { return v == kAll ? QJsonValue(QStringLiteral("all")) : QJsonValue(v); };
  return QJsonObject{{QStringLiteral("layer"), value(layer_)},
                     {QStringLiteral("head"), value(head_)},
                     {QStringLiteral("mask"), mask_ == kAll ? QJsonValue(QStringLiteral("all")) : QJsonValue(shape_.maskNames.value(mask_))},
                     {QStringLiteral("smoothing"), smoothing_},
                     {QStringLiteral("pruning_threshold"), threshold_},
                     {QStringLiteral("curves_drawn"), drawnCurveCount()},
                     {QStringLiteral("curves_filtered"), static_cast<int>(filteredCurves().size())}};
}

void CoefficientPlot::markCoincidentCurves() {
  QVector<QCPGraph*> graphs;
  QStringList names;
  for (const auto& d : drawn_) {
    graphs << d.smooth;
    names << curveName(d.curve);
  }
  markCoincidentSeries(graphs, names);
}

void CoefficientPlot::refreshTitle() {
  const QString smoothing = smoothing_ > 0 ? tr("faint: raw; solid: EMA-smoothed, weight %1").arg(QString::number(smoothing_, 'f', 2))
                                           : tr("raw values");
  QString shown;
  if (drawnCurveCount() < filteredCurves().size())
    shown = tr("; %1 of %2 curves drawn").arg(drawnCurveCount()).arg(filteredCurves().size());
  setPlotTitle(this, tr("Mixture coefficients α against step: %1").arg(filterText()),
               tr("%1; dashed: pruning threshold %2, ◆ where a curve crosses it%3").arg(smoothing).arg(threshold_).arg(shown));
}

void CoefficientPlot::appendCrossings(int curve, int fromPoint) {
  const auto& v = values_[curve];
  for (int p = qMax(1, fromPoint); p < v.size(); ++p) {
    const bool before = v[p - 1] >= threshold_, after = v[p] >= threshold_;
    if (before == after) continue;
    // Where the straight segment between the two samples meets the threshold.
    const double t = (threshold_ - v[p - 1]) / (v[p] - v[p - 1]);
    crossings_[curve].push_back({steps_[p - 1] + t * (steps_[p] - steps_[p - 1]), after});
  }
}

void CoefficientPlot::recomputeCrossings() {
  for (int c = 0; c < curveCount(); ++c) {
    crossings_[c].clear();
    appendCrossings(c, 1);
  }
}

void CoefficientPlot::refreshCrossingMarkers() {
  QVector<double> keys, values;
  for (const auto& d : drawn_)
    for (const auto& x : crossings_[d.curve]) {
      keys.push_back(x.step);
      values.push_back(threshold_);
    }
  markers_->setData(keys, values);  // unsorted input: QCustomPlot sorts it
}

void CoefficientPlot::fitToData() {
  StreamingPlot::fitToData();
  QCPRange r = yAxis->range();
  if (threshold_ <= 0 || (threshold_ >= r.lower && threshold_ <= r.upper)) return;
  r.expand(threshold_);
  yAxis->setRange(r);
  if (yAxis->scaleType() == QCPAxis::stLinear) yAxis->scaleRange(1.05, r.center());  // air around the line
}

}  // namespace attnx::ui
