// Runs a distillation on a worker thread and reports to the GUI (architecture.md, "Threads").
// The worker prepares the run as attnx-cli does (core/train/distill_setup.h: the window's loaded
// teacher when the weights stay frozen, else its own), and runs DistillTrainer; the GUI thread only
// flips std::atomic flags (pause, stop) and receives batches of metrics, at most ~20 per second.
// Torch-free header: the trainer lives in the .cpp.
#pragma once

#include <QObject>
#include <QTimer>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "core/masks/mask_bank.h"
#include "core/train/distill_config.h"
#include "ui/bridge/training_types.h"

class QThread;

namespace attnx {
struct Teacher;  // core/eval/teacher.h
}

namespace attnx::ui {

class TrainingController : public QObject {
  Q_OBJECT
 public:
  // Minimum time between two metrics() signals (so at most 20 per second).
  static constexpr int kMetricsIntervalMs = 50;

  explicit TrainingController(QObject* parent = nullptr);
  // Stops a running job and waits for its thread (the trainer writes its checkpoint first).
  ~TrainingController() override;

  // Starts a job. config.teacherDir, dataPath and bankPath should be set (bankPath is what run.json
  // records; `bank` is what trains). runDir: the run folder (created). resume: continue from
  // runDir's checkpoint. Returns false (and does nothing) while a job runs.
  bool start(const DistillConfig& config, const MaskBank& bank, const QString& runDir, bool resume);
  // Where start() asks for an already loaded teacher to share (the main window's model); unset or
  // nullptr: the worker loads its own.
  void setTeacherSource(std::function<std::shared_ptr<attnx::Teacher>()> source) { teacherSource_ = std::move(source); }
  // Pause takes effect between two steps; stop answers within one step and writes a checkpoint.
  void setPaused(bool paused);
  void stop();

  bool isRunning() const { return static_cast<bool>(thread_); }
  bool isPaused() const { return pause_.load(); }
  // Whether a worker thread exists (false once a job has finished and its thread was joined).
  bool hasWorkerThread() const { return static_cast<bool>(thread_); }
  qint64 lastStep() const { return lastStep_; }
  const TrainingShape& shape() const { return shape_; }

 Q_SIGNALS:
  void started(const attnx::ui::TrainingShape& shape);
  void metrics(const attnx::ui::TrainingSamples& samples);
  void message(const QString& text);
  void pausedChanged(bool paused);
  // The run could not go on (load error, NaN loss, out of memory): what happened and what to do.
  void failed(const QString& text);
  // After the last metrics(); stopped: by stop(); the thread is gone when this is emitted.
  void finished(bool stopped, qint64 step);

 private:
  struct ThreadDeleter {
    void operator()(QThread* t) const;
  };
  struct Mailbox;  // metrics handed from the worker to the GUI thread

  void post(const TrainingSample& sample);  // worker thread
  void flushMetrics();                       // GUI thread
  void onWorkerDone(bool stopped, qint64 step, const QString& error);

  std::unique_ptr<QThread, ThreadDeleter> thread_;
  std::shared_ptr<Mailbox> mailbox_;
  QTimer flushTimer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> pause_{false};
  qint64 lastStep_ = 0;
  TrainingShape shape_;
  std::function<std::shared_ptr<attnx::Teacher>()> teacherSource_;
};

}  // namespace attnx::ui
