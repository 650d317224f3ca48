#include "ui/main_window/main_window.h"

#include "ui/attention/attention_view.h"
#include "ui/bridge/analysis_session.h"
#include "ui/completions/completions_view.h"
#include "ui/download/download_dialog.h"
#include "ui/experiments/experiments_view.h"
#include "ui/export/figure_menu.h"
#include "ui/export/figure_registry.h"
#include "ui/memory/memory_view.h"

#include <QAction>
#include <algorithm>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QThread>
#include <QTimer>
#include <QToolBar>
#include <QUndoStack>

#include "core/bench/memory_probe.h"
#include "core/util/allocator_tuning.h"
#include "ui/bank_editor/bank_editor_panel.h"
#include "ui/bank_editor/combined_mask_view.h"
#include "ui/bank_editor/mask_bank_model.h"
#include "ui/bridge/model_session.h"
#include "ui/bridge/runtime_info.h"
#include "ui/bridge/training_controller.h"
#include "ui/main_window/model_panel.h"
#include "ui/main_window/recent_files.h"
#include "ui/main_window/workspaces.h"
#include "ui/plots/coefficient_grid.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/loss_plot.h"
#include "ui/training/coefficient_panel.h"
#include "ui/training/loss_panel.h"
#include "ui/training/run_reader.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

namespace attnx::ui {
namespace {

QString megabytes(int64_t bytes) { return QStringLiteral("%1 MB").arg(bytes / (1024.0 * 1024.0), 0, 'f', 0); }

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), session_(std::make_shared<ModelSession>()), controller_(new TrainingController(this)) {
  setWindowTitle(QStringLiteral("attnx"));
  setObjectName(QStringLiteral("MainWindow"));
  resize(1560, 960);
  if (const QScreen* screen = QGuiApplication::primaryScreen())  // a laptop screen gets a window that fits
    resize(size().boundedTo(screen->availableGeometry().size() * 0.95));
  setDockNestingEnabled(true);
  setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks | QMainWindow::AllowNestedDocks);

  modelPanel_ = new ModelPanel(this);
  bankEditor_ = new BankEditorPanel(this);
  trainingPanel_ = new TrainingPanel(controller_, this);
  lossPanel_ = new LossPanel(this);
  coefficientPanel_ = new CoefficientPanel(this);
  grid_ = new CoefficientGrid(this);
  figures_ = new FigureRegistry(this);

  buildMenus();
  auto* bankDock = addPanel(bankEditor_, tr("Mask bank"), QStringLiteral("MaskBankDock"), Qt::LeftDockWidgetArea);
  auto* modelDock = addPanel(modelPanel_, tr("Model"), QStringLiteral("ModelDock"), Qt::LeftDockWidgetArea);
  auto* trainingDock = addPanel(trainingPanel_, tr("Training"), QStringLiteral("TrainingDock"), Qt::LeftDockWidgetArea);
  auto* lossDock = addPanel(lossPanel_, tr("Loss curves"), QStringLiteral("LossDock"), Qt::RightDockWidgetArea);
  auto* coeffDock = addPanel(coefficientPanel_, tr("Coefficients"), QStringLiteral("CoefficientsDock"), Qt::RightDockWidgetArea);
  auto* gridDock = addPanel(grid_, tr("Coefficient grid"), QStringLiteral("CoefficientGridDock"), Qt::RightDockWidgetArea);
  // The analysis views of a run: they show the opened or just finished run's student beside its teacher.
  attentionView_ = new AttentionView;
  completionsView_ = new CompletionsView;
  memoryView_ = new MemoryView;
  auto* attentionDock = addPanel(attentionView_, tr("Attention"), QStringLiteral("AttentionDock"), Qt::RightDockWidgetArea);
  auto* completionsDock = addPanel(completionsView_, tr("Completions"), QStringLiteral("CompletionsDock"), Qt::RightDockWidgetArea);
  auto* memoryDock = addPanel(memoryView_, tr("Memory and speed"), QStringLiteral("MemoryDock"), Qt::RightDockWidgetArea);
  // Runs side by side: a study (attnx-cli study) or a folder of runs.
  experimentsView_ = new ExperimentsView;
  auto* experimentsDock = addPanel(experimentsView_, tr("Experiments"), QStringLiteral("ExperimentsDock"), Qt::RightDockWidgetArea);
  buildWorkspaces(bankDock, modelDock, trainingDock, lossDock, coeffDock, gridDock, attentionDock, completionsDock,
                  memoryDock, experimentsDock);
  buildStatusBar();

