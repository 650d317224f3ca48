// Scripted sessions of the real app, for the screenshot script and the latency benchmark: they
// perform a user's steps through the same public API the menus use.
#pragma once

#include <QString>
#include <functional>

class QDir;
class QWidget;

namespace attnx::ui {

class MainWindow;

struct TourOptions {
  QString outDir;     // screenshots, bank and run folders go here
  QString model;      // "" = the default model
  QString data;       // training text ("" = a Gutenberg book of the fetched data)
  QString validation; // held-out text ("" = a book of data/corpus/test)
  int steps = 60;
  int seqLen = 64;
};

// load model → build a bank by hand → start → pause → resume → stop → save the run → reopen it →
// resume to the end; a PNG of the window after each step and of every panel at the end.
// Returns 0 on success, else prints what failed and returns 1.
int runGuidedTour(MainWindow& window, const TourOptions& options);

// Trains `steps` steps while a 10 ms QTimer probe on the GUI thread measures how late it fires;
// prints p50 / p99 / max event-loop latency, then the replot time of the plots at 100k points per
// curve. Returns 0 on success.
int runLatencyBenchmark(MainWindow& window, const TourOptions& options);

// Distils on the loaded teacher for `minutes` while the attention view recomputes its maps every
// 20 s; prints a CSV line per minute (resident memory, its growth, the step, GUI event-loop latency
// p50/p99/max of that minute). Returns 0 when the run lasted, 1 otherwise (scripts/soak.sh).
int runSoak(MainWindow& window, const TourOptions& options, int minutes);

// Saves a PNG of a widget under a name (the tour's screenshot helper).
using TourShot = std::function<void(QWidget*, const QString&)>;
// The tour's second half, after a finished run: attention heatmaps, completions, memory and the
// benchmark panel, then every figure exported into out/figures. Returns false on a failure.
bool tourAnalysisViews(MainWindow& window, const QDir& out, const TourShot& shot);

// Waits (running the event loop) until `done` or `timeoutMs`; returns done().
bool waitUntil(const std::function<bool()>& done, int timeoutMs);

// Opens a model in the window and waits for it (2 minutes at most); a failure is printed on
// stderr after "<who>: model: ". Returns whether it loaded.
bool loadTourModel(MainWindow& window, const QString& model, const char* who);

}  // namespace attnx::ui
