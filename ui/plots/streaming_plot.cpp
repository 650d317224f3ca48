#include "ui/plots/streaming_plot.h"

#include <QElapsedTimer>

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
    if (log) {
      axis->setScaleType(QCPAxis::stLogarithmic);
      axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
      axis->setNumberFormat(QStringLiteral("eb"));
      axis->setNumberPrecision(0);
    } else {
      axis->setScaleType(QCPAxis::stLinear);
      axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
      axis->setNumberFormat(QStringLiteral("gb"));
      axis->setNumberPrecision(6);
    }
  }
  fitToData();
  scheduleReplot();
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
  // Antialiased curves cost most of a replot once they hold many points (QPainter's raster engine
  // strokes each segment with coverage); beyond kAntialiasLimit points they are drawn aliased.
  qint64 points = 0;
  for (int i = 0; i < graphCount(); ++i)
    if (graph(i)->visible()) points += graph(i)->data()->size();
  if (points > kAntialiasLimit) setNotAntialiasedElements(QCP::aePlottables);
  else setAntialiasedElements(QCP::aePlottables);
  replot(QCustomPlot::rpImmediateRefresh);
  return t.nsecsElapsed() / 1e6;
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