  // Every 10 s, hand back to the system the memory malloc keeps after training steps, maps and
  // model loads (core/util/allocator_tuning.h); without it a long session's resident size creeps
  // up in steps although the memory in use does not.
  auto* housekeeping = new QTimer(this);
  connect(housekeeping, &QTimer::timeout, this, [] { releaseFreedMemory(); });
  housekeeping->start(10000);
  figures_->add(QStringLiteral("loss-curves"), tr("Loss curves"), tr("Distillation losses (KL, L1, total, validation KL) against step"), lossPanel_->plot());
  figures_->add(QStringLiteral("coefficients"), tr("Coefficients"), tr("Mask coefficients α against step, as filtered in the view"),
                coefficientPanel_->plot(), [p = coefficientPanel_->plot()] { return p->figureContext(); });
  figures_->add(QStringLiteral("coefficient-grid"), tr("Coefficient grid"), tr("Current α of every layer, head and mask"), grid_);
  attentionView_->registerFigures(*figures_);
  // A new pruning rule rebuilds the run's students for every analysis view.
  connect(attentionView_, &AttentionView::pruningRuleRequested, this, [this](const std::optional<PruningRule>& rule) {
    const auto shown = attentionView_->session();
    if (shown && shown->isLoaded()) loadAnalysis(shown->summary().runDir, /*quiet=*/false, rule);
  });
  memoryView_->registerFigures(*figures_);
  experimentsView_->registerFigures(*figures_);
  // A point of the Pareto scatter or a row of the table opens that run for analysis.
  connect(experimentsView_, &ExperimentsView::openRunRequested, this, [this](const QString& dir) {
    if (openRun(dir)) workspaces_->switchTo(QStringLiteral("analyse"));
  });

  trainingPanel_->setSources([this] { return bankEditor_->bank(); }, [this] { return modelFolder(); });
  controller_->setTeacherSource([this] { return session_->teacher(); });
  connect(controller_, &TrainingController::started, this, &MainWindow::onTrainingStarted);
  connect(controller_, &TrainingController::metrics, this, [this](const TrainingSamples& samples) {
    lossPanel_->plot()->addSamples(samples);
    coefficientPanel_->plot()->addSamples(samples);
    if (!samples.isEmpty()) {
      grid_->setAlpha(samples.back().alpha);
      bankEditor_->combinedView()->setCoefficients(samples.back().alpha);
    }
    refreshStatus();
  });
  connect(controller_, &TrainingController::finished, this, [this](bool, qint64) {
    const QString dir = trainingPanel_->runDir();
    if (!dir.isEmpty()) {
      recentRuns_->add(dir);
      try {  // the finished run becomes the opened one, so it can be resumed or saved elsewhere
        openedRun_ = std::make_unique<RunRecord>(readRunFolder(dir));
        loadAnalysis(dir, /*quiet=*/false);
      } catch (const std::exception& e) {
        statusBar()->showMessage(tr("The finished run could not be read back: %1").arg(QString::fromStdString(e.what())));
      }
    }
    refreshStatus();
  });
  connect(controller_, &TrainingController::pausedChanged, this, &MainWindow::refreshStatus);
  connect(bankEditor_, &BankEditorPanel::bankFileChanged, this, [this](const QString& p) { recentBanks_->add(p); });
  connect(bankEditor_, &BankEditorPanel::modifiedChanged, this, [this](bool m) { setWindowModified(m); });
  connect(modelPanel_, &ModelPanel::openRequested, this, &MainWindow::chooseModelFolder);
  setWindowTitle(QStringLiteral("attnx — [*]mask bank"));

  QSettings settings;
  restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
}

