#include "core/train/pretrainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/dist/data_parallel.h"
#include "core/dist/dist_env.h"
#include "core/io/atomic_file.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/train/metrics_log.h"
#include "core/train/training_common.h"
#include "core/util/json_fields.h"

namespace attnx {
namespace fs = std::filesystem;

#define ATTNX_PRETRAIN_FIELDS(X)                                                                      \
  X(dataPath, "data") X(validationPath, "validation") X(tokenizerDir, "tokenizer") X(layers, "n_layer") \
  X(heads, "n_head") X(width, "n_embd") X(context, "n_positions") X(steps, "steps")                    \
  X(batchSize, "batch_size") X(seqLen, "seq_len") X(learningRate, "learning_rate")                     \
  X(weightDecay, "weight_decay") X(warmupSteps, "warmup_steps") X(minLrRatio, "min_lr_ratio")          \
  X(gradClip, "grad_clip") X(seed, "seed") X(validateEvery, "validate_every")                          \
  X(validationWindows, "validation_windows") X(checkpointEvery, "checkpoint_every")                   \
  X(worldSize, "world_size") X(distBackend, "dist_backend")

Gpt2Config PretrainConfig::modelConfig() const {
  Gpt2Config c;
  c.numLayers = layers;
  c.numHeads = heads;
  c.embedDim = width;
  c.contextLength = context;
  return c;
}

void PretrainConfig::validate() const {
  modelConfig().validate();
  auto need = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(steps >= 1 && batchSize >= 1, "steps and batch_size must be ≥ 1");
  need(seqLen >= 2 && seqLen <= context, "seq_len must be in [2, n_positions]");
  need(learningRate > 0 && weightDecay >= 0, "learning_rate must be > 0 and weight_decay ≥ 0");
  need(warmupSteps >= 0 && minLrRatio >= 0 && minLrRatio <= 1, "warmup_steps ≥ 0 and min_lr_ratio in [0, 1]");
  need(gradClip >= 0 && validateEvery >= 0 && checkpointEvery >= 0 && validationWindows >= 1,
       "grad_clip, validate_every, checkpoint_every must be ≥ 0 and validation_windows ≥ 1");
  need(worldSize >= 1 && batchSize % worldSize == 0, "batch_size (the global batch) must divide by world_size");
}

std::string PretrainConfig::toJsonText() const {
  nlohmann::ordered_json j;
  j["format"] = "attnx-pretrain-run";
  j["version"] = 1;
#define X(member, key) j[key] = member;
  ATTNX_PRETRAIN_FIELDS(X)
#undef X
  return j.dump(2) + "\n";
}

PretrainConfig PretrainConfig::fromJsonText(const std::string& text, const std::string& origin) {
  const auto j = parseVersionedJson(text, origin, "attnx-pretrain-run", 1);
  PretrainConfig c;
  JsonFieldReader read(j, origin);
#define X(member, key) read(c.member, key);
  ATTNX_PRETRAIN_FIELDS(X)
#undef X
  read.rejectUnknown();
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
  return c;
}

struct Pretrainer::State {
  PretrainConfig config;
  BatchSource batches;
  std::vector<std::vector<int64_t>> validation;
  std::string outDir;
  torch::Device device = torch::kCPU;
  Gpt2 model{nullptr};
  NamedParameters params;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  int64_t step = 0;
  double elapsed = 0;
  MetricsLog metrics;  // opened by resumeIfPossible() or at the start of run()
  std::shared_ptr<ProcessGroup> group;  // null: one process
  bool synced = false;

  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> out;
    for (const auto& [name, p] : params) out.push_back(p);
    return out;
  }

  std::string path(const std::string& name) const { return (fs::path(outDir) / name).string(); }
  static std::string header() { return "step,loss,lr,grad_norm,tokens_per_s,elapsed_s,val_loss"; }

  // Mean next-token cross-entropy over the batch, in nats.
  torch::Tensor lossOf(const torch::Tensor& ids) {
    const auto T = ids.size(1), V = model->config().vocabSize;
    auto logits = model->forward(ids.narrow(1, 0, T - 1));
    return torch::nn::functional::cross_entropy(logits.reshape({-1, V}), ids.narrow(1, 1, T - 1).reshape({-1}));
  }
};

