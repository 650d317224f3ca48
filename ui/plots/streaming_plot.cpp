#include "ui/plots/streaming_plot.h"

#include <QElapsedTimer>

#include "ui/plots/log_ticker.h"

namespace attnx::ui {

StreamingPlot::StreamingPlot(QWidget* parent) : QCustomPlot(parent) {
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectLegend);
  setNoAntialiasingOnDrag(true);
  setMinimumSize(320, 220);
  replotTimer_.setSingleShot(true);
  replotTimer_.setInterval(kReplotDelayMs);
  connect(&replotTimer_, &QTimer::timeout, this, [this] { replotNow(); });
  setToolTip(tr("Drag to pan, wheel to zoom (the view then stays put while data arrives); "
                "double-click to follow the newest data again"));
}

void StreamingPlot::setLogScale(bool log) {
  logScale_ = log;
  for (QCPAxis* axis : {yAxis, yAxis2}) {
    if (log) setLogAxis(axis);
    else setLinearAxis(axis);
  }
  fitToData();
  scheduleReplot();
}

QString StreamingPlot::smoothedSeriesName(const QString& series, double weight) {
  return tr("%1, smoothed (EMA %2)").arg(series, QString::number(weight, 'f', 2));
}

void StreamingPlot::setFollowLatest(bool follow) {
  follow_ = follow;
  if (follow) scheduleReplot();
}

void StreamingPlot::scheduleReplot() {
  if (!replotTimer_.isActive()) replotTimer_.start();
}

double StreamingPlot::replotNow() {
  replotTimer_.stop();
  QElapsedTimer t;
  t.start();
  if (follow_) fitToData();
  qint64 points = 0;
  for (int i = 0; i < graphCount(); ++i)
    if (graph(i)->visible()) points += graph(i)->data()->size();
  setDenseDrawing(points > kAntialiasLimit);
  replot(QCustomPlot::rpImmediateRefresh);
  return t.nsecsElapsed() / 1e6;
}

void StreamingPlot::setDenseDrawing(bool dense) {
  // Past kAntialiasLimit points a noisy curve becomes, after QCustomPlot's adaptive sampling, a
  // zig-zag of min/max segments in every pixel column, and QPainter's raster engine strokes wide
  // or antialiased zig-zags slowly: 16 coefficient curves of 100k points took 1.2 s antialiased at
  // 1.6 px, 0.4 s aliased at 1.6 px, 40 ms aliased at 1 px. So dense plots draw aliased 1-px lines;
  // each graph's own width is kept in a property and comes back when the plot is sparse again.
  static const char* kFullWidth = "attnxFullPenWidth";
  if (dense) setNotAntialiasedElements(QCP::aePlottables);
  else setAntialiasedElements(QCP::aePlottables);
  for (int i = 0; i < graphCount(); ++i) {
    QCPGraph* g = graph(i);
    QPen pen = g->pen();
    if (dense && pen.widthF() > 1) {
      g->setProperty(kFullWidth, pen.widthF());
      pen.setWidthF(1);
      g->setPen(pen);
    } else if (!dense && g->property(kFullWidth).isValid()) {
      pen.setWidthF(g->property(kFullWidth).toDouble());
      g->setProperty(kFullWidth, QVariant());
      g->setPen(pen);
    }
  }
}

void StreamingPlot::fitToData() {
  bool any = false;
  for (int i = 0; i < graphCount(); ++i) any |= graph(i)->visible() && !graph(i)->data()->isEmpty();
  if (!any) return;
  rescaleAxes(/*onlyVisiblePlottables=*/true);
  // A little air above and below so curves do not sit on the frame.
  if (!logScale_)
    for (QCPAxis* axis : {yAxis, yAxis2})
      if (axis->visible()) axis->scaleRange(1.08, axis->range().center());
}

void StreamingPlot::mousePressEvent(QMouseEvent* event) {
  follow_ = false;  // the user takes the view: stop jumping to the newest data
  QCustomPlot::mousePressEvent(event);
}

void StreamingPlot::wheelEvent(QWheelEvent* event) {
  follow_ = false;
  QCustomPlot::wheelEvent(event);
}

void StreamingPlot::mouseDoubleClickEvent(QMouseEvent* event) {
  QCustomPlot::mouseDoubleClickEvent(event);
  follow_ = true;
  replotNow();
}

}  // namespace attnx::ui