void MainWindow::buildWorkspaces(QDockWidget* bank, QDockWidget* model, QDockWidget* training, QDockWidget* loss,
                                 QDockWidget* coefficients, QDockWidget* grid, QDockWidget* attention,
                                 QDockWidget* completions, QDockWidget* memory, QDockWidget* experiments) {
  auto* bar = new QToolBar(tr("Workspaces"), this);
  bar->setObjectName(QStringLiteral("WorkspacesToolBar"));
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
  addToolBar(Qt::TopToolBarArea, bar);
  auto* menu = new QMenu(tr("&Workspace"), this);
  viewMenu_->insertMenu(viewMenu_->actions().value(0), menu);
  workspaces_ = new Workspaces(this, bar, menu);
  // Puts `dock` back into `area` on its own (out of any tab group or split), shown.
  auto place = [this](QDockWidget* dock, Qt::DockWidgetArea area) {
    dock->setFloating(false);
    removeDockWidget(dock);
    addDockWidget(area, dock);
    dock->show();
  };
  workspaces_->add({QStringLiteral("design"), tr("Design"),
                    tr("Design the mask bank: the editor and the combined mask beside the model it is for"),
                    [=] {
                      place(bank, Qt::LeftDockWidgetArea);
                      place(model, Qt::RightDockWidgetArea);
                      const int side = std::max(300, width() / 4);
                      resizeDocks({bank, model}, {width() - side, side}, Qt::Horizontal);
                    }});
  workspaces_->add({QStringLiteral("train"), tr("Train"),
                    tr("Distil: the training form beside the live loss and coefficient curves"), [=] {
                      place(training, Qt::LeftDockWidgetArea);
                      place(loss, Qt::RightDockWidgetArea);
                      place(coefficients, Qt::RightDockWidgetArea);
                      place(grid, Qt::RightDockWidgetArea);
                      splitDockWidget(loss, coefficients, Qt::Vertical);
                      // Proportions, scaled to the window: the form keeps about a third on a
                      // laptop; the coefficients (two rows of controls, a legend of many masks)
                      // get the larger share of the height.
                      const int form = std::max(400, width() * 3 / 10);
                      resizeDocks({training, loss}, {form, width() - form}, Qt::Horizontal);
                      resizeDocks({loss, coefficients}, {height() * 2 / 5, height() * 3 / 5}, Qt::Vertical);
                      tabifyDockWidget(coefficients, grid);
                      coefficients->raise();
                    }});
  workspaces_->add({QStringLiteral("analyse"), tr("Analyse"),
                    tr("Analyse a run: attention maps, completions, memory and speed, each using the whole window"),
                    [=] {
                      place(attention, Qt::RightDockWidgetArea);
                      place(completions, Qt::RightDockWidgetArea);
                      place(memory, Qt::RightDockWidgetArea);
                      tabifyDockWidget(attention, completions);
                      tabifyDockWidget(completions, memory);
                      attention->raise();
                    }});
  workspaces_->add({QStringLiteral("experiments"), tr("Experiments"),
                    tr("Compare runs: a study or a folder of runs as a sortable table, a Pareto scatter of density against "
                       "KL beside the fixed baselines, and the selected runs' curves overlaid"),
                    [=] { place(experiments, Qt::RightDockWidgetArea); }});
  workspaces_->finish();
}

Workspaces* MainWindow::workspaces() const { return workspaces_; }

void MainWindow::showView(QWidget* view, const QString& workspace) {
  workspaces_->switchTo(workspace);
  for (QWidget* p = view; p; p = p->parentWidget())
    if (auto* dock = qobject_cast<QDockWidget*>(p)) {
      dock->show();
      dock->raise();
      break;
    }
}

MainWindow::~MainWindow() {
  // The loaders hold only their own sessions; let them finish.
  if (modelLoader_) modelLoader_->wait();
  for (QThread* t : analysisLoaders_) {
    t->wait();
    delete t;
  }
}

