// The attnx main window: dock panels (Model, Mask bank, Training, Loss curves, Coefficients,
// Coefficient grid, the analysis views), arranged in workspaces (Design, Train, Analyse,
// Experiments: ui/main_window/workspaces.h), menus with shortcuts, recent files, a status bar, and
// the remembered layout. Training runs through TrainingController.
#pragma once

#include <QList>
#include <QMainWindow>
#include <QString>
#include <memory>
#include <optional>

#include "core/eval/attention_plan.h"

class QDockWidget;
class QLabel;
class QMenu;
class QThread;

namespace attnx::ui {

class AttentionView;
class BankEditorPanel;
class CompletionsView;
class ExperimentsView;
class FigureRegistry;
struct FigureMenuHooks;
class MemoryView;
class CoefficientGrid;
class CoefficientPanel;
class LossPanel;
class ModelPanel;
class ModelSession;
class RecentFiles;
class TrainingController;
class TrainingPanel;
class Workspaces;
struct RunRecord;
struct TrainingShape;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Adds `panel` as a dock (named objectName, so its place is remembered) and a toggle in View.
  QDockWidget* addPanel(QWidget* panel, const QString& title, const QString& objectName,
                        Qt::DockWidgetArea area = Qt::RightDockWidgetArea);

  // Loads a model folder (empty: the default model) on a worker thread; modelLoaded() follows.
  // Errors go to a dialog unless `quiet`. Returns false if a load is already going on.
  bool openModel(const QString& folder, bool quiet = false);
  bool isModelLoading() const { return modelLoading_; }
  ModelSession* modelSession() const { return session_.get(); }
  QString modelFolder() const;

  // Opens a run folder: its curves, settings and learned bank, and (on a worker thread, then
  // analysisLoaded()) its teacher and students for the analysis views. Errors: a dialog unless quiet.
  bool openRun(const QString& dir, bool quiet = false);
  bool isAnalysisLoading() const { return !analysisLoaders_.isEmpty(); }
  // Continues the opened run from its checkpoint.
  bool resumeOpenedRun();
  // Copies the current run folder's files to `dir` (not while training).
  bool saveRunAs(const QString& dir, QString* error = nullptr);
  QString currentRunDir() const;

  BankEditorPanel* bankEditor() const { return bankEditor_; }
  TrainingPanel* trainingPanel() const { return trainingPanel_; }
  TrainingController* trainingController() const { return controller_; }
  LossPanel* lossPanel() const { return lossPanel_; }
  CoefficientPanel* coefficientPanel() const { return coefficientPanel_; }
  CoefficientGrid* coefficientGrid() const { return grid_; }
  ModelPanel* modelPanel() const { return modelPanel_; }
  QMenu* viewMenu() const { return viewMenu_; }
  // Design, Train, Analyse, Experiments: the dock arrangements (View → Workspace, Ctrl+1…).
  Workspaces* workspaces() const;
  // Switches to `workspace` and brings the dock holding `view` to the front.
  void showView(QWidget* view, const QString& workspace);
  AttentionView* attentionView() const { return attentionView_; }
  CompletionsView* completionsView() const { return completionsView_; }
  MemoryView* memoryView() const { return memoryView_; }
  ExperimentsView* experimentsView() const { return experimentsView_; }
  // Opens a study (attnx-cli study) or a folder of runs in the Experiments workspace. Errors: a
  // warning box, or *error when given.
  bool openExperiments(const QString& dir, QString* error = nullptr);
  // Every exportable plot and heatmap of the window (File → Export figure / Export all figures).
  FigureRegistry* figures() const { return figures_; }
  // Export all figures into `folder` with index.json naming the run and model. Returns "" or the error.
  QString exportAllFigures(const QString& folder);

 Q_SIGNALS:
  void modelLoaded(bool ok, const QString& error);
  // The analysis views got a run's session (ok), or could not (error, also shown to the user).
  void analysisLoaded(bool ok, const QString& error);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void buildWorkspaces(QDockWidget* bank, QDockWidget* model, QDockWidget* training, QDockWidget* loss,
                       QDockWidget* coefficients, QDockWidget* grid, QDockWidget* attention, QDockWidget* completions,
                       QDockWidget* memory, QDockWidget* experiments);
  void chooseExperimentsFolder();
  // Points the Attention, Completions and Memory & speed views at a run's student and teacher,
  // loaded on a worker thread with the window's model shared when it is the run's teacher.
  // rule: the pruned student's pruning rule (none: the run's plan).
  void loadAnalysis(const QString& runDir, bool quiet, const std::optional<attnx::PruningRule>& rule = std::nullopt);
  FigureMenuHooks figureHooks();
  // A warning box that does not block: the app keeps running while it is shown.
  void showWarning(const QString& title, const QString& text);
  void buildStatusBar();
  void chooseModelFolder();
  void chooseRunFolder();
  void chooseSaveRunFolder();
  void showAbout();
  void refreshStatus();
  void onTrainingStarted(const TrainingShape& shape);
  void showRunCurves(const RunRecord& run);

  std::shared_ptr<ModelSession> session_;
  QThread* modelLoader_ = nullptr;
  QList<QThread*> analysisLoaders_;  // running; only the newest one's session is shown
  quint64 analysisRequest_ = 0;
  bool modelLoading_ = false;
  TrainingController* controller_ = nullptr;
  ModelPanel* modelPanel_ = nullptr;
  BankEditorPanel* bankEditor_ = nullptr;
  TrainingPanel* trainingPanel_ = nullptr;
  LossPanel* lossPanel_ = nullptr;
  CoefficientPanel* coefficientPanel_ = nullptr;
  CoefficientGrid* grid_ = nullptr;
  QMenu* viewMenu_ = nullptr;
  FigureRegistry* figures_ = nullptr;
  class AttentionView* attentionView_ = nullptr;
  class CompletionsView* completionsView_ = nullptr;
  class MemoryView* memoryView_ = nullptr;
  ExperimentsView* experimentsView_ = nullptr;
  RecentFiles *recentModels_ = nullptr, *recentBanks_ = nullptr, *recentRuns_ = nullptr;
  QLabel *deviceLabel_ = nullptr, *activityLabel_ = nullptr, *memoryLabel_ = nullptr;
  std::unique_ptr<RunRecord> openedRun_;
  Workspaces* workspaces_ = nullptr;
};

// The application's name, organisation (where QSettings keep the layout and recent files) and
// version, for attnx and for the development drivers of the same window.
void applyApplicationIdentity();

}  // namespace attnx::ui
