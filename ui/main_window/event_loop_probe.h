// How responsive the GUI thread is: a 10 ms timer on it, and how late each tick comes. Shared by
// attnx --bench-latency and attnx --soak.
#pragma once

#include <QElapsedTimer>
#include <QTimer>
#include <algorithm>
#include <vector>

namespace attnx::ui {

// The p-th percentile (0..100) of v, nearest rank; 0 for none.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * double(v.size() - 1) + 0.5))];
}

class EventLoopProbe {
 public:
  static constexpr int kIntervalMs = 10;

  EventLoopProbe() {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(kIntervalMs);
    QObject::connect(&timer_, &QTimer::timeout, [this] {
      const qint64 now = clock_.nsecsElapsed();
      if (last_ > 0) lateness_.push_back(std::max(0.0, (now - last_) / 1e6 - kIntervalMs));
      last_ = now;
    });
  }
  void start() {
    clock_.start();
    last_ = 0;
    timer_.start();
  }
  void stop() { timer_.stop(); }
  // Milliseconds each tick came late since start() or the last clear().
  const std::vector<double>& lateness() const { return lateness_; }
  double maxMs() const { return lateness_.empty() ? 0.0 : *std::max_element(lateness_.begin(), lateness_.end()); }
  void clear() { lateness_.clear(); }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 last_ = 0;
  std::vector<double> lateness_;
};

}  // namespace attnx::ui