QDockWidget* MainWindow::addPanel(QWidget* panel, const QString& title, const QString& objectName, Qt::DockWidgetArea area) {
  auto* dock = new QDockWidget(title, this);
  dock->setObjectName(objectName);
  // Each panel scrolls inside its dock rather than imposing its minimum size: tabbed docks take the
  // largest minimum of their tabs, and without this the default layout outgrew a 1600x1000 screen.
  auto* scroll = new QScrollArea(dock);
  scroll->setWidget(panel);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  dock->setWidget(scroll);
  dock->setFeatures(QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  addDockWidget(area, dock);
  viewMenu_->addAction(dock->toggleViewAction());
  return dock;
}

void MainWindow::buildMenus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  auto* open = file->addAction(tr("&Open model…"), this, &MainWindow::chooseModelFolder);
  open->setShortcut(QKeySequence::Open);
  open->setToolTip(tr("Open a Hugging Face GPT-2 folder (config.json + model.safetensors)"));
  file->addAction(tr("&Download GPT-2…"), this, [this] {
    auto* dialog = new DownloadDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &DownloadDialog::modelReady, this, [this](const QString& dir) { openModel(dir); });
    dialog->show();
  })->setToolTip(tr("Fetch gpt2, distilgpt2 or gpt2-medium from the Hugging Face hub, with resume and checksums"));
  recentModels_ = new RecentFiles(QStringLiteral("recent/models"), file->addMenu(tr("Recent &models")),
                                  [this](const QString& p) { openModel(p); }, this);
  file->addSeparator();
  file->addAction(tr("&New mask bank"), QKeySequence::New, this, [this] { bankEditor_->newBank(); });
  file->addAction(tr("Open mask &bank…"), QKeySequence(Qt::CTRL | Qt::Key_B), this, [this] { bankEditor_->openBankDialog(); });
  file->addAction(tr("&Save mask bank"), QKeySequence::Save, this, [this] { bankEditor_->saveBank(); });
  file->addAction(tr("Save mask bank &as…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S), this,
                  [this] { bankEditor_->saveBankAsDialog(); });
  recentBanks_ = new RecentFiles(QStringLiteral("recent/banks"), file->addMenu(tr("Recent ba&nks")), [this](const QString& p) {
    if (bankEditor_->maybeSave()) bankEditor_->openBank(p);
  }, this);
  file->addSeparator();
  file->addAction(tr("Open &run…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this, &MainWindow::chooseRunFolder);
  recentRuns_ = new RecentFiles(QStringLiteral("recent/runs"), file->addMenu(tr("Recent r&uns")),
                                [this](const QString& p) { openRun(p); }, this);
  file->addAction(tr("Open s&tudy or runs folder…"), this, &MainWindow::chooseExperimentsFolder)
      ->setToolTip(tr("Compare runs side by side: a folder written by attnx-cli study, or a folder of run folders"));
  file->addAction(tr("Save run a&s…"), this, &MainWindow::chooseSaveRunFolder)
      ->setToolTip(tr("Copy the current run folder (settings, metrics, learned bank, checkpoint) elsewhere"));
  file->addSeparator();
  addFigureMenus(file, figures_, this, figureHooks());
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  auto* edit = menuBar()->addMenu(tr("&Edit"));
  auto* undo = bankEditor_->model()->undoStack()->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Z));
  auto* redo = bankEditor_->model()->undoStack()->createRedoAction(this, tr("&Redo"));
  redo->setShortcuts({QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence(Qt::CTRL | Qt::Key_Y)});
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addSeparator();
  edit->addAction(tr("&Duplicate mask"), QKeySequence(Qt::CTRL | Qt::Key_D), bankEditor_, &BankEditorPanel::duplicateSelected);
  edit->addAction(tr("Re&move mask"), QKeySequence::Delete, bankEditor_, &BankEditorPanel::removeSelected);

  auto* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(trainingPanel_->startAction());
  run->addAction(trainingPanel_->pauseAction());
  run->addAction(trainingPanel_->stopAction());
  run->addSeparator();
  run->addAction(tr("Resume opened r&un"), QKeySequence(Qt::CTRL | Qt::Key_R), this, &MainWindow::resumeOpenedRun)
      ->setToolTip(tr("Continue the run opened with File → Open run… from its checkpoint"));

  viewMenu_ = menuBar()->addMenu(tr("&View"));
  viewMenu_->addAction(tr("&Reset layout"), this, [this] { workspaces_->resetCurrent(); })
      ->setToolTip(tr("The current workspace's docks back where they start"));
  viewMenu_->addSeparator();

  menuBar()->addMenu(tr("&Help"))->addAction(tr("&About attnx"), this, &MainWindow::showAbout);
}

void MainWindow::buildStatusBar() {
  const auto rt = runtimeInfo();
  deviceLabel_ = new QLabel(tr("%1 · threads: %2").arg(rt.device).arg(rt.threads), this);
  deviceLabel_->setToolTip(tr("Compute device and LibTorch threads"));
  activityLabel_ = new QLabel(this);
  memoryLabel_ = new QLabel(this);
  memoryLabel_->setToolTip(tr("Resident memory of attnx now (peak since start)"));
  statusBar()->addPermanentWidget(activityLabel_);
  statusBar()->addPermanentWidget(memoryLabel_);
  statusBar()->addPermanentWidget(deviceLabel_);
  auto* timer = new QTimer(this);
  connect(timer, &QTimer::timeout, this, &MainWindow::refreshStatus);
  timer->start(1000);
  refreshStatus();
}

