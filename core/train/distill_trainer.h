// Distillation of a mask-mixture student from its GPT-2 teacher (method.md, "Training").
// The student is the teacher's own module with its attention swapped: no copy of the weights.
// Loss = τ²·KL(softmax(z_T/τ) ‖ softmax(z_S/τ)) + λ₁·Σ (ρ_k)|α| + λ_h·MSE(h_T, h_S).
//
// Resumable and reproducible: batches are a pure function of (seed, step), and a checkpoint holds
// θ, AdamW's moments and the step, so a run resumed from step s follows the uninterrupted one.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/masks/mask_bank.h"
#include "core/model/gpt2.h"
#include "core/model/mask_mixture_attention.h"
#include "core/train/distill_config.h"
#include "core/train/step_metrics.h"
#include "core/train/training_common.h"

namespace attnx {

class ProcessGroup;

struct DistillCallbacks {
  std::function<void(const StepMetrics&)> onStep;
  std::function<void(const std::string&)> onMessage;  // checkpoints, validation, stop reasons
};

MixtureOptions mixtureOptionsOf(const DistillConfig& config);

class DistillTrainer {
 public:
  // teacher: the loaded GPT-2 (frozen unless config.trainAllWeights). runDir: where run.json,
  // metrics.csv, learned_bank.json and student.safetensors go ("" = keep nothing on disk); a New
  // run refuses a folder that already holds a run's files, a Resume continues it (resumeIfPossible).
  DistillTrainer(DistillConfig config, Gpt2 teacher, MaskBank bank, BatchSource batches,
                 std::vector<std::vector<int64_t>> validationWindows, std::string runDir,
                 RunFolder folder = RunFolder::New);
  ~DistillTrainer();

  // Continues from runDir/student.safetensors if present (same config required); metric rows
  // after its step are dropped. Returns the step it resumes after (0 when there is no checkpoint yet).
  int64_t resumeIfPossible();

  // Data parallelism (core/dist): call before run(). run() then starts from rank 0's state (its
  // checkpoint when it resumed), each step trains on this rank's share of the step's global batch
  // and averages the gradients with the other ranks before clipping, validation is sharded and
  // summed, and the ranks stop together. Only rank 0 should be given a runDir: it alone writes.
  void setProcessGroup(std::shared_ptr<ProcessGroup> group);

  // Runs until config.steps or until *stop becomes true (then a checkpoint is written). While
  // *pause is true it waits between steps. Throws TrainingStopped on NaN/Inf loss or OOM.
  void run(const DistillCallbacks& callbacks = {}, const std::atomic<bool>* stop = nullptr,
           const std::atomic<bool>* pause = nullptr);

  int64_t step() const;
  const MaskMixtureAttention& student() const;
  MaskMixtureCoefficients coefficients() const;  // null for a gated run
  MaskMixtureGate gate() const;                  // null unless config.gate

  // The static α (L, H, K), float64 on the CPU, that learned_bank.json holds and pruning and eval use:
  // the coefficients, or for a gated run the mean gate over the validation tokens (over the current
  // step's training batch when there is no validation text). `source` says which.
  struct StaticAlpha {
    torch::Tensor alpha;
    std::string source;
  };
  StaticAlpha staticAlpha();
  // Mean KL(teacher ‖ student) per token over the validation windows (with a process group: a
  // collective, each rank scoring its share).
  double validationKl();
  // Writes the checkpoint and the learned bank now (atomically).
  void saveCheckpoint();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace attnx