Pretrainer::Pretrainer(PretrainConfig config, BatchSource batches, std::vector<std::vector<int64_t>> validation,
                       std::string outDir, torch::Device device, RunFolder folder)
    : s_(std::make_unique<State>()) {
  config.validate();
  if (folder == RunFolder::New && !outDir.empty()) requireNoRunIn(outDir, {"pretrain.json", "metrics.csv", "optimizer.safetensors"});
  auto& s = *s_;
  s.config = std::move(config);
  s.batches = std::move(batches);
  s.validation = std::move(validation);
  s.outDir = std::move(outDir);
  s.device = device;
  s.model = Gpt2(s.config.modelConfig());
  s.model->initWeights(s.config.seed);
  s.model->to(device);
  s.model->train();

  // AdamW's decoupled decay applies to matrices (embeddings and projections), not biases or norms.
  std::vector<torch::Tensor> decay, noDecay;
  for (auto& p : s.model->named_parameters()) {
    s.params.emplace_back(p.key(), p.value());
    (p.value().dim() >= 2 ? decay : noDecay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(s.config.learningRate).weight_decay(s.config.weightDecay)));
  groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(s.config.learningRate).weight_decay(0.0)));
  s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups));

  if (s.outDir.empty()) return;
  fs::create_directories(s.outDir);
  writeFileAtomically(s.path("pretrain.json"), s.config.toJsonText());
}

void Pretrainer::setProcessGroup(std::shared_ptr<ProcessGroup> group) {
  if (group && s_->config.batchSize % group->size() != 0)
    throw std::invalid_argument("--batch-size " + std::to_string(s_->config.batchSize) +
                                " is the global batch and must divide by WORLD_SIZE=" + std::to_string(group->size()));
  s_->group = std::move(group);
}

Pretrainer::~Pretrainer() = default;
int64_t Pretrainer::step() const { return s_->step; }
Gpt2 Pretrainer::model() const { return s_->model; }

double Pretrainer::validationLoss() {
  auto& s = *s_;
  if (s.validation.empty()) return -1;
  torch::NoGradGuard g;
  double sum = 0;
  const auto B = static_cast<size_t>(s.config.batchSize);
  // Each rank scores its contiguous share of the windows; the sums are added over the ranks.
  const auto [first, last] = s.group ? shareOf(int64_t(s.validation.size()), s.group->rank(), s.group->size())
                                     : std::pair<int64_t, int64_t>{0, int64_t(s.validation.size())};
  for (size_t i = size_t(first); i < size_t(last); i += B) {
    std::vector<std::vector<int64_t>> chunk(s.validation.begin() + i, s.validation.begin() + std::min(size_t(last), i + B));
    sum += s.lossOf(windowsToBatch(chunk, s.device)).item<double>() * chunk.size();
  }
  if (s.group) {
    auto total = torch::tensor({sum}, torch::kFloat64).to(s.device);
    s.group->sumInPlace({total}, "the validation of step " + std::to_string(s.step));
    sum = total.to(torch::kCPU).item<double>();
  }
  return sum / static_cast<double>(s.validation.size());
}

void Pretrainer::saveCheckpoint() {
  auto& s = *s_;
  if (s.outDir.empty()) return;
  const auto modelDir = s.path("model");
  saveGpt2(s.model, modelDir);
  for (const char* f : {"vocab.json", "merges.txt"}) {
    const auto src = fs::path(s.config.tokenizerDir) / f;
    if (!s.config.tokenizerDir.empty() && fs::exists(src))
      fs::copy_file(src, fs::path(modelDir) / f, fs::copy_options::overwrite_existing);
  }
  CheckpointWriter w;
  const int64_t adamStep = w.addAdamState(*s.optimizer, s.params, /*withValues=*/false);
  w.write(s.path("optimizer.safetensors"), {{"format", "attnx-pretrain-optimizer"}, {"step", std::to_string(s.step)},
                                            {"adam_step", std::to_string(adamStep)},
                                            {"elapsed_s", std::to_string(s.elapsed)}});
}

int64_t Pretrainer::resumeIfPossible() {
  auto& s = *s_;
  if (s.outDir.empty()) return 0;
  if (!fs::exists(s.path("optimizer.safetensors")) || !isGpt2Folder(s.path("model"))) {
    s.metrics = MetricsLog::open(s.path("metrics.csv"), State::header(), 0);  // killed before its first checkpoint
    return 0;
  }
  const auto file = SafetensorsFile::open(s.path("optimizer.safetensors"));
  auto saved = loadGpt2(s.path("model"));
  {
    torch::NoGradGuard g;
    auto src = saved->named_parameters();
    for (auto& [name, p] : s.params) p.copy_(src[name]);
  }
  restoreAdamState(file, *s.optimizer, s.params, checkpointInteger(file, "adam_step"), false);
  s.step = checkpointInteger(file, "step");
  s.elapsed = checkpointNumber(file, "elapsed_s");
  s.metrics = MetricsLog::open(s.path("metrics.csv"), State::header(), s.step);
  return s.step;
}