void MainWindow::refreshStatus() {
  QString activity = tr("Idle");
  if (modelLoading_) activity = tr("Loading model…");
  else if (controller_->isRunning())
    activity = controller_->isPaused() ? tr("Training paused at step %1").arg(controller_->lastStep())
                                       : tr("Training: step %1 / %2").arg(controller_->lastStep()).arg(controller_->shape().totalSteps);
  activityLabel_->setText(activity);
  const auto mem = residentMemory();
  memoryLabel_->setText(mem.currentBytes > 0 ? tr("memory %1 (peak %2)").arg(megabytes(mem.currentBytes), megabytes(mem.peakBytes))
                                             : QString());
}

QString MainWindow::modelFolder() const { return session_->isLoaded() ? session_->summary().folder : QString(); }

bool MainWindow::openModel(const QString& folder, bool quiet) {
  if (modelLoading_) return false;
  modelLoading_ = true;
  modelPanel_->showLoading(folder);
  statusBar()->showMessage(tr("Loading model…"));
  refreshStatus();
  // Loading GPT-2 small takes about a second: a fresh session loads on its own thread and replaces
  // the current one only when it succeeded.
  auto fresh = std::make_shared<ModelSession>();
  auto error = std::make_shared<QString>();
  modelLoader_ = QThread::create([fresh, error, folder] { *error = fresh->load(folder); });
  connect(modelLoader_, &QThread::finished, this, [this, fresh, error, quiet, folder] {
    modelLoader_->deleteLater();
    modelLoader_ = nullptr;
    modelLoading_ = false;
    if (error->isEmpty()) {
      session_ = fresh;
      const auto s = session_->summary();
      modelPanel_->showModel(&s);
      bankEditor_->combinedView()->setModelShape(s.layers, s.heads);
      recentModels_->add(s.folder);
      statusBar()->showMessage(tr("Model loaded: %1").arg(s.folder), 5000);
    } else {
      if (session_->isLoaded()) {
        const auto s = session_->summary();
        modelPanel_->showModel(&s);
      } else {
        modelPanel_->showError(*error);
      }
      statusBar()->showMessage(tr("Could not open the model"), 5000);
      if (!quiet)
        showWarning(tr("Could not open the model"),
                    *error + tr("\n\nChoose a GPT-2 folder (config.json + model.safetensors, e.g. gpt2 from the Hugging "
                                "Face hub) with File → Open model…"));
    }
    releaseFreedMemory();  // the replaced model and the load's buffers
    refreshStatus();
    Q_EMIT modelLoaded(error->isEmpty(), *error);
  });
  modelLoader_->start();
  return true;
}

void MainWindow::chooseModelFolder() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Open a GPT-2 folder (config.json + model.safetensors, e.g. gpt2 from the Hugging Face hub)"));
  if (!dir.isEmpty()) openModel(dir);
}

void MainWindow::onTrainingStarted(const TrainingShape& shape) {
  // A resumed run continues the curves already shown (opened from the same folder); anything else
  // starts from empty plots.
  const bool continuing = shape.startStep > 0 && coefficientPanel_->plot()->pointCount() > 0 &&
                          coefficientPanel_->plot()->shape().runDir == shape.runDir;
  if (!continuing) {
    lossPanel_->plot()->clear();
    coefficientPanel_->setShape(shape);
    grid_->setShape(shape);
  }
  bankEditor_->combinedView()->setModelShape(shape.layers, shape.heads);
  recentRuns_->add(shape.runDir);
  refreshStatus();
}

void MainWindow::showRunCurves(const RunRecord& run) {
  lossPanel_->plot()->clear();
  coefficientPanel_->setShape(run.shape);
  grid_->setShape(run.shape);
  lossPanel_->plot()->addSamples(run.samples);
  coefficientPanel_->plot()->addSamples(run.samples);
  if (!run.samples.isEmpty()) grid_->setAlpha(run.samples.back().alpha);
}

