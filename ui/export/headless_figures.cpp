#include "ui/export/headless_figures.h"

#include <QApplication>
#include <QFile>
#include <QJsonObject>
#include <memory>
#include <stdexcept>

#include "ui/attention/attention_view.h"
#include "ui/bridge/analysis_session.h"
#include "ui/export/figure_exporter.h"
#include "ui/export/figure_registry.h"
#include "ui/memory/bench_panel.h"
#include "ui/memory/memory_view.h"
#include "ui/plots/coefficient_grid.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/loss_plot.h"
#include "ui/plots/qcp.h"
#include "ui/training/run_reader.h"

namespace attnx::ui {

const char* defaultFiguresPrompt() {
  return "The old man walked slowly down to the harbour, where the fishing boats were coming in with the evening tide.";
}

std::vector<std::string> writeFiguresHeadless(const FiguresJob& job) {
  std::unique_ptr<QApplication> ownApp;
  if (!QCoreApplication::instance()) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
        qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY"))
      qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "attnx-cli";
    static char* argv[] = {name, nullptr};
    ownApp = std::make_unique<QApplication>(argc, argv);
  }
  auto session = std::make_shared<AnalysisSession>();
  const QString problem =
      session->loadRun(QString::fromStdString(job.runDir), QString::fromStdString(job.teacher), nullptr, job.pruneRule);
  if (!problem.isEmpty()) throw std::runtime_error(problem.toStdString());
  const auto summary = session->summary();
  if (job.layer < 0 || job.layer >= summary.layers || job.head < 0 || job.head >= summary.heads)
    throw std::runtime_error("layer " + std::to_string(job.layer) + ", head " + std::to_string(job.head) +
                             " does not exist (the model has " + std::to_string(summary.layers) + " layers of " +
                             std::to_string(summary.heads) + " heads)");
  const QString prompt = QString::fromStdString(job.prompt.empty() ? std::string(defaultFiguresPrompt()) : job.prompt);

  // The training figures from metrics.csv, as the desktop shows a reopened run: every sample into the
  // curves, the last coefficients into the grid; the coefficients of the chosen layer and head.
  const RunRecord run = readRunFolder(QString::fromStdString(job.runDir));  // throws with the file and line
  LossPlot loss;
  loss.resize(1200, 800);
  loss.addSamples(run.samples);
  loss.replotNow();
  CoefficientPlot coefficients;
  coefficients.resize(1200, 800);
  coefficients.setShape(run.shape);
  coefficients.addSamples(run.samples);
  if (job.layer < run.shape.layers && job.head < run.shape.heads) coefficients.setFilter(job.layer, job.head, CoefficientPlot::kAll);
  coefficients.replotNow();
  CoefficientGrid grid;
  grid.resize(1200, 800);
  grid.setShape(run.shape);
  if (!run.samples.isEmpty()) grid.setAlpha(run.samples.back().alpha);
  grid.replot();

  AttentionView attention;
  attention.resize(1600, 900);
  attention.setSession(session);
  const StudentKind kind = job.pruned ? StudentKind::Pruned : StudentKind::Soft;
  const auto data = AttentionView::prepare(*session, prompt, kind, nullptr);  // throws for an empty prompt
  attention.showData(data);
  attention.selectHead(job.layer, job.head);

  MemoryView memory;
  memory.resize(1400, 900);
  memory.setSession(session);
  if (!job.benchJson.empty()) {
    QFile f(QString::fromStdString(job.benchJson));
    if (!f.open(QIODevice::ReadOnly)) throw std::runtime_error(job.benchJson + ": cannot open");
    memory.benchPanel()->showReport(parseBenchReport(f.readAll()));
  }

  FigureRegistry registry;
  // The ids and titles of the desktop's main window, in its order.
  registry.add(QStringLiteral("loss-curves"), QObject::tr("Loss curves"),
               QObject::tr("Distillation losses (KL, L1, total, validation KL) against step"), &loss);
  registry.add(QStringLiteral("coefficients"), QObject::tr("Coefficients"),
               QObject::tr("Mask coefficients α against step, as filtered in the view"), &coefficients,
               [&coefficients] { return coefficients.figureContext(); });
  registry.add(QStringLiteral("coefficient-grid"), QObject::tr("Coefficient grid"),
               QObject::tr("Current α of every layer, head and mask"), &grid,
               [&run] { return QJsonObject{{QStringLiteral("step"), run.samples.isEmpty() ? 0 : static_cast<double>(run.samples.back().step)}}; });
  attention.registerFigures(registry);
  if (job.benchJson.empty()) {
    // Without benchmark results the benchmark figures would be empty axes: only the analytic cost.
    registry.add(QStringLiteral("analytic-cost"), QObject::tr("Analytic attention FLOPs"),
                 QObject::tr("Attention FLOPs against n: dense, soft and pruned student"), memory.costPlot());
  } else {
    memory.registerFigures(registry);
  }
  ExportOptions options;
  options.pixels = QSize(job.width, job.height);
  options.dpi = job.dpi;
  const QJsonObject context{{QStringLiteral("run"), summary.runDir},
                            {QStringLiteral("teacher"), summary.teacherDir},
                            {QStringLiteral("prompt"), prompt},
                            {QStringLiteral("tokens"), data.maps->n},
                            {QStringLiteral("student"), job.pruned ? summary.prunedDescription : QStringLiteral("soft")},
                            {QStringLiteral("layer"), job.layer},
                            {QStringLiteral("head"), job.head},
                            {QStringLiteral("made_by"), QStringLiteral("attnx-cli figures")}};
  QStringList written;
  const QString error = exportAllFigures(registry, QString::fromStdString(job.outDir), options, context, &written);
  if (!error.isEmpty()) throw std::runtime_error(error.toStdString());
  std::vector<std::string> files;
  for (const auto& w : written) files.push_back(w.toStdString());
  return files;
}

}  // namespace attnx::ui
