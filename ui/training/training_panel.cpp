#include "ui/training/training_panel.h"

#include <algorithm>

#include <QAction>
#include <QDateTime>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

#include "core/train/run_folder.h"
#include "ui/bridge/training_controller.h"
#include "ui/training/run_reader.h"
#include "ui/training/training_form.h"

namespace attnx::ui {
namespace {

QString duration(double seconds) {
  const qint64 s = qint64(seconds + 0.5);
  if (s >= 3600) return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
  if (s >= 60) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  return QStringLiteral("%1 s").arg(s);
}

}  // namespace

TrainingPanel::TrainingPanel(TrainingController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);

  start_ = new QAction(tr("&Start training"), this);
  start_->setShortcut(Qt::Key_F5);
  start_->setToolTip(tr("Distil the student from the teacher with the current bank and settings (F5)"));
  pause_ = new QAction(tr("&Pause"), this);
  pause_->setShortcut(Qt::Key_F6);
  pause_->setCheckable(true);
  pause_->setToolTip(tr("Pause between two steps; press again to resume (F6)"));
  stop_ = new QAction(tr("S&top"), this);
  stop_->setShortcut(Qt::SHIFT | Qt::Key_F5);
  stop_->setToolTip(tr("Stop after the current step and write a checkpoint (Shift+F5)"));
  connect(start_, &QAction::triggered, this, [this] { startTraining(); });
  connect(pause_, &QAction::toggled, this, [this](bool on) { controller_->setPaused(on); });
  connect(stop_, &QAction::triggered, this, [this] {
    controller_->stop();
    state_->setText(tr("Stopping after the current step…"));
  });

  auto* buttons = new QHBoxLayout;
  auto button = [&](QAction* a) {
    auto* b = new QPushButton(a->text().remove(QLatin1Char('&')), this);
    b->setToolTip(a->toolTip());
    b->setCheckable(a->isCheckable());
    connect(b, &QPushButton::clicked, a, &QAction::trigger);
    connect(a, &QAction::changed, b, [a, b] { b->setEnabled(a->isEnabled()); b->setChecked(a->isChecked());
                                              b->setText(a->text().remove(QLatin1Char('&'))); });
    buttons->addWidget(b);
    return b;
  };
  startButton_ = button(start_);
  pauseButton_ = button(pause_);
  stopButton_ = button(stop_);
  layout->addLayout(buttons);

  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setFormat(tr("not started"));
  progress_->setTextVisible(true);
  layout->addWidget(progress_);
  state_ = new QLabel(tr("Ready: choose a bank, then Start (F5)."), this);
  state_->setWordWrap(true);
  layout->addWidget(state_);

  form_ = new TrainingForm(this);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(form_);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  layout->addWidget(scroll, 1);

  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(500);
  log_->setMaximumHeight(90);
  log_->setToolTip(tr("Messages of the trainer: loading, checkpoints, validation, stop reasons"));
  layout->addWidget(log_);

  connect(controller_, &TrainingController::started, this, &TrainingPanel::onStarted);
  connect(controller_, &TrainingController::metrics, this, &TrainingPanel::onMetrics);
  connect(controller_, &TrainingController::finished, this, &TrainingPanel::onFinished);
  connect(controller_, &TrainingController::failed, this, &TrainingPanel::onFailed);
  connect(controller_, &TrainingController::message, log_, &QPlainTextEdit::appendPlainText);
  connect(controller_, &TrainingController::pausedChanged, this, [this](bool paused) {
    pause_->setChecked(paused);
    state_->setText(paused ? tr("Paused (F6 resumes)") : tr("Training…"));
    // No ETA while nothing runs: it would count down a clock that is stopped.
    if (paused) progress_->setFormat(tr("paused at step %1 / %2").arg(progress_->value()).arg(totalSteps_));
    updateActions();
  });
  updateActions();
}

void TrainingPanel::setSources(std::function<MaskBank()> bank, std::function<QString()> teacherDir) {
  bank_ = std::move(bank);
  teacher_ = std::move(teacherDir);
}