bool MainWindow::openRun(const QString& dir, bool quiet) {
  if (controller_->isRunning()) {
    if (!quiet) QMessageBox::information(this, tr("Training is running"), tr("Stop the current run (Shift+F5) before opening another."));
    return false;
  }
  try {
    auto run = std::make_unique<RunRecord>(readRunFolder(dir));
    if (!bankEditor_->maybeSave()) return false;
    showRunCurves(*run);
    trainingPanel_->form()->setConfig(run->config);
    trainingPanel_->form()->setRunFolder(run->dir);
    trainingPanel_->showOpenedRun(run->samples.isEmpty() ? 0 : run->samples.back().step, run->config.steps,
                                  run->hasCheckpoint);
    bankEditor_->model()->setBank(run->bank);
    bankEditor_->selectRow(0);
    bankEditor_->combinedView()->setModelShape(run->shape.layers, run->shape.heads);
    if (!run->samples.isEmpty()) bankEditor_->combinedView()->setCoefficients(run->samples.back().alpha);
    recentRuns_->add(run->dir);
    loadAnalysis(run->dir, quiet);
    statusBar()->showMessage(tr("Run %1: %2 steps%3").arg(run->dir).arg(run->samples.size())
                                 .arg(run->hasCheckpoint ? tr(", resumable (Ctrl+R)") : QString()), 8000);
    openedRun_ = std::move(run);
    return true;
  } catch (const std::exception& e) {
    if (!quiet)
      QMessageBox::warning(this, tr("Could not open the run"),
                           tr("%1\n\nA run folder holds run.json and metrics.csv, written by a distillation "
                              "(here or attnx-cli distill --out).").arg(QString::fromStdString(e.what())));
    return false;
  }
}

bool MainWindow::resumeOpenedRun() {
  if (!openedRun_) {
    QMessageBox::information(this, tr("No run opened"), tr("Open a run folder first (File → Open run…, Ctrl+Shift+O)."));
    return false;
  }
  return trainingPanel_->resumeRun(*openedRun_);
}

QString MainWindow::currentRunDir() const {
  if (controller_->isRunning() || !trainingPanel_->runDir().isEmpty()) return trainingPanel_->runDir();
  return openedRun_ ? openedRun_->dir : QString();
}

bool MainWindow::saveRunAs(const QString& dir, QString* error) {
  auto fail = [&](const QString& text) {
    if (error) *error = text;
    else QMessageBox::warning(this, tr("Could not save the run"), text);
    return false;
  };
  if (controller_->isRunning()) return fail(tr("Stop the run (Shift+F5) before saving a copy: the checkpoint is written on stop."));
  const QString from = currentRunDir();
  if (from.isEmpty()) return fail(tr("There is no run to save: start one (F5) or open one (Ctrl+Shift+O)."));
  if (QFileInfo(dir).absoluteFilePath() == QFileInfo(from).absoluteFilePath()) return true;
  if (!QDir().mkpath(dir)) return fail(tr("Cannot create %1.").arg(dir));
  for (const char* name : {"run.json", "metrics.csv", "learned_bank.json", "student.safetensors", "bank.json"}) {
    const QString src = QDir(from).filePath(QString::fromLatin1(name)), dst = QDir(dir).filePath(QString::fromLatin1(name));
    if (!QFile::exists(src)) continue;
    // Copy to a temporary name and rename, so a failed copy never leaves a half-written file.
    const QString tmp = dst + QStringLiteral(".tmp-copy");
    QFile::remove(tmp);
    if (!QFile::copy(src, tmp)) return fail(tr("Cannot copy %1 to %2.").arg(src, dir));
    QFile::remove(dst);
    if (!QFile::rename(tmp, dst)) return fail(tr("Cannot write %1.").arg(dst));
  }
  recentRuns_->add(dir);
  statusBar()->showMessage(tr("Run saved in %1").arg(dir), 5000);
  return true;
}

void MainWindow::chooseRunFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a run folder (run.json, metrics.csv, …)"),
                                                        TrainingForm::defaultRunsDir());
  if (!dir.isEmpty()) openRun(dir);
}

bool MainWindow::openExperiments(const QString& dir, QString* error) {
  QString problem;
  if (!experimentsView_->openFolder(dir, &problem)) {
    if (error) *error = problem;
    else showWarning(tr("Could not open the runs"), problem);
    return false;
  }
  workspaces_->switchTo(QStringLiteral("experiments"));
  statusBar()->showMessage(tr("%1: %2 results").arg(dir).arg(experimentsView_->rowCount()), 5000);
  return true;
}

void MainWindow::chooseExperimentsFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a study (attnx-cli study) or a folder of runs"),
                                                        TrainingForm::defaultRunsDir());
  if (!dir.isEmpty()) openExperiments(dir);
}

