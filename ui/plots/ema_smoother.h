// Exponential moving average as TensorBoard draws it: s_t = w·s_{t-1} + (1 − w)·x_t, divided by
// (1 − w^t) so the first points are not pulled towards 0. w = 0 returns the raw values.
#pragma once

#include <QVector>
#include <cmath>

namespace attnx::ui {

class EmaSmoother {
 public:
  EmaSmoother() = default;
  explicit EmaSmoother(double weight) : weight_(weight) {}
  double weight() const { return weight_; }
  void reset() { acc_ = 0; count_ = 0; }
  // The smoothed value after taking x. Non-finite x are passed through and do not enter the state.
  double add(double x) {
    if (!std::isfinite(x)) return x;
    ++count_;
    acc_ = weight_ * acc_ + (1.0 - weight_) * x;
    const double debias = 1.0 - std::pow(weight_, count_);
    return debias > 0 ? acc_ / debias : x;
  }
  static QVector<double> smooth(const QVector<double>& xs, double weight) {
    EmaSmoother s(weight);
    QVector<double> out;
    out.reserve(xs.size());
    for (double x : xs) out.push_back(s.add(x));
    return out;
  }

 private:
  double weight_ = 0.0;
  double acc_ = 0;
  int count_ = 0;
};

}  // namespace attnx::ui
