#include "ui/tours/guided_tour.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QGuiApplication>
#include <QMessageBox>
#include <QPixmap>
#include <QScreen>
#include <QTimer>
#include <cstdio>

#include "ui/bank_editor/bank_editor_panel.h"
#include "ui/bank_editor/mask_bank_model.h"
#include "ui/bank_editor/mask_spec_editor.h"
#include "ui/bridge/training_controller.h"
#include "ui/main_window/main_window.h"
#include "ui/main_window/workspaces.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

namespace attnx::ui {

bool waitUntil(const std::function<bool()>& done, int timeoutMs) {
  QElapsedTimer t;
  t.start();
  while (!done() && t.elapsed() < timeoutMs) {
    QEventLoop loop;
    QTimer::singleShot(20, &loop, &QEventLoop::quit);
    loop.exec();
  }
  return done();
}

bool loadTourModel(MainWindow& w, const QString& model, const char* who) {
  bool done = false, ok = false;
  auto c = QObject::connect(&w, &MainWindow::modelLoaded, [&](bool success, const QString& error) {
    done = true;
    ok = success;
    if (!success) std::fprintf(stderr, "%s: model: %s\n", who, qPrintable(error));
  });
  w.openModel(model, /*quiet=*/true);
  waitUntil([&] { return done; }, 120000);
  QObject::disconnect(c);
  return ok;
}

namespace {

QString fetchedData(const QString& relative) {
  const QByteArray env = qgetenv("ATTNX_DATA_DIR");
  const QString dir = env.isEmpty() ? QStringLiteral(ATTNX_SOURCE_DATA) : QString::fromLocal8Bit(env);
  return dir + QLatin1Char('/') + relative;
}

bool say(bool ok, const char* what) {
  std::fprintf(stderr, "tour: %s%s\n", what, ok ? "" : " — FAILED");
  return ok;
}

// The settings of a short run on a small model.
void fillForm(MainWindow& w, const TourOptions& o, const QString& runDir) {
  DistillConfig c = w.trainingPanel()->form()->config();
  c.dataPath = (o.data.isEmpty() ? fetchedData(QStringLiteral("corpus/validation/gutenberg-chesterton-brown.txt")) : o.data).toStdString();
  c.validationPath =
      (o.validation.isEmpty() ? fetchedData(QStringLiteral("corpus/test/sotu-1830-andrew-jackson.txt")) : o.validation).toStdString();
  c.steps = o.steps;
  c.seqLen = o.seqLen;
  c.batchSize = 4;
  c.learningRate = 0.1;
  c.lambdaL1 = 0.02;
  c.warmupSteps = 5;
  c.validateEvery = qMax(1, o.steps / 6);
  c.validationWindows = 4;
  c.checkpointEvery = qMax(1, o.steps / 3);
  w.trainingPanel()->form()->setConfig(c);
  w.trainingPanel()->form()->setRunFolder(runDir);
}


}  // namespace

int runGuidedTour(MainWindow& w, const TourOptions& o) {
  QDir().mkpath(o.outDir);
  const QDir out(o.outDir);
  auto shot = [&](QWidget* widget, const QString& name) {
    QApplication::processEvents();
    const QString file = out.filePath(name + QStringLiteral(".png"));
    const bool ok = widget->grab().save(file, "PNG");
    std::fprintf(stderr, "tour: screenshot %s%s\n", qPrintable(file), ok ? "" : " — FAILED");
  };
  auto* controller = w.trainingController();

  if (!say(loadTourModel(w, o.model, "tour"), "load the model")) return 1;
  w.workspaces()->switchTo(QStringLiteral("design"));
  shot(&w, QStringLiteral("01-model-loaded"));

  // Build a bank by hand, as a user would in the editor.
  auto* bank = w.bankEditor();
  auto* model = bank->model();
  model->setBank(BankEditorPanel::starterBank());
  model->removeMask(0);  // no full causal mask: the student must make do with cheap ones
  bank->addMask(MaskFamily::Strided);
  bank->addMask(MaskFamily::Painted);
  MaskSpec painted = model->mask(model->rowCount() - 1);
  for (int i = 0; i < painted.gridSize; ++i) painted.grid[size_t(i) * painted.gridSize] = 1;  // first column: a sink block
  painted.name = "painted-sink-diagonal";
  model->setMask(model->rowCount() - 1, painted);
  MaskSpec window = model->mask(0);
  window.w = 16;
  window.name = "window-16";
  model->setMask(0, window);
  bank->selectRow(model->rowCount() - 1);
  if (!say(bank->saveBankAs(out.filePath(QStringLiteral("tour-bank.json"))), "build and save a bank")) return 1;
  shot(&w, QStringLiteral("02-bank-built"));

  const QString runDir = out.filePath(QStringLiteral("run"));
  QDir(runDir).removeRecursively();
  w.workspaces()->switchTo(QStringLiteral("train"));
  fillForm(w, o, runDir);
  QString error;
  if (!say(w.trainingPanel()->startTraining(&error), "start training")) {
    std::fprintf(stderr, "tour: %s\n", qPrintable(error));
    return 1;
  }
  bool failed = false;
  QObject::connect(controller, &TrainingController::failed, [&](const QString& text) {
    failed = true;
    std::fprintf(stderr, "tour: training failed: %s\n", qPrintable(text));
  });
  if (!say(waitUntil([&] { return failed || controller->lastStep() >= o.steps / 3; }, 300000) && !failed, "train a third"))
    return 1;
  controller->setPaused(true);
  // The step in flight when Pause was pressed still finishes (a step takes seconds on a busy
  // machine): wait until the step count settles, then check that nothing moves while paused.
  qint64 settled = -1;
  waitUntil([&] {
    const qint64 now = controller->lastStep();
    const bool same = now == settled;
    settled = now;
    waitUntil([] { return false; }, 400);
    return same && controller->lastStep() == now;
  }, 20000);
  const qint64 pausedAt = controller->lastStep();
  waitUntil([] { return false; }, 600);
  say(controller->lastStep() == pausedAt, "pause (no step while paused)");
  shot(&w, QStringLiteral("03-paused"));
  controller->setPaused(false);
  if (!say(waitUntil([&] { return failed || controller->lastStep() >= 2 * o.steps / 3; }, 300000) && !failed, "resume"))
    return 1;
  controller->stop();
  if (!say(waitUntil([&] { return !controller->isRunning(); }, 120000), "stop")) return 1;
  shot(&w, QStringLiteral("04-stopped"));

  const QString saved = out.filePath(QStringLiteral("run-saved"));
  QDir(saved).removeRecursively();
  if (!say(w.saveRunAs(saved, &error), "save the run elsewhere")) return 1;
  if (!say(w.openRun(saved, /*quiet=*/true), "reopen the saved run")) return 1;
  shot(&w, QStringLiteral("05-run-reopened"));
  if (!say(w.resumeOpenedRun(), "resume the reopened run")) return 1;
  if (!say(waitUntil([&] { return !controller->isRunning(); }, 300000) && !failed, "train to the end")) return 1;
  shot(&w, QStringLiteral("06-finished"));

  // Start again into the first run's folder, as a user who forgot to change it would: the panel
  // refuses with a message box instead of mixing two runs' files.
  fillForm(w, o, runDir);
  const bool refused = !w.trainingPanel()->startTraining() && !controller->isRunning();
  QMessageBox* box = nullptr;
  waitUntil([&] { return (box = w.findChild<QMessageBox*>()) != nullptr && box->isVisible(); }, 5000);
  if (!say(refused && box && box->text().contains(QStringLiteral("already holds a run")), "refuse a folder holding a run"))
    return 1;
  QApplication::processEvents();
  const QString boxShot = out.filePath(QStringLiteral("06b-folder-taken.png"));  // the screen: the box is a window of its own
  say(QGuiApplication::primaryScreen()->grabWindow(0).save(boxShot, "PNG"), "screenshot 06b-folder-taken");
  box->close();
  if (!tourAnalysisViews(w, out, shot)) return 1;

  // The committed study (docs/study, attnx-cli study) side by side in the Experiments workspace.
  QString problem;
  if (!say(w.openExperiments(QStringLiteral(ATTNX_SOURCE_DIR "/docs/study"), &problem), "open the study in Experiments")) {
    std::fprintf(stderr, "tour: %s\n", qPrintable(problem));
    return 1;
  }
  waitUntil([] { return false; }, 300);
  shot(&w, QStringLiteral("10-experiments"));

  // Every workspace in its default arrangement, as a new user first sees it.
  for (const QString& id : w.workspaces()->ids()) {
    w.workspaces()->switchTo(id);
    w.workspaces()->resetCurrent();
    waitUntil([] { return false; }, 300);
    shot(&w, QStringLiteral("workspace-") + id);
  }
  return 0;
}

}  // namespace attnx::ui
