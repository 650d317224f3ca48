// The Training panel: the settings form, start / pause / resume / stop, a progress bar with step,
// tokens/s and ETA, and the trainer's messages. The run itself is TrainingController's.
#pragma once

#include <QWidget>
#include <functional>

#include "core/masks/mask_bank.h"
#include "ui/bridge/training_types.h"

class QAction;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;

namespace attnx::ui {

class TrainingController;
class TrainingForm;
struct RunRecord;

class TrainingPanel : public QWidget {
  Q_OBJECT
 public:
  TrainingPanel(TrainingController* controller, QWidget* parent = nullptr);

  TrainingForm* form() const { return form_; }
  QAction* startAction() const { return start_; }
  QAction* pauseAction() const { return pause_; }
  QAction* stopAction() const { return stop_; }
  QProgressBar* progressBar() const { return progress_; }
  QString runDir() const { return runDir_; }

  // Where the bank and the teacher come from (the Mask bank and Model panels).
  void setSources(std::function<MaskBank()> bank, std::function<QString()> teacherDir);

  // Starts a fresh run with the form's settings. Problems go to a dialog (or *error when given).
  bool startTraining(QString* error = nullptr);
  // Continues `run` from its checkpoint, up to the form's step count when that is larger.
  bool resumeRun(const RunRecord& run, QString* error = nullptr);
  // Shows an opened run's state instead of "not started": its step, its planned steps, and whether
  // Ctrl+R can resume it.
  void showOpenedRun(qint64 steps, qint64 totalSteps, bool resumable);
  QString progressText() const;  // what the progress bar says (for tests)

 Q_SIGNALS:
  void runStarting(const QString& runDir);

 private:
  void onStarted(const TrainingShape& shape);
  void onMetrics(const TrainingSamples& samples);
  void onFinished(bool stopped, qint64 step);
  void onFailed(const QString& text);
  void updateActions();
  bool fail(const QString& text, QString* error);

  TrainingController* controller_;
  TrainingForm* form_ = nullptr;
  QAction *start_ = nullptr, *pause_ = nullptr, *stop_ = nullptr;
  QPushButton *startButton_ = nullptr, *pauseButton_ = nullptr, *stopButton_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* state_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  std::function<MaskBank()> bank_;
  std::function<QString()> teacher_;
  QString runDir_;
  qint64 totalSteps_ = 0;
};

}  // namespace attnx::ui
