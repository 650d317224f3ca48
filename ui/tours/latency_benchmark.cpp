// attnx --bench-latency: how responsive the GUI thread stays while training runs, and what a
// replot of 100k points per curve costs.
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "ui/bridge/training_controller.h"
#include "ui/main_window/event_loop_probe.h"
#include "ui/tours/guided_tour.h"
#include "ui/main_window/main_window.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/loss_plot.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

namespace attnx::ui {
namespace {

TrainingSamples syntheticSamples(int count, int alphaCount) {
  TrainingSamples samples;
  samples.reserve(count);
  for (int i = 0; i < count; ++i) {
    TrainingSample s;
    s.step = i + 1;
    s.kl = 1.0 / (1 + i * 1e-3) + 0.05 * ((i * 7919) % 13) / 13.0;
    s.l1 = 2.0 * std::exp(-i * 1e-5);
    s.loss = s.kl + 0.01 * s.l1;
    s.validationKl = i % 1000 == 0 ? s.kl : -1;
    s.alpha.resize(alphaCount);
    for (int a = 0; a < alphaCount; ++a) s.alpha[a] = float(0.5 * std::exp(-i * (a + 1) * 1e-6) + 0.01 * ((i + a) % 7));
    samples.push_back(std::move(s));
  }
  return samples;
}

// Median of five replots after a first one (which builds caches).
double medianReplotMs(StreamingPlot& plot) {
  plot.replotNow();
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) t.push_back(plot.replotNow());
  return percentile(t, 50);
}

}  // namespace

static int measureTrainingLatency(MainWindow& w, const TourOptions& opts, const QTemporaryDir& tmp);
static int measureReplots();

int runLatencyBenchmark(MainWindow& w, const TourOptions& o) {
  QTemporaryDir tmp;
  TourOptions opts = o;
  if (opts.steps > 0 && measureTrainingLatency(w, opts, tmp) != 0) return 1;
  return measureReplots();
}

static int measureTrainingLatency(MainWindow& w, const TourOptions& opts, const QTemporaryDir& tmp) {
  EventLoopProbe probe;
  QElapsedTimer clock;

  if (!loadTourModel(w, opts.model, "bench")) return 1;

  auto* form = w.trainingPanel()->form();
  DistillConfig c = form->config();
  if (!opts.data.isEmpty()) c.dataPath = opts.data.toStdString();
  c.validationPath = opts.validation.toStdString();
  c.steps = opts.steps;
  c.seqLen = opts.seqLen;
  c.batchSize = 4;
  c.validateEvery = 0;
  c.checkpointEvery = 0;
  form->setConfig(c);
  form->setRunFolder(tmp.filePath(QStringLiteral("run")));
  auto* controller = w.trainingController();
  qint64 batches = 0;
  QObject::connect(controller, &TrainingController::metrics, [&](const TrainingSamples&) { ++batches; });
  QString error;
  clock.start();
  probe.start();
  if (!w.trainingPanel()->startTraining(&error)) {
    std::fprintf(stderr, "bench: %s\n", qPrintable(error));
    return 1;
  }
  waitUntil([&] { return !controller->isRunning(); }, 3600 * 1000);
  probe.stop();
  const double seconds = clock.elapsed() / 1000.0;
  std::printf("event-loop latency while training %lld steps (%.1f s, %zu probes of %d ms, %lld metric batches = %.1f/s):\n"
              "  p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
              static_cast<long long>(controller->lastStep()), seconds, probe.lateness().size(), EventLoopProbe::kIntervalMs,
              static_cast<long long>(batches), batches / std::max(1e-9, seconds), percentile(probe.lateness(), 50),
              percentile(probe.lateness(), 99), probe.maxMs());
  return 0;
}

static int measureReplots() {
  // Replot cost at 100k points per curve, in plots of the window's size class.
  constexpr int kPoints = 100000;
  LossPlot loss;
  loss.resize(900, 500);
  loss.show();
  loss.addSamples(syntheticSamples(kPoints, 0));
  std::printf("LossPlot, 4 curves (raw + smoothed) x %d points: replot %.1f ms\n", kPoints, medianReplotMs(loss));
  CoefficientPlot coeffs;
  coeffs.resize(900, 500);
  coeffs.show();
  TrainingShape shape;
  shape.layers = 1;
  shape.heads = 2;
  shape.maskNames = {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("d"),
                     QStringLiteral("e"), QStringLiteral("f"), QStringLiteral("g"), QStringLiteral("h")};
  coeffs.setShape(shape);
  coeffs.addSamples(syntheticSamples(kPoints, shape.alphaCount()));
  std::printf("CoefficientPlot, %d curves (raw + smoothed) x %d points: replot %.1f ms\n", coeffs.drawnCurveCount(), kPoints,
              medianReplotMs(coeffs));
  std::fflush(stdout);
  return 0;
}

}  // namespace attnx::ui
