// attnx-views-demo: a development window holding the analysis views alone (Attention, Completions,
// Memory & speed) with the export actions, until the main window docks them. --screenshot DIR
// drives every view once (maps, completions, memory, optional benchmark JSON), saves each view as
// PNG, exports all figures to DIR/figures and quits: the screenshot script and reviews use it.
#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QJsonObject>
#include <QMainWindow>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>
#include <functional>
#include <memory>

#include "ui/attention/attention_view.h"
#include "ui/bridge/analysis_session.h"
#include "ui/completions/completions_view.h"
#include "ui/completions/token_text_view.h"
#include "ui/export/figure_exporter.h"
#include "ui/export/figure_menu.h"
#include "ui/export/figure_registry.h"
#include "ui/export/headless_figures.h"
#include "ui/memory/bench_panel.h"
#include "ui/memory/memory_view.h"
#include "ui/plot/qcustomplot.h"

using namespace attnx::ui;

namespace {

struct DemoWindow : QMainWindow {
  std::shared_ptr<AnalysisSession> session = std::make_shared<AnalysisSession>();
  QTabWidget* tabs = new QTabWidget(this);
  AttentionView* attention = new AttentionView(this);
  CompletionsView* completions = new CompletionsView(this);
  MemoryView* memory = new MemoryView(this);
  FigureRegistry registry;

  DemoWindow() {
    setWindowTitle(QStringLiteral("attnx views (development window)"));
    tabs->addTab(attention, tr("Attention"));
    tabs->addTab(completions, tr("Completions"));
    tabs->addTab(memory, tr("Memory && speed"));
    setCentralWidget(tabs);
    attention->registerFigures(registry);
    memory->registerFigures(registry);
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* open = file->addAction(tr("Open run\u2026"), this, [this] {
      const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder made by attnx-cli distill"));
      if (!dir.isEmpty()) loadRun(dir, {});
    });
    open->setShortcut(QKeySequence::Open);
    addFigureMenus(file, &registry, this, hooks());
    file->addAction(tr("Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);
    resize(1500, 900);
  }

  bool loadRun(const QString& run, const QString& teacher) {
    statusBar()->showMessage(tr("Loading %1\u2026").arg(run));
    auto s = std::make_shared<AnalysisSession>();
    const QString problem = s->loadRun(run, teacher);
    if (!problem.isEmpty()) {
      statusBar()->showMessage(problem);
      return false;
    }
    session = s;
    attention->setSession(session);
    completions->setSession(session);
    memory->setSession(session);
    statusBar()->showMessage(tr("Run %1 loaded").arg(run));
    return true;
  }

  FigureMenuHooks hooks() {
    FigureMenuHooks h;
    h.context = [this] {
      return QJsonObject{{QStringLiteral("run"), session->isLoaded() ? session->summary().runDir : QString()},
                         {QStringLiteral("made_by"), QStringLiteral("attnx-views-demo")}};
    };
    h.showMessage = [this](const QString& text) { statusBar()->showMessage(text, 5000); };
    return h;
  }

  QString exportTo(const QString& dir) { return exportAllFiguresTo(registry, dir, hooks()); }
};

// Waits (spinning the event loop) until `done` or the deadline.
bool waitFor(const std::function<bool()>& done, int ms) {
  QElapsedTimer t;
  t.start();
  while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 50);
  return done();
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("attnx-views-demo"));
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("attnx analysis views, development window"));
  parser.addHelpOption();
  QCommandLineOption runOpt(QStringLiteral("run"), QStringLiteral("Run folder made by attnx-cli distill"), QStringLiteral("DIR"));
  QCommandLineOption teacherOpt(QStringLiteral("teacher"), QStringLiteral("Teacher folder (default: the run's)"), QStringLiteral("DIR"));
  QCommandLineOption promptOpt(QStringLiteral("prompt"), QStringLiteral("Prompt for the views"), QStringLiteral("TEXT"));
  QCommandLineOption benchOpt(QStringLiteral("bench-json"), QStringLiteral("Show this bench --attention-only --json output"), QStringLiteral("FILE"));
  QCommandLineOption cliOpt(QStringLiteral("cli"), QStringLiteral("attnx-cli for the benchmark panel"), QStringLiteral("PATH"));
  QCommandLineOption layerOpt(QStringLiteral("layer"), QStringLiteral("Layer to show"), QStringLiteral("L"), QStringLiteral("0"));
  QCommandLineOption headOpt(QStringLiteral("head"), QStringLiteral("Head to show"), QStringLiteral("H"), QStringLiteral("0"));
  QCommandLineOption logOpt(QStringLiteral("log"), QStringLiteral("Log colour scale"));
  QCommandLineOption shotOpt(QStringLiteral("screenshot"), QStringLiteral("Drive every view, save PNGs and figures to DIR, quit"),
                             QStringLiteral("DIR"));
  parser.addOptions({runOpt, teacherOpt, promptOpt, benchOpt, cliOpt, layerOpt, headOpt, logOpt, shotOpt});
  parser.process(app);

