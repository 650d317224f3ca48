// attnx --soak MINUTES: a long desktop session as a user leaves it running. Distillation on the
// loaded teacher with live curves, while the attention view recomputes its maps every 20 s; each
// minute a CSV line with the resident memory (last, lowest and highest reading of the minute), what
// malloc holds, and the GUI event-loop latency of that minute.
#include <QTemporaryDir>
#include <QTimer>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/bench/memory_probe.h"
#include "ui/attention/attention_view.h"
#include "ui/bridge/training_controller.h"
#include "ui/main_window/event_loop_probe.h"
#include "ui/tours/guided_tour.h"
#include "ui/main_window/main_window.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

namespace attnx::ui {
namespace {

double residentMiB() { return static_cast<double>(residentMemory().currentBytes) / (1024.0 * 1024.0); }

// What malloc holds (glibc mallinfo2, all arenas): bytes in use by the program, and bytes freed but
// kept by the allocator. Beside the resident size they tell a leak (in use grows) from memory the
// allocator keeps for reuse (held grows).
struct HeapMiB {
  double inUse = 0, heldFree = 0;
};
HeapMiB heapMiB() {
  const struct mallinfo2 m = mallinfo2();
  constexpr double MiB = 1024.0 * 1024.0;
  return {static_cast<double>(m.uordblks + m.hblkhd) / MiB, static_cast<double>(m.fordblks) / MiB};
}

}  // namespace

int runSoak(MainWindow& w, const TourOptions& opts, int minutes) {
  if (!loadTourModel(w, opts.model, "soak")) return 1;

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

  // Resident memory rises within each training step and falls back when malloc hands pages back,
  // so one reading a minute would mostly measure where in a step it fell: sample every second and
  // report each minute's lowest and highest reading beside the last one.
  double rssMin = residentMiB(), rssMax = rssMin;
  QTimer rssSampler;
  rssSampler.setInterval(1000);
  QObject::connect(&rssSampler, &QTimer::timeout, [&] {
    const double rss = residentMiB();
    rssMin = std::min(rssMin, rss);
    rssMax = std::max(rssMax, rss);
  });
  rssSampler.start();

  const HeapMiB startHeap = heapMiB();
  std::printf("minute,step,rss_mib,rss_min_mib,rss_max_mib,heap_in_use_mib,heap_held_free_mib,"
              "latency_p50_ms,latency_p99_ms,latency_max_ms,maps_shown,maps_failed\n");
  std::printf("0,%lld,%.1f,%.1f,%.1f,%.1f,%.1f,0,0,0,0,0\n", static_cast<long long>(controller->lastStep()), rssMin,
              rssMin, rssMax, startHeap.inUse, startHeap.heldFree);
  std::fflush(stdout);
  for (int minute = 1; minute <= minutes; ++minute) {
    waitUntil([] { return false; }, 60000);
    const double rss = residentMiB();
    const HeapMiB heap = heapMiB();
    std::printf("%d,%lld,%.1f,%.1f,%.1f,%.1f,%.1f,%.2f,%.2f,%.2f,%d,%d\n", minute,
                static_cast<long long>(controller->lastStep()), rss, std::min(rssMin, rss), std::max(rssMax, rss),
                heap.inUse, heap.heldFree, percentile(probe.lateness(), 50), percentile(probe.lateness(), 99),
                probe.maxMs(), mapsShown, mapsFailed);
    std::fflush(stdout);
    rssMin = rssMax = rss;
    probe.clear();
    if (!controller->isRunning()) {
      std::fprintf(stderr, "soak: training ended early at step %lld\n", static_cast<long long>(controller->lastStep()));
      return 1;
    }
  }
  maps.stop();
  rssSampler.stop();
  probe.stop();
  controller->stop();
  waitUntil([&] { return !controller->isRunning(); }, 120000);
  return 0;
}

}  // namespace attnx::ui