bool TrainingPanel::fail(const QString& text, QString* error) {
  if (error) {
    *error = text;
  } else {
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot start training"), text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  }
  return false;
}

bool TrainingPanel::startTraining(QString* error) {
  if (controller_->isRunning()) return fail(tr("A run is already going on: stop it first (Shift+F5)."), error);
  DistillConfig config = form_->config();
  const MaskBank bank = bank_ ? bank_() : MaskBank{};
  try {
    bank.validate();
    if (config.dataPath.empty())
      throw std::invalid_argument("choose the training text (a .txt file or a folder of them) in the form");
    config.teacherDir = teacher_ ? teacher_().toStdString() : std::string();
    config.validate();
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()), error);
  }
  QString dir = form_->runFolder();
  if (dir.isEmpty())
    dir = TrainingForm::defaultRunsDir() + QStringLiteral("/run-") +
          QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  try {
    requireNoRunIn(dir.toStdString(), distillRunFiles());
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()) + tr(" (File → Open run… resumes a run)."), error);
  }
  // The bank that trains is saved in the run, so run.json names a file that repeats the run.
  try {
    QDir().mkpath(dir);
    const QString bankPath = QDir(dir).absoluteFilePath(QStringLiteral("bank.json"));
    MaskBank named = bank;
    if (named.name.empty()) named.name = "bank";
    named.save(bankPath.toStdString());
    config.bankPath = bankPath.toStdString();
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()), error);
  }
  runDir_ = QDir(dir).absolutePath();
  totalSteps_ = config.steps;
  Q_EMIT runStarting(runDir_);
  controller_->start(config, bank, runDir_, /*resume=*/false);
  state_->setText(tr("Starting: loading the teacher and the data…"));
  progress_->setFormat(tr("starting…"));
  log_->appendPlainText(tr("Run folder: %1").arg(runDir_));
  updateActions();
  return true;
}

bool TrainingPanel::resumeRun(const RunRecord& run, QString* error) {
  if (controller_->isRunning()) return fail(tr("A run is already going on: stop it first (Shift+F5)."), error);
  if (!run.hasCheckpoint) return fail(tr("%1 has no checkpoint (student.safetensors) to resume from.").arg(run.dir), error);
  DistillConfig config = run.config;
  config.steps = qMax<int64_t>(config.steps, form_->config().steps);  // a finished run may be extended
  runDir_ = run.dir;
  totalSteps_ = config.steps;
  Q_EMIT runStarting(runDir_);
  controller_->start(config, run.bank, runDir_, /*resume=*/true);
  state_->setText(tr("Resuming %1…").arg(run.dir));
  updateActions();
  return true;
}

void TrainingPanel::onStarted(const TrainingShape& shape) {
  totalSteps_ = shape.totalSteps;
  progress_->setRange(0, static_cast<int>(shape.totalSteps));
  progress_->setValue(static_cast<int>(shape.startStep));
  progress_->setFormat(tr("step %v / %m"));
  state_->setText(tr("Training…"));
  updateActions();
}

void TrainingPanel::onMetrics(const TrainingSamples& samples) {
  if (samples.isEmpty()) return;
  const auto& m = samples.back();
  progress_->setValue(static_cast<int>(m.step));
  const double eta = m.step > 0 ? m.elapsedSeconds / m.step * double(totalSteps_ - m.step) : 0;
  progress_->setFormat(tr("step %1 / %2 · %3 tok/s · ETA %4")
                           .arg(m.step)
                           .arg(totalSteps_)
                           .arg(m.tokensPerSecond, 0, 'f', 0)
                           .arg(duration(eta)));
}

void TrainingPanel::onFinished(bool stopped, qint64 step) {
  pause_->setChecked(false);
  progress_->setValue(static_cast<int>(step));
  progress_->setFormat(stopped ? tr("stopped at step %1 / %2").arg(step).arg(totalSteps_)
                               : tr("finished: %1 steps").arg(step));
  state_->setText(stopped ? tr("Stopped at step %1; checkpoint written in %2. Open the run (Ctrl+Shift+O) to resume it.")
                                .arg(step).arg(runDir_)
                          : tr("Finished at step %1; the run is in %2.").arg(step).arg(runDir_));
  updateActions();
}

void TrainingPanel::onFailed(const QString& text) {
  state_->setText(tr("The run stopped: %1").arg(text));
  auto* box = new QMessageBox(QMessageBox::Critical, tr("Training stopped"),
                              tr("%1\n\nThe app keeps running: change the settings (a lower learning rate, a smaller "
                                 "batch or sequence length, another model or text) and start again.").arg(text),
                              QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void TrainingPanel::updateActions() {
  const bool running = controller_->isRunning();
  start_->setEnabled(!running);
  pause_->setEnabled(running);
  stop_->setEnabled(running);
  pause_->setText(controller_->isPaused() ? tr("&Resume") : tr("&Pause"));
}

void TrainingPanel::showOpenedRun(qint64 steps, qint64 totalSteps, bool resumable) {
  totalSteps_ = totalSteps;
  progress_->setRange(0, static_cast<int>(std::max<qint64>(1, totalSteps)));
  progress_->setValue(static_cast<int>(std::min(steps, totalSteps)));
  progress_->setFormat(steps >= totalSteps ? tr("opened run: finished, %1 steps").arg(steps)
                                           : tr("opened run: step %1 / %2").arg(steps).arg(totalSteps));
  state_->setText(resumable && steps < totalSteps ? tr("Opened run at step %1 of %2: Ctrl+R resumes it.").arg(steps).arg(totalSteps)
                                                  : tr("Opened run: %1 steps.").arg(steps));
}

QString TrainingPanel::progressText() const { return progress_->text(); }

}  // namespace attnx::ui
