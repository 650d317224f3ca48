// The second half of the guided tour: once a run has finished, a user compares heatmaps for a
// prompt, reads side-by-side completions, measures memory, runs the benchmark panel and exports
// every figure, all through the views' public API.
#include <QDir>
#include <QFileInfo>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "ui/attention/attention_view.h"
#include "ui/bridge/analysis_session.h"
#include "ui/completions/completions_view.h"
#include "ui/tours/guided_tour.h"
#include "ui/main_window/main_window.h"
#include "ui/main_window/workspaces.h"
#include "ui/memory/bench_panel.h"
#include "ui/memory/memory_view.h"

namespace attnx::ui {
namespace {

const char* kPrompt =
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
    "want of a wife. However little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families";

bool report(bool ok, const char* what) {
  std::fprintf(stderr, "tour: %s%s\n", what, ok ? "" : " — FAILED");
  return ok;
}

// Screenshots of a view as a user sees it: the window in the view's workspace, its dock in front,
// in the default layout (nothing floated or resized for the picture).
void shotInWorkspace(MainWindow& w, QWidget* view, const QString& workspace, const QString& name, const TourShot& shot) {
  w.showView(view, workspace);
  waitUntil([] { return false; }, 300);  // let the layout and the queued replots happen
  shot(&w, name);
}

// The teacher head with the lowest mean row entropy (rows 1..n-1): the most focused attention, so
// the README's picture shows structure rather than whichever head happens to be first.
std::pair<int, int> mostFocusedTeacherHead(const AttentionMapSet& maps) {
  std::pair<int, int> best{0, 0};
  double bestEntropy = std::numeric_limits<double>::infinity();
  for (int l = 0; l < maps.layers; ++l)
    for (int h = 0; h < maps.heads; ++h) {
      const float* P = maps.teacherHead(l, h);
      double entropy = 0;
      for (int i = 1; i < maps.n; ++i)
        for (int j = 0; j <= i; ++j) {
          const double p = P[static_cast<size_t>(i) * maps.n + j];
          if (p > 0) entropy -= p * std::log(p);
        }
      if (entropy < bestEntropy) bestEntropy = entropy, best = {l, h};
    }
  return best;
}

}  // namespace

bool tourAnalysisViews(MainWindow& w, const QDir& out, const TourShot& shot) {
  bool failed = false;
  QString failure;
  // The finished run's teacher and students load on a worker thread.
  if (!report(waitUntil([&] { return !w.isAnalysisLoading(); }, 300000), "load the finished run for analysis"))
    return false;

  AttentionView* attention = w.attentionView();
  QObject::connect(attention, &AttentionView::failed, [&](const QString& m) { failed = true; failure = m; });
  bool shown = false;
  QObject::connect(attention, &AttentionView::mapsShown, [&] { shown = true; });
  attention->setPrompt(QString::fromUtf8(kPrompt));
  attention->requestMaps();
  if (!report(waitUntil([&] { return shown || failed; }, 300000) && !failed, "attention maps for a prompt")) {
    std::fprintf(stderr, "tour: %s\n", qPrintable(failure));
    return false;
  }
  shotInWorkspace(w, attention, QStringLiteral("analyse"), QStringLiteral("07-attention"), shot);
  attention->setMapMode(AttentionMapMode::SideBySide);
  shotInWorkspace(w, attention, QStringLiteral("analyse"), QStringLiteral("07b-attention-side-by-side"), shot);
  attention->setMapMode(AttentionMapMode::Auto);
  const auto [focusLayer, focusHead] = mostFocusedTeacherHead(*attention->maps());
  attention->selectHead(focusLayer, focusHead);
  std::fprintf(stderr, "tour: most focused teacher head: layer %d, head %d\n", focusLayer, focusHead);
  shotInWorkspace(w, attention, QStringLiteral("analyse"), QStringLiteral("07c-attention-focused-head"), shot);

  CompletionsView* completions = w.completionsView();
  bool done = false;
  QObject::connect(completions, &CompletionsView::failed, [&](const QString& m) { failed = true; failure = m; });
  QObject::connect(completions, &CompletionsView::finished, [&](bool) { done = true; });
  completions->setPrompt(QStringLiteral("It is a truth universally acknowledged, that"));
  completions->setSamples(3);
  completions->setMaxNewTokens(32);
  completions->start();
  if (!report(waitUntil([&] { return done || failed; }, 300000) && !failed, "side-by-side completions")) {
    std::fprintf(stderr, "tour: %s\n", qPrintable(failure));
    return false;
  }
  shotInWorkspace(w, completions, QStringLiteral("analyse"), QStringLiteral("08-completions"), shot);

  MemoryView* memory = w.memoryView();
  bool measured = false, benchDone = false, benchOk = false;
  QObject::connect(memory, &MemoryView::measured, [&] { measured = true; });
  memory->measure();
  report(waitUntil([&] { return measured; }, 300000), "memory of a teacher and a student forward");
  BenchPanel* bench = memory->benchPanel();
  QObject::connect(bench, &BenchPanel::finished, [&](bool ok) { benchDone = true; benchOk = ok; });
  bench->setSequenceLengths(QStringLiteral("512,1024,2048"));
  bench->start();
  if (!report(waitUntil([&] { return benchDone; }, 600000) && benchOk, "benchmark panel (attnx-cli bench --attention-only)"))
    std::fprintf(stderr, "tour: %s\n", qPrintable(bench->statusText()));
  shotInWorkspace(w, memory, QStringLiteral("analyse"), QStringLiteral("09-memory"), shot);

  const QString figures = out.filePath(QStringLiteral("figures"));
  QDir(figures).removeRecursively();
  const QString problem = w.exportAllFigures(figures);
  if (!problem.isEmpty()) std::fprintf(stderr, "tour: %s\n", qPrintable(problem));
  return report(problem.isEmpty(), "export all figures") && benchOk;
}

}  // namespace attnx::ui
