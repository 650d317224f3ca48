// Pieces both trainers (distillation, pretraining) share: the learning-rate schedule, AdamW
// state in checkpoints, batches of token windows, and how a failed step is reported.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/safetensors.h"
#include "core/train/run_folder.h"

namespace attnx {

// Batches of token windows for a step: a pure function of the step, so a resumed run draws
// exactly the batches an uninterrupted one would.
using BatchSource = std::function<std::vector<std::vector<int64_t>>(int64_t step)>;

// Raised when a run cannot go on (NaN loss, out of memory); the last good checkpoint is kept.
struct TrainingStopped : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// τ²·KL(softmax(zT/τ) ‖ softmax(zS/τ)), mean over tokens: the distillation loss.
torch::Tensor distillationKl(const torch::Tensor& zT, const torch::Tensor& zS, double tau);

// Sets every parameter group's learning rate, then takes the optimiser step.
void stepAdamW(torch::optim::AdamW& optimizer, double learningRate);

// Call inside a catch block around a training step: rethrows the exception in flight, turning
// out-of-memory, or a lost data-parallel peer, into a TrainingStopped that names the step and the last
// good checkpoint.
[[noreturn]] void rethrowStepFailure(int64_t step, int64_t lastCheckpoint);

// Linear warm-up to `peak` over `warmup` steps, then cosine decay to peak·minRatio at `total`.
// step is 1-based (the step about to be taken).
double warmupCosineLr(int64_t step, double peak, int64_t warmup, int64_t total, double minRatio);

// (B, T) int64 on `device` from equal-length windows.
torch::Tensor windowsToBatch(const std::vector<std::vector<int64_t>>& windows, const torch::Device& device);

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

// Collects F32 tensors and writes them as one safetensors file (atomically).
class CheckpointWriter {
 public:
  void add(const std::string& name, const torch::Tensor& t);
  // Each parameter's value (when withValues) and AdamW moments "adam.exp_avg.<name>", "adam.exp_avg_sq.<name>";
  // returns AdamW's step count (0 before the first step).
  int64_t addAdamState(torch::optim::AdamW& optimizer, const NamedParameters& params, bool withValues);
  void write(const std::string& path, const std::map<std::string, std::string>& metadata);

 private:
  std::vector<torch::Tensor> keep_;
  std::vector<TensorToWrite> records_;
};

// Reads tensor `name` of `file` shaped like `like` (throws naming the tensor when absent or mis-shaped).
torch::Tensor readCheckpointTensor(const SafetensorsFile& file, const std::string& name, const torch::Tensor& like);
// Restores values (when withValues) and AdamW moments written by CheckpointWriter::addAdamState.
void restoreAdamState(const SafetensorsFile& file, torch::optim::AdamW& optimizer, const NamedParameters& params,
                      int64_t adamStep, bool withValues);
// A metadata value of a checkpoint (throws naming the key when absent).
std::string checkpointMetadata(const SafetensorsFile& file, const std::string& key);

// True for the exceptions LibTorch and the C++ runtime raise when memory runs out.
bool isOutOfMemory(const std::exception& e);

// A checkpoint's metadata value as a number; std::runtime_error "<file>: metadata "<key>" ..." when
// it is missing or not one (a damaged or hand-edited checkpoint).
int64_t checkpointInteger(const SafetensorsFile& file, const std::string& key);
double checkpointNumber(const SafetensorsFile& file, const std::string& key);


}  // namespace attnx