void Pretrainer::run(const std::function<void(const PretrainMetrics&)>& onStep,
                     const std::function<void(const std::string&)>& onMessage, const std::atomic<bool>* stop) {
  auto& s = *s_;
  auto say = [&](const std::string& m) { if (onMessage) onMessage(m); };
  if (!s.outDir.empty() && !s.metrics.isOpen()) s.metrics = MetricsLog::open(s.path("metrics.csv"), State::header(), s.step);
  if (s.group && !s.synced) {
    // Rank 0's weights, moments and step (its checkpoint when it resumed): any world size resumes.
    broadcastTrainingState(*s.group, s.parameters(), *s.optimizer, s.step, s.elapsed);
    s.synced = true;
  }
  int64_t lastCheckpoint = s.step;
  auto checkpoint = [&] {
    saveCheckpoint();
    lastCheckpoint = s.step;
    say("checkpoint at step " + std::to_string(s.step) + " in " + s.outDir);
  };
  while (s.step < s.config.steps) {
    // A data-parallel rank never stops alone: its stop travels with this step's gradients (below).
    if (stop && stop->load() && !s.group) {
      say("stopped at step " + std::to_string(s.step));
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    PretrainMetrics m;
    m.step = s.step + 1;
    StepExchange exchange;
    try {
      auto windows = s.batches(m.step);
      if (s.group) windows = localShare(windows, s.group->rank(), s.group->size());
      auto ids = windowsToBatch(windows, s.device);
      auto loss = s.lossOf(ids);
      m.loss = loss.item<double>();
      auto requireFiniteLoss = [&] {
        if (!std::isfinite(m.loss))
          throw TrainingStopped("step " + std::to_string(m.step) + ": the loss is not finite; the run stopped and the "
                                "last good checkpoint (step " + std::to_string(lastCheckpoint) + ") is kept. "
                                "Try a lower learning rate.");
      };
      // Data-parallel ranks check the averaged loss after the all-reduce, so that all stop together.
      if (!s.group) requireFiniteLoss();
      s.optimizer->zero_grad();
      loss.backward();
      auto ps = s.parameters();
      if (s.group) {
        exchange.scalars = {m.loss};
        exchange.stopRequested = stop && stop->load();
        averageStep(*s.group, ps, exchange, m.step);
        m.loss = exchange.scalars[0];
        m.allReduceSeconds = exchange.seconds;
        m.peerWaitSeconds = exchange.waitSeconds;
        requireFiniteLoss();
      }
      m.gradNorm = torch::nn::utils::clip_grad_norm_(ps, s.config.gradClip > 0 ? s.config.gradClip : 1e30);
      m.learningRate = warmupCosineLr(m.step, s.config.learningRate, s.config.warmupSteps, s.config.steps,
                                      s.config.minLrRatio);
      stepAdamW(*s.optimizer, m.learningRate);
      s.step = m.step;
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      s.elapsed += dt;
      m.tokensPerSecond = static_cast<double>(ids.numel()) * (s.group ? s.group->size() : 1) / dt;
      m.elapsedSeconds = s.elapsed;
    } catch (const std::exception&) {
      rethrowStepFailure(m.step, lastCheckpoint);
    }
    if (s.config.validateEvery > 0 && (s.step % s.config.validateEvery == 0 || s.step == s.config.steps))
      m.validationLoss = validationLoss();
    std::ostringstream row;
    row << m.step << ',' << m.loss << ',' << m.learningRate << ',' << m.gradNorm << ',' << m.tokensPerSecond << ','
        << m.elapsedSeconds << ',';
    if (m.validationLoss >= 0) row << m.validationLoss;
    try {
      if (s.metrics.isOpen()) s.metrics.append(row.str());
    } catch (const std::runtime_error& e) {
      throw TrainingStopped(std::string(e.what()) + "; the run stopped at step " + std::to_string(s.step) +
                            " and the last good checkpoint (step " + std::to_string(lastCheckpoint) + ") is kept");
    }
    if (onStep) onStep(m);
    if (s.config.checkpointEvery > 0 && s.step % s.config.checkpointEvery == 0) checkpoint();
    if (!exchange.stoppingRanks.empty()) {
      std::string who;
      for (int r : exchange.stoppingRanks) who += (who.empty() ? "rank " : ", rank ") + std::to_string(r);
      say("stopped at step " + std::to_string(s.step) + " on every rank (" + who + " was interrupted)");
      break;
    }
  }
  if (lastCheckpoint != s.step || s.step == 0) checkpoint();
  if (s.group) s.group->barrier("the final checkpoint's barrier");
}

}  // namespace attnx
