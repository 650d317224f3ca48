#include "ui/bridge/training_controller.h"

#include <QDir>
#include <QThread>
#include <algorithm>
#include <filesystem>
#include <vector>

#include <torch/torch.h>

#include "core/train/distill_setup.h"
#include "core/train/distill_trainer.h"

namespace attnx::ui {

struct TrainingController::Mailbox {
  std::mutex mutex;
  TrainingSamples pending;
  bool notified = false;  // a wake-up is already on its way to the GUI thread
};

void TrainingController::ThreadDeleter::operator()(QThread* t) const {
  t->quit();
  t->wait();
  delete t;
}

namespace {


}  // namespace

TrainingController::TrainingController(QObject* parent) : QObject(parent), mailbox_(std::make_shared<Mailbox>()) {
  registerTrainingTypes();
  flushTimer_.setSingleShot(true);
  flushTimer_.setInterval(kMetricsIntervalMs);
  connect(&flushTimer_, &QTimer::timeout, this, &TrainingController::flushMetrics);
}

TrainingController::~TrainingController() {
  stop();
  thread_.reset();  // quits and waits; the trainer has checkpointed by then
}

bool TrainingController::start(const DistillConfig& config, const MaskBank& bank, const QString& runDir, bool resume) {
  if (thread_) return false;
  stop_ = false;
  pause_ = false;
  lastStep_ = 0;
  {
    std::lock_guard<std::mutex> lock(mailbox_->mutex);
    mailbox_->pending.clear();
    mailbox_->notified = false;
  }
  const std::string dir = runDir.toStdString();
  // Everything the worker needs is copied into the lambda; it talks back only through queued calls.
  auto loaded = teacherSource_ ? teacherSource_() : nullptr;
  auto work = [this, config, bank, dir, resume, loaded] {
    bool stopped = false;
    qint64 step = 0;
    QString error;
    auto say = [this](const QString& text) {
      QMetaObject::invokeMethod(this, [this, text] { Q_EMIT message(text); }, Qt::QueuedConnection);
    };
    try {
      DistillSetupOptions setup;
      setup.loaded = loaded;
      setup.bank = bank;
      setup.say = [say](const std::string& line) { say(QString::fromStdString(line)); };
      auto in = prepareDistill(config, std::move(setup));
      Gpt2 teacher = in.teacher->model;
      DistillTrainer trainer(config, teacher, std::move(in.bank), std::move(in.batches), std::move(in.validation), dir,
                             resume ? RunFolder::Resume : RunFolder::New);
      const int64_t from = resume ? trainer.resumeIfPossible() : 0;
      if (resume) say(tr("Resuming after step %1").arg(from));

      TrainingShape shape;
      shape.layers = static_cast<int>(teacher->config().numLayers);
      shape.heads = static_cast<int>(teacher->config().numHeads);
      for (const auto& m : bank.masks) shape.maskNames << QString::fromStdString(m.name);
      shape.totalSteps = config.steps;
      shape.startStep = from;
      shape.runDir = QString::fromStdString(dir);
      QMetaObject::invokeMethod(this, [this, shape] { shape_ = shape; Q_EMIT started(shape); }, Qt::QueuedConnection);

      DistillCallbacks callbacks;
      callbacks.onStep = [this](const StepMetrics& m) { post(m); };
      callbacks.onMessage = [say](const std::string& m) { say(QString::fromStdString(m)); };
      trainer.run(callbacks, &stop_, &pause_);
      stopped = stop_.load() && trainer.step() < config.steps;
      step = trainer.step();
    } catch (const TrainingStopped& e) {
      error = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    QMetaObject::invokeMethod(this, [this, stopped, step, error] { onWorkerDone(stopped, step, error); },
                              Qt::QueuedConnection);
  };
  thread_.reset(QThread::create(work));
  thread_->setObjectName(QStringLiteral("attnx-training"));
  thread_->start();
  return true;
}

void TrainingController::setPaused(bool paused) {
  if (pause_.exchange(paused) != paused) Q_EMIT pausedChanged(paused);
}

void TrainingController::stop() {
  stop_ = true;
  setPaused(false);
}

void TrainingController::post(const TrainingSample& sample) {
  std::lock_guard<std::mutex> lock(mailbox_->mutex);
  mailbox_->pending.push_back(sample);
  if (mailbox_->notified) return;  // the GUI will take this one with the others
  mailbox_->notified = true;
  QMetaObject::invokeMethod(this, [this] { if (!flushTimer_.isActive()) flushTimer_.start(); }, Qt::QueuedConnection);
}

void TrainingController::flushMetrics() {
  TrainingSamples batch;
  {
    std::lock_guard<std::mutex> lock(mailbox_->mutex);
    batch.swap(mailbox_->pending);
    mailbox_->notified = false;
  }
  if (batch.isEmpty()) return;
  lastStep_ = batch.back().step;
  Q_EMIT metrics(batch);
}

void TrainingController::onWorkerDone(bool stopped, qint64 step, const QString& error) {
  flushTimer_.stop();
  flushMetrics();  // every step reaches the GUI before finished()
  thread_.reset();
  if (step > 0) lastStep_ = step;
  if (!error.isEmpty()) Q_EMIT failed(error);
  Q_EMIT finished(stopped, lastStep_);
}

}  // namespace attnx::ui
