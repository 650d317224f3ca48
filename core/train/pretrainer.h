// Pretraining a small GPT-2 from scratch on text (next-token cross-entropy, AdamW, warm-up +
// cosine, gradient clipping). Resumable like distillation: batches are a pure function of the
// step and a checkpoint holds the weights (a Hugging Face folder) and AdamW's moments.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/model/gpt2.h"
#include "core/train/training_common.h"

namespace attnx {

class ProcessGroup;

struct PretrainConfig {
  std::string dataPath, validationPath;
  std::string tokenizerDir;  // copied into the model folder so it is self-contained
  int64_t layers = 4, heads = 4, width = 256, context = 512;
  int64_t steps = 2000, batchSize = 8, seqLen = 256;
  double learningRate = 2e-3, weightDecay = 0.1;  // decay on matrices only, not biases or norms
  int64_t warmupSteps = 100;
  double minLrRatio = 0.1, gradClip = 1.0;
  uint64_t seed = 0;
  int64_t validateEvery = 200, validationWindows = 16, checkpointEvery = 200;
  // How the run was last launched, recorded as in DistillConfig: batchSize is the global batch.
  int64_t worldSize = 1;
  std::string distBackend;

  Gpt2Config modelConfig() const;
  void validate() const;  // throws std::invalid_argument naming the field
  std::string toJsonText() const;
  static PretrainConfig fromJsonText(const std::string& text, const std::string& origin);
};

struct PretrainMetrics {
  int64_t step = 0;
  double loss = 0, learningRate = 0, gradNorm = 0, tokensPerSecond = 0, elapsedSeconds = 0;
  double validationLoss = -1;  // mean next-token NLL (nats) on the validation windows; < 0 when not run
  double allReduceSeconds = 0;  // a data-parallel run's gradient all-reduce (0 in one process)
  double peerWaitSeconds = 0;   // and its wait for the slowest rank before it
};

class Pretrainer {
 public:
  // outDir gets pretrain.json, metrics.csv, model/ (config.json, model.safetensors, vocab.json,
  // merges.txt) and optimizer.safetensors; "" keeps nothing on disk (a data-parallel rank other than 0).
  Pretrainer(PretrainConfig config, BatchSource batches, std::vector<std::vector<int64_t>> validation,
             std::string outDir, torch::Device device = torch::kCPU, RunFolder folder = RunFolder::New);
  ~Pretrainer();
  int64_t resumeIfPossible();
  // Data parallelism, as DistillTrainer::setProcessGroup: call before run().
  void setProcessGroup(std::shared_ptr<ProcessGroup> group);
  void run(const std::function<void(const PretrainMetrics&)>& onStep = {},
           const std::function<void(const std::string&)>& onMessage = {}, const std::atomic<bool>* stop = nullptr);
  double validationLoss();
  void saveCheckpoint();
  int64_t step() const;
  Gpt2 model() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace attnx