void MainWindow::chooseSaveRunFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Save the run into a folder"));
  if (!dir.isEmpty()) saveRunAs(dir);
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About attnx"),
                     tr("<b>attnx %1</b><p>An attention explorer for GPT-2-family models: learnable mixtures of "
                        "candidate attention masks, distilled from GPT-2.</p><p>Qt %2 · QCustomPlot · LibTorch</p>")
                         .arg(QStringLiteral(ATTNX_VERSION), QString::fromLatin1(qVersion())));
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (controller_->isRunning()) {
    const auto answer = QMessageBox::question(
        this, tr("Training is running"),
        tr("Stop the run after the current step, write its checkpoint and quit? It can be resumed later "
           "(File → Open run…, then Run → Resume)."),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Yes);
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
    QEventLoop wait;
    connect(controller_, &TrainingController::finished, &wait, &QEventLoop::quit);
    controller_->stop();
    statusBar()->showMessage(tr("Stopping the run and writing its checkpoint…"));
    if (controller_->isRunning()) wait.exec();
  }
  if (!bankEditor_->maybeSave()) {
    event->ignore();
    return;
  }
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  workspaces_->save();
  event->accept();
}

}  // namespace attnx::ui

namespace attnx::ui {

FigureMenuHooks MainWindow::figureHooks() {
  FigureMenuHooks hooks;
  hooks.context = [this] {
    return QJsonObject{{QStringLiteral("run"), currentRunDir()}, {QStringLiteral("model"), modelFolder()},
                       {QStringLiteral("made_by"), QStringLiteral("attnx %1").arg(QApplication::applicationVersion())}};
  };
  hooks.showMessage = [this](const QString& text) { statusBar()->showMessage(text, 8000); };
  return hooks;
}

QString MainWindow::exportAllFigures(const QString& folder) { return exportAllFiguresTo(*figures_, folder, figureHooks()); }

void MainWindow::showWarning(const QString& title, const QString& text) {
  // Window-modal and not waited for: the event loop (and a running distillation's curves) go on.
  auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void applyApplicationIdentity() {
  QApplication::setApplicationName(QStringLiteral("attnx"));
  QApplication::setOrganizationName(QStringLiteral("attnx"));
  QApplication::setApplicationVersion(QStringLiteral(ATTNX_VERSION));
}

void MainWindow::loadAnalysis(const QString& runDir, bool quiet, const std::optional<PruningRule>& rule) {
  const quint64 request = ++analysisRequest_;
  auto session = std::make_shared<AnalysisSession>();
  auto error = std::make_shared<QString>();
  // The model panel's teacher, or the analysis views' when they show this run: one copy of the
  // weights for every view (Teacher::reuseOrLoad loads another only when neither is the run's).
  auto teacher = session_->teacher();
  const auto shown = attentionView_->session();
  if (shown && shown->isLoaded() && shown->summary().runDir == runDir && shown->core()) teacher = shown->core()->teacher();
  QThread* loader = QThread::create([session, error, runDir, teacher, rule] { *error = session->loadRun(runDir, {}, teacher, rule); });
  loader->setObjectName(QStringLiteral("attnx-run-loader"));
  analysisLoaders_.append(loader);
  statusBar()->showMessage(tr("Loading the run's teacher and students for the analysis views…"));
  connect(loader, &QThread::finished, this, [this, loader, session, error, request, quiet] {
    analysisLoaders_.removeAll(loader);
    loader->deleteLater();
    if (request != analysisRequest_) return;  // a newer run was opened meanwhile
    if (!error->isEmpty()) {
      statusBar()->showMessage(tr("Attention views: %1").arg(*error));
      if (!quiet)
        showWarning(tr("Could not load the run for analysis"),
                    *error + tr("\n\nThe curves and the bank are shown; the Attention, Completions and Memory views "
                                "keep the previous run."));
      Q_EMIT analysisLoaded(false, *error);
      return;
    }
    attentionView_->setSession(session);
    completionsView_->setSession(session);
    memoryView_->setSession(session);
    const auto summary = session->summary();
    statusBar()->showMessage(tr("Analysis views: run %1 (%2)").arg(summary.runDir, summary.prunedDescription) +
                                 (summary.teacherNote.isEmpty() ? QString() : QStringLiteral("; ") + summary.teacherNote),
                             summary.teacherNote.isEmpty() ? 5000 : 15000);
    releaseFreedMemory();  // the previous session's teacher and students, when nothing shares them
    Q_EMIT analysisLoaded(true, {});
  });
  loader->start();
}

}  // namespace attnx::ui