  DemoWindow w;
  if (parser.isSet(cliOpt)) w.memory->benchPanel()->setProgram(parser.value(cliOpt));
  const QString prompt = parser.isSet(promptOpt) ? parser.value(promptOpt) : QString::fromUtf8(defaultFiguresPrompt());
  w.attention->setPrompt(prompt);
  w.completions->setPrompt(prompt);
  if (parser.isSet(logOpt)) w.attention->setLogScale(true);
  if (parser.isSet(benchOpt)) {
    QFile f(parser.value(benchOpt));
    if (f.open(QIODevice::ReadOnly)) {
      try {
        w.memory->benchPanel()->showReport(parseBenchReport(f.readAll()));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "attnx-views-demo: %s: %s\n", qPrintable(parser.value(benchOpt)), e.what());
      }
    }
  }
  w.show();
  if (parser.isSet(runOpt) && !w.loadRun(parser.value(runOpt), parser.value(teacherOpt))) {
    std::fprintf(stderr, "attnx-views-demo: %s\n", qPrintable(w.statusBar()->currentMessage()));
    if (parser.isSet(shotOpt)) return 1;
  }
  if (!parser.isSet(shotOpt)) {
    if (w.session->isLoaded()) w.attention->requestMaps();
    return QApplication::exec();
  }

  // Screenshot mode: every view driven once, then saved.
  const QDir out(parser.value(shotOpt));
  QDir().mkpath(out.path());
  bool shown = false;
  QObject::connect(w.attention, &AttentionView::mapsShown, [&] { shown = true; });
  w.attention->requestMaps();
  if (!waitFor([&] { return shown; }, 120000)) std::fprintf(stderr, "attnx-views-demo: maps not ready: %s\n", qPrintable(w.attention->statusText()));
  w.attention->selectHead(parser.value(layerOpt).toInt(), parser.value(headOpt).toInt());
  std::fprintf(stderr, "attnx-views-demo: heatmap display %.1f ms for %d tokens\n", w.attention->lastDisplayMilliseconds(),
               w.attention->maps() ? w.attention->maps()->n : 0);
  bool generated = false;
  QObject::connect(w.completions, &CompletionsView::finished, [&] { generated = true; });
  QObject::connect(w.completions, &CompletionsView::failed, [&] { generated = true; });
  w.completions->setSamples(3);
  w.completions->setMaxNewTokens(24);
  w.completions->start();
  waitFor([&] { return generated; }, 300000);
  bool measured = false;
  QObject::connect(w.memory, &MemoryView::measured, [&] { measured = true; });
  w.memory->measure();
  waitFor([&] { return measured; }, 120000);
  const char* names[] = {"view-attention.png", "view-completions.png", "view-memory.png"};
  int failures = 0;
  for (int i = 0; i < 3; ++i) {
    w.tabs->setCurrentIndex(i);
    waitFor([] { return false; }, 300);  // let layouts and queued replots settle
    if (!w.grab().save(out.filePath(QLatin1String(names[i])), "PNG")) ++failures;
  }
  // A hover tooltip cannot be grabbed offscreen; the completions tooltip text goes to a file instead.
  if (w.completions->sampleCount() > 0) {
    QFile tip(out.filePath(QStringLiteral("completions-tooltip.html")));
    if (tip.open(QIODevice::WriteOnly)) tip.write(w.completions->studentText(0)->tokenToolTip(0).toUtf8());
  }
  if (!w.exportTo(out.filePath(QStringLiteral("figures"))).isEmpty()) ++failures;
  return failures == 0 ? 0 : 1;
}
