// Live loss curves of a distillation: KL, L1 (λ₁·Σ|α| is in the total; this is Σ|α|), total loss,
// and validation KL. Each training curve is drawn twice: raw and faint, and EMA-smoothed on top.
#pragma once

#include <array>

#include "ui/bridge/training_types.h"
#include "ui/plots/ema_smoother.h"
#include "ui/plots/streaming_plot.h"

namespace attnx::ui {

class LossPlot : public StreamingPlot {
  Q_OBJECT
 public:
  enum Series { Kl, L1, Total, Validation, SeriesCount };

  explicit LossPlot(QWidget* parent = nullptr);

  // Appends the samples (steps must increase) and schedules one replot.
  void addSamples(const TrainingSamples& samples);
  void clear();
  // EMA weight in [0, 1): 0 shows the raw curves only.
  void setSmoothing(double weight);
  double smoothing() const { return smoothing_; }
  void setSeriesVisible(Series s, bool visible);

  QCPGraph* rawGraph(Series s) const { return raw_[s]; }
  // The smoothed curve (Validation: the same graph as rawGraph, it is not smoothed).
  QCPGraph* smoothGraph(Series s) const { return smooth_[s]; }
  int pointCount(Series s) const { return raw_[s]->data()->size(); }

 private:
  void resmooth();
  void markCoincident();
  std::array<QCPGraph*, SeriesCount> raw_{};
  std::array<QCPGraph*, SeriesCount> smooth_{};
  std::array<EmaSmoother, SeriesCount> ema_;
  double smoothing_ = 0.6;
};

}  // namespace attnx::ui
