// attnx --soak MINUTES: a long desktop session as a user leaves it running. Distillation on the
// loaded teacher with live curves, while the attention view recomputes its maps every 20 s; each
// minute a line with the resident memory and the GUI event-loop latency of that minute.
#include <QFile>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "ui/attention/attention_view.h"
#include "ui/bridge/training_controller.h"
#include "ui/main_window/event_loop_probe.h"
#include "ui/main_window/guided_tour.h"
#include "ui/main_window/main_window.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

namespace attnx::ui {
namespace {

// Resident set size in MiB (Linux /proc/self/statm: pages).
double residentMiB() {
  QFile f(QStringLiteral("/proc/self/statm"));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  const auto fields = f.readAll().split(' ');
  return fields.size() > 1 ? fields[1].toDouble() * 4096.0 / (1024.0 * 1024.0) : -1;
}

}  // namespace

int runSoak(MainWindow& w, const TourOptions& opts, int minutes) {
  bool loaded = false, ok = false;
  QObject::connect(&w, &MainWindow::modelLoaded, [&](bool success, const QString& error) {
    loaded = true;
    ok = success;
    if (!success) std::fprintf(stderr, "soak: %s\n", qPrintable(error));
  });
  w.openModel(opts.model, true);
  waitUntil([&] { return loaded; }, 120000);
  if (!ok) return 1;

  // First a short run, which the window opens for analysis when it finishes (as a user's would);
  // then the long run, while the attention view keeps recomputing that first run's maps.
  QTemporaryDir tmp;
  auto* form = w.trainingPanel()->form();
  auto* controller = w.trainingController();
  DistillConfig c = form->config();
  if (!opts.data.isEmpty()) c.dataPath = opts.data.toStdString();
  c.seqLen = opts.seqLen;
  c.batchSize = 2;
  c.validateEvery = 0;
  auto train = [&](int64_t steps, const QString& folder) {
    c.steps = steps;
    c.checkpointEvery = steps > 1000 ? 500 : 0;
    form->setConfig(c);
    form->setRunFolder(tmp.filePath(folder));
    QString error;
    if (!w.trainingPanel()->startTraining(&error)) {
      std::fprintf(stderr, "soak: %s\n", qPrintable(error));
      return false;
    }
    return true;
  };
  if (!train(20, QStringLiteral("first-run"))) return 1;
  waitUntil([&] { return !controller->isRunning(); }, 600000);
  if (!train(100000000, QStringLiteral("long-run"))) return 1;  // stopped by the clock

  EventLoopProbe probe;  // the GUI thread's latency
  probe.start();

  // The attention view recomputes teacher and student maps every 20 s.
  AttentionView* attention = w.attentionView();
  int mapsShown = 0, mapsFailed = 0;
  QObject::connect(attention, &AttentionView::mapsShown, [&] { ++mapsShown; });
  QObject::connect(attention, &AttentionView::failed, [&](const QString&) { ++mapsFailed; });
  attention->setPrompt(QStringLiteral("The attention explorer has been running for a while, and the maps keep coming."));
  QTimer maps;
  maps.setInterval(20000);
  QObject::connect(&maps, &QTimer::timeout, [&] { attention->requestMaps(); });
  maps.start();

  const double startMiB = residentMiB();
  std::printf("minute,rss_mib,growth_mib,step,latency_p50_ms,latency_p99_ms,latency_max_ms,maps_shown,maps_failed\n");
  std::printf("0,%.1f,0.0,%lld,0,0,0,0,0\n", startMiB, static_cast<long long>(controller->lastStep()));
  std::fflush(stdout);
  for (int minute = 1; minute <= minutes; ++minute) {
    waitUntil([] { return false; }, 60000);
    const double rss = residentMiB();
    std::printf("%d,%.1f,%.1f,%lld,%.2f,%.2f,%.2f,%d,%d\n", minute, rss, rss - startMiB,
                static_cast<long long>(controller->lastStep()), percentile(probe.lateness(), 50), percentile(probe.lateness(), 99),
                probe.maxMs(), mapsShown, mapsFailed);
    std::fflush(stdout);
    probe.clear();
    if (!controller->isRunning()) {
      std::fprintf(stderr, "soak: training ended early at step %lld\n", static_cast<long long>(controller->lastStep()));
      return 1;
    }
  }
  maps.stop();
  probe.stop();
  controller->stop();
  waitUntil([&] { return !controller->isRunning(); }, 120000);
  return 0;
}

}  // namespace attnx::ui
