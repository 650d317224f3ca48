// Base of the live plots: a QCustomPlot that follows the newest data until the user drags or
// zooms (then the view stays where the user put it while data streams in; double-click to follow
// again), a log-axis toggle, and replots coalesced by a single-shot timer (PlotJuggler's habit),
// so a burst of metrics costs one replot.
#pragma once

#include "ui/plots/qcp.h"

namespace attnx::ui {

class StreamingPlot : public QCustomPlot {
  Q_OBJECT
 public:
  static constexpr int kReplotDelayMs = 40;
  static constexpr qint64 kAntialiasLimit = 50000;  // visible points, over all curves

  explicit StreamingPlot(QWidget* parent = nullptr);

  void setLogScale(bool log);
  bool logScale() const { return logScale_; }
  bool followsLatest() const { return follow_; }
  void setFollowLatest(bool follow);
  // Asks for a replot within kReplotDelayMs; many calls make one replot.
  void scheduleReplot();
  bool replotPending() const { return replotTimer_.isActive(); }
  // Rescales (when following) and replots now; returns the time it took in milliseconds.
  double replotNow();

  // The CSV name of a smoothed twin of `series`: "<series>, smoothed (EMA 0.60)"; the raw curve
  // carries the legend's name itself.
  static QString smoothedSeriesName(const QString& series, double weight);

 protected:
  // Fits the axes to the data; subclasses may narrow it (e.g. to visible curves).
  virtual void fitToData();
  void mousePressEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;

 private:
  // Aliased 1-px lines for plots with more than kAntialiasLimit visible points (see the .cpp).
  void setDenseDrawing(bool dense);

  QTimer replotTimer_;
  bool follow_ = true;
  bool logScale_ = false;
};

}  // namespace attnx::ui
