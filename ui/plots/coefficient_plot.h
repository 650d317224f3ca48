// Live curves of the mixture coefficients α_{l,h,k}: every (layer, head, mask) is kept, the
// filters choose which are drawn (a legend names them), EMA smoothing over a faint raw curve, a
// dashed line at the pruning threshold and a marker wherever a curve crosses it.
#pragma once

#include <QJsonObject>
#include <QVector>

#include "ui/bridge/training_types.h"
#include "ui/plots/streaming_plot.h"

namespace attnx::ui {

class CoefficientPlot : public StreamingPlot {
  Q_OBJECT
 public:
  // More curves than this are not drawn at once (the legend would be unreadable); narrow the filter.
  static constexpr int kMaxDrawnCurves = 48;
  static constexpr int kAll = -1;

  struct Crossing {
    double step;  // interpolated between the two steps around the crossing
    bool upward;  // from below the threshold to at/above it
  };

  explicit CoefficientPlot(QWidget* parent = nullptr);

  // Forgets all data and prepares one curve per (layer, head, mask).
  void setShape(const TrainingShape& shape);
  const TrainingShape& shape() const { return shape_; }
  void addSamples(const TrainingSamples& samples);
  void clear();

  // kAll for every layer / head / mask.
  void setFilter(int layer, int head, int mask);
  void setThreshold(double threshold);
  double threshold() const { return threshold_; }
  void setSmoothing(double weight);
  double smoothing() const { return smoothing_; }

  int curveCount() const { return static_cast<int>(values_.size()); }
  int pointCount() const { return static_cast<int>(steps_.size()); }
  double value(int curve, int point) const { return values_[curve][point]; }
  // Curves passing the filter (all of them, even when more than kMaxDrawnCurves).
  QVector<int> filteredCurves() const;
  int drawnCurveCount() const { return static_cast<int>(drawn_.size()); }
  const QVector<Crossing>& crossings(int curve) const { return crossings_[curve]; }
  QString curveName(int curve) const;
  // "layer 1, head 1, every mask": what the filter shows (also in the drawn title).
  QString filterText() const;
  // The figure's context for index.json: layer, head, mask ("all" or the one shown), smoothing, threshold.
  QJsonObject figureContext() const;

 Q_SIGNALS:
  void drawnCurvesChanged(int drawn, int filtered);

 protected:
  // The data's range widened to hold the pruning threshold: its line is what the curves are read
  // against, and α often stays well above it.
  void fitToData() override;

 private:
  void rebuildGraphs();
  void recomputeCrossings();
  void appendCrossings(int curve, int fromPoint);
  void refreshCrossingMarkers();
  void refreshTitle();
  void markCoincidentCurves();

  TrainingShape shape_;
  QVector<double> steps_;
  QVector<QVector<double>> values_;  // [curve][point]
  QVector<QVector<Crossing>> crossings_;
  struct Drawn {
    int curve;
    QCPGraph* raw;
    QCPGraph* smooth;
  };
  QVector<Drawn> drawn_;
  QCPGraph* markers_ = nullptr;
  QCPItemStraightLine* thresholdLine_ = nullptr;
  int layer_ = kAll, head_ = kAll, mask_ = kAll;
  double threshold_ = 0.05;
  double smoothing_ = 0.6;
};

}  // namespace attnx::ui
