#include "core/train/distill_trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/dist/data_parallel.h"
#include "core/dist/dist_env.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/train/metrics_log.h"
#include "core/train/training_common.h"

namespace attnx {
namespace fs = std::filesystem;

MixtureOptions mixtureOptionsOf(const DistillConfig& c) {
  MixtureOptions o;
  o.combine = c.combine == "branch-mixture" ? MixtureOptions::Combine::BranchMixture : MixtureOptions::Combine::SoftMask;
  o.granularity = c.granularity == "model"   ? MixtureOptions::Granularity::PerModel
                  : c.granularity == "layer" ? MixtureOptions::Granularity::PerLayer
                                             : MixtureOptions::Granularity::PerLayerHead;
  o.param = c.parametrisation == "sigmoid"   ? MixtureOptions::Parametrisation::Sigmoid
            : c.parametrisation == "clamped" ? MixtureOptions::Parametrisation::ClampedRaw
                                             : MixtureOptions::Parametrisation::Softplus;
  o.normaliseBranches = c.normaliseBranches;
  o.initialCoefficient = c.initialCoefficient;
  return o;
}

namespace {

constexpr const char* kCheckpointName = "student.safetensors";

// A frozen copy of GPT-2, needed as the teacher only when the student's weights train too.
Gpt2 frozenCopy(Gpt2& model) {
  Gpt2 copy(model->config());
  torch::NoGradGuard g;
  auto src = model->named_parameters();
  for (auto& p : copy->named_parameters()) p.value().set_data(src[p.key()].detach().clone());
  if (!model->lmHeadTied()) copy->untieLmHead(model->lmHeadWeight());
  copy->to(model->wte->weight.device());
  for (auto& p : copy->parameters()) p.set_requires_grad(false);
  copy->eval();
  return copy;
}

}  // namespace

struct DistillTrainer::State {
  DistillConfig config;
  Gpt2 model{nullptr};    // the module the student runs (the teacher's own unless weights train)
  Gpt2 teacher{nullptr};  // frozen
  MaskBank bank;
  BatchSource batches;
  std::vector<std::vector<int64_t>> validation;
  std::string runDir;
  MaskMixtureCoefficients coeffs{nullptr};  // the static coefficients (null when gated)
  MaskMixtureGate gate{nullptr};            // the gating network (null unless config.gate)
  std::unique_ptr<MaskMixtureAttention> kernel;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<std::pair<std::string, torch::Tensor>> trainable;  // stable names for checkpoints
  torch::Tensor l1Weights;  // (K): 1, or each mask's density at seqLen
  int64_t step = 0;
  double elapsed = 0;
  torch::Device device = torch::kCPU;
  MetricsLog metrics;  // opened by resumeIfPossible() or at the start of run()
  std::shared_ptr<ProcessGroup> group;  // null: one process
  bool synced = false;                  // run() has taken rank 0's state

  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> out;
    for (const auto& [name, p] : trainable) out.push_back(p);
    return out;
  }

  double learningRateAt(int64_t s) const {
    return warmupCosineLr(s, config.learningRate, config.warmupSteps, config.steps, config.minLrRatio);
  }

  std::string path(const std::string& name) const { return (fs::path(runDir) / name).string(); }

  std::string metricsHeader() const {
    std::ostringstream h;
    h << "step,loss,kl,l1,hidden,lr,grad_norm,tokens_per_s,elapsed_s,val_kl";
    const auto& cfg = model->config();
    for (int64_t l = 0; l < cfg.numLayers; ++l)
      for (int64_t hd = 0; hd < cfg.numHeads; ++hd)
        for (const auto& m : bank.masks) h << ",a.L" << l << ".H" << hd << "." << m.name;
    return h.str();
  }
};

DistillTrainer::DistillTrainer(DistillConfig config, Gpt2 teacher, MaskBank bank, BatchSource batches,
                               std::vector<std::vector<int64_t>> validationWindows, std::string runDir, RunFolder folder)
    : s_(std::make_unique<State>()) {
  config.validate();
  if (!runDir.empty() && folder == RunFolder::New) requireNoRunIn(runDir, distillRunFiles());
  if (bank.masks.empty()) throw std::invalid_argument("the mask bank is empty");
  auto& s = *s_;
  s.config = std::move(config);
  s.bank = std::move(bank);
  s.batches = std::move(batches);
  s.validation = std::move(validationWindows);
  s.runDir = std::move(runDir);
  s.device = teacher->wte->weight.device();
  const auto& cfg = teacher->config();
  if (s.config.seqLen > cfg.contextLength)
    throw std::invalid_argument("seq_len " + std::to_string(s.config.seqLen) + " exceeds the teacher's context of " +
                                std::to_string(cfg.contextLength));

  s.model = teacher;
  s.teacher = s.config.trainAllWeights ? frozenCopy(teacher) : teacher;
  for (auto& p : s.model->named_parameters()) {
    // Written only when it changes: a frozen teacher may be shared with readers on other threads.
    if (p.value().requires_grad() != s.config.trainAllWeights) p.value().set_requires_grad(s.config.trainAllWeights);
    if (s.config.trainAllWeights) s.trainable.emplace_back("model." + p.key(), p.value());
  }
  // GPT-2 has no dropout here; eval mode documents that nothing is stochastic (set only when it
  // changes, like requires_grad above).
  if (s.model->is_training()) s.model->eval();

  const auto K = static_cast<int64_t>(s.bank.masks.size());
  torch::manual_seed(s.config.seed);
  if (s.config.gate) {
    s.gate = MaskMixtureGate(cfg.numLayers, cfg.numHeads, K, cfg.headDim(), s.config.initialCoefficient);
    s.gate->to(s.device);
    s.trainable.insert(s.trainable.begin(), {{"gate.weight", s.gate->weight}, {"gate.bias", s.gate->bias}});
    s.kernel = std::make_unique<MaskMixtureAttention>(s.bank, mixtureOptionsOf(s.config), s.gate, cfg.numLayers,
                                                      cfg.numHeads);
  } else {
    s.coeffs = MaskMixtureCoefficients(cfg.numLayers, cfg.numHeads, K, mixtureOptionsOf(s.config));
    s.coeffs->to(s.device);
    s.trainable.insert(s.trainable.begin(), {"theta", s.coeffs->theta});
    s.kernel = std::make_unique<MaskMixtureAttention>(s.bank, mixtureOptionsOf(s.config), s.coeffs, cfg.numLayers,
                                                      cfg.numHeads);
  }

  std::vector<double> w(K, 1.0);
  if (s.config.l1DensityWeighted)
    for (int64_t k = 0; k < K; ++k) w[k] = s.bank.masks[k].density(s.config.seqLen);
  s.l1Weights = torch::tensor(w, torch::kFloat32).to(s.device);

  std::vector<torch::Tensor> params;
  for (auto& [name, p] : s.trainable) params.push_back(p);
  s.optimizer = std::make_unique<torch::optim::AdamW>(
      params, torch::optim::AdamWOptions(s.config.learningRate).weight_decay(s.config.weightDecay));

  if (!s.runDir.empty()) {
    fs::create_directories(s.runDir);
    writeFileAtomically(s.path("run.json"), s.config.toJsonText());
  }
}

DistillTrainer::~DistillTrainer() = default;


void DistillTrainer::setProcessGroup(std::shared_ptr<ProcessGroup> group) {
  if (group && s_->config.batchSize % group->size() != 0)
    throw std::invalid_argument("--batch-size " + std::to_string(s_->config.batchSize) +
                                " is the global batch and must divide by WORLD_SIZE=" + std::to_string(group->size()));
  s_->group = std::move(group);
}

int64_t DistillTrainer::step() const { return s_->step; }
const MaskMixtureAttention& DistillTrainer::student() const { return *s_->kernel; }
MaskMixtureCoefficients DistillTrainer::coefficients() const { return s_->coeffs; }
MaskMixtureGate DistillTrainer::gate() const { return s_->gate; }

DistillTrainer::StaticAlpha DistillTrainer::staticAlpha() {
  auto& s = *s_;
  if (!s.gate) return {s.coeffs->alpha().detach().to(torch::kCPU, torch::kFloat64).contiguous(), "coefficients"};
  // Gated: the mean gate per (layer, head, mask) over the validation tokens, or over the tokens of
  // the current step's training batch when the run has no validation text.
  std::vector<std::vector<int64_t>> windows = s.validation;
  std::string source = "mean gate over the validation tokens";
  if (windows.empty()) {
    windows = s.batches(std::max<int64_t>(s.step, 1));
    source = "mean gate over the tokens of the training batch of step " + std::to_string(std::max<int64_t>(s.step, 1));
  }
  torch::NoGradGuard g;
  s.kernel->startGateRecording();
  try {
    const auto B = static_cast<size_t>(s.config.batchSize);
    for (size_t i = 0; i < windows.size(); i += B) {
      std::vector<std::vector<int64_t>> chunk(windows.begin() + i, windows.begin() + std::min(windows.size(), i + B));
      s.model->forward(windowsToBatch(chunk, s.device), nullptr, s.kernel.get());
    }
  } catch (...) {
    try {
      s.kernel->takeGateMeans();  // ends the recording
    } catch (const std::logic_error&) {
      // some layer saw no token before the failure: nothing to end
    }
    throw;
  }
  return {s.kernel->takeGateMeans().to(torch::kCPU, torch::kFloat64).contiguous(), source};
}

double DistillTrainer::validationKl() {
  auto& s = *s_;
  if (s.validation.empty()) return -1;
  torch::NoGradGuard g;
  double sum = 0;
  int64_t tokens = 0;
  const auto B = static_cast<size_t>(s.config.batchSize);
  // Each rank scores its contiguous share of the windows; the sums are added over the ranks.
  const auto [first, last] = s.group ? shareOf(int64_t(s.validation.size()), s.group->rank(), s.group->size())
                                     : std::pair<int64_t, int64_t>{0, int64_t(s.validation.size())};
  for (size_t i = size_t(first); i < size_t(last); i += B) {
    std::vector<std::vector<int64_t>> chunk(s.validation.begin() + i, s.validation.begin() + std::min(size_t(last), i + B));
    auto ids = windowsToBatch(chunk, s.device);
    auto kl = distillationKl(s.teacher->forward(ids), s.model->forward(ids, nullptr, s.kernel.get()), 1.0);
    sum += kl.item<double>() * ids.numel();
    tokens += ids.numel();
  }
  if (s.group) {
    auto totals = torch::tensor({sum, double(tokens)}, torch::kFloat64).to(s.device);
    s.group->sumInPlace({totals}, "the validation of step " + std::to_string(s.step));
    totals = totals.to(torch::kCPU);
    return totals[0].item<double>() / totals[1].item<double>();
  }
  return sum / tokens;
}

void DistillTrainer::saveCheckpoint() {
  auto& s = *s_;
  if (s.runDir.empty()) return;
  // Every trainable parameter with AdamW's two moments; the step in the metadata.
  CheckpointWriter w;
  const int64_t adamStep = w.addAdamState(*s.optimizer, s.trainable, /*withValues=*/true);
  w.write(s.path(kCheckpointName), {{"format", "attnx-student"}, {"step", std::to_string(s.step)},
                                    {"adam_step", std::to_string(adamStep)}, {"elapsed_s", std::to_string(s.elapsed)}});

  // The learned bank: the bank itself plus α (L, H, K) as nested lists (for a gated run the mean
  // gate, so that pruning plans and eval keep one static α per head).
  const auto [alpha, source] = staticAlpha();
  nlohmann::ordered_json j;
  j["format"] = "attnx-learned-bank";
  j["version"] = 1;
  j["step"] = s.step;
  j["alpha_source"] = source;
  j["bank"] = s.bank.toJson();
  std::vector<std::vector<std::vector<double>>> a(alpha.size(0));
  for (int64_t l = 0; l < alpha.size(0); ++l)
    for (int64_t h = 0; h < alpha.size(1); ++h) {
      auto row = alpha[l][h];
      a[l].emplace_back(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    }
  j["alpha"] = a;
  writeFileAtomically(s.path("learned_bank.json"), j.dump(1) + "\n");
}

int64_t DistillTrainer::resumeIfPossible() {
  auto& s = *s_;
  if (s.runDir.empty()) return 0;
  if (fs::exists(s.path(kCheckpointName))) {
    const auto file = SafetensorsFile::open(s.path(kCheckpointName));
    if (checkpointMetadata(file, "format") != "attnx-student")
      throw std::runtime_error(s.path(kCheckpointName) + ": not an attnx student checkpoint");
    restoreAdamState(file, *s.optimizer, s.trainable, checkpointInteger(file, "adam_step"), /*withValues=*/true);
    s.step = checkpointInteger(file, "step");
    s.elapsed = checkpointNumber(file, "elapsed_s");
  }
  // Rows logged after the checkpoint (a crash between checkpoints; every row when the run was
  // killed before its first one) are dropped, so none repeat.
  s.metrics = MetricsLog::open(s.path("metrics.csv"), s.metricsHeader(), s.step);
  return s.step;
}

void DistillTrainer::run(const DistillCallbacks& callbacks, const std::atomic<bool>* stop,
                         const std::atomic<bool>* pause) {
  auto& s = *s_;
  auto say = [&](const std::string& m) { if (callbacks.onMessage) callbacks.onMessage(m); };
  if (!s.runDir.empty() && !s.metrics.isOpen()) s.metrics = MetricsLog::open(s.path("metrics.csv"), s.metricsHeader(), s.step);
  if (s.group && !s.synced) {
    // Rank 0's parameters, moments and step (its checkpoint when it resumed): any world size resumes.
    auto params = s.parameters();
    broadcastTrainingState(*s.group, params, *s.optimizer, s.step, s.elapsed);
    s.synced = true;
  }
  int64_t lastCheckpoint = s.step;
  auto checkpoint = [&] {
    saveCheckpoint();
    lastCheckpoint = s.step;
    if (!s.runDir.empty()) say("checkpoint at step " + std::to_string(s.step) + " in " + s.runDir);
  };

  while (s.step < s.config.steps) {
    while (pause && pause->load() && !(stop && stop->load())) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // A data-parallel rank never stops alone: its stop travels with this step's gradients (below).
    if (stop && stop->load() && !s.group) {
      say("stopped at step " + std::to_string(s.step));
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t next = s.step + 1;
    StepMetrics m;
    m.step = next;
    torch::Tensor stepAlpha;
    StepExchange exchange;
    try {
      auto windows = s.batches(next);
      if (s.group) windows = localShare(windows, s.group->rank(), s.group->size());
      auto ids = windowsToBatch(windows, s.device);
      torch::Tensor hT, zT;
      {
        torch::NoGradGuard g;
        hT = s.teacher->hidden(ids);
        zT = s.teacher->logits(hT);
      }
      if (s.gate) s.kernel->startGateRecording();
      auto hS = s.model->hidden(ids, nullptr, s.kernel.get());
      // (L, H, K): the coefficients, or the gate outputs averaged over this batch's tokens.
      stepAlpha = s.gate ? s.kernel->takeGateMeans() : s.coeffs->alpha();
      auto zS = s.model->logits(hS);
      auto kl = distillationKl(zT, zS, s.config.temperature);
      auto l1 = (stepAlpha.abs() * s.l1Weights).sum();
      auto hidden = torch::mse_loss(hS, hT);
      auto loss = kl + s.config.lambdaL1 * l1 + s.config.lambdaHidden * hidden;
      m.loss = loss.item<double>();
      m.kl = kl.item<double>();
      m.l1 = l1.item<double>();
      m.hidden = hidden.item<double>();
      auto requireFiniteLoss = [&] {
        if (!std::isfinite(m.loss))
          throw TrainingStopped("step " + std::to_string(next) + ": the loss is not finite (KL " + std::to_string(m.kl) +
                                ", L1 " + std::to_string(m.l1) + "); the run stopped and the last good checkpoint (step " +
                                std::to_string(lastCheckpoint) + ") is kept. Try a lower learning rate or temperature.");
      };
      // Data-parallel ranks check the averaged loss after the all-reduce, so that all stop together.
      if (!s.group) requireFiniteLoss();
      s.optimizer->zero_grad();
      loss.backward();
      auto params = s.parameters();
      if (s.group) {
        // Each rank's loss is the mean over its equal share: the average over ranks is the global mean.
        exchange.scalars = {m.loss, m.kl, m.l1, m.hidden};
        exchange.stopRequested = stop && stop->load();
        if (s.gate) exchange.extra = stepAlpha.detach().clone();
        averageStep(*s.group, params, exchange, next);
        m.loss = exchange.scalars[0];
        m.kl = exchange.scalars[1];
        m.l1 = exchange.scalars[2];
        m.hidden = exchange.scalars[3];
        m.allReduceSeconds = exchange.seconds;
        m.peerWaitSeconds = exchange.waitSeconds;
        if (s.gate) stepAlpha = exchange.extra;
        requireFiniteLoss();
      }
      m.gradNorm = s.config.gradClip > 0 ? torch::nn::utils::clip_grad_norm_(params, s.config.gradClip)
                                         : torch::nn::utils::clip_grad_norm_(params, 1e30);
      if (!std::isfinite(m.gradNorm))
        throw TrainingStopped("step " + std::to_string(next) + ": the gradients are not finite; the run stopped and "
                              "the last good checkpoint (step " + std::to_string(lastCheckpoint) + ") is kept.");
      m.learningRate = s.learningRateAt(next);
      stepAdamW(*s.optimizer, m.learningRate);
      s.step = next;
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      s.elapsed += dt;
      // The whole job's tokens: rank 0's step time includes waiting for the slowest rank.
      m.tokensPerSecond = static_cast<double>(ids.numel()) * (s.group ? s.group->size() : 1) / dt;
      m.elapsedSeconds = s.elapsed;
    } catch (const std::exception&) {
      rethrowStepFailure(next, lastCheckpoint);
    }
    if (s.config.validateEvery > 0 && (s.step % s.config.validateEvery == 0 || s.step == s.config.steps))
      m.validationKl = validationKl();
    // Coefficients after the step; a gate's mean over this step's tokens (as they were before the update).
    auto alpha = (s.gate ? stepAlpha : s.coeffs->alpha()).detach().to(torch::kCPU, torch::kFloat32).contiguous();
    m.alpha.assign(alpha.data_ptr<float>(), alpha.data_ptr<float>() + alpha.numel());
    if (s.metrics.isOpen()) {
      std::ostringstream row;
      row << m.step << ',' << m.loss << ',' << m.kl << ',' << m.l1 << ',' << m.hidden << ',' << m.learningRate << ','
          << m.gradNorm << ',' << m.tokensPerSecond << ',' << m.elapsedSeconds << ',';
      if (m.validationKl >= 0) row << m.validationKl;
      for (float a : m.alpha) row << ',' << a;
      try {
        s.metrics.append(row.str());
      } catch (const std::runtime_error& e) {
        throw TrainingStopped(std::string(e.what()) + "; the run stopped at step " + std::to_string(s.step) +
                              " and the last good checkpoint (step " + std::to_string(lastCheckpoint) + ") is kept");
      }
    }
    if (callbacks.onStep) callbacks.onStep(m);
    if (s.config.checkpointEvery > 0 && s.step % s.config.checkpointEvery == 0) checkpoint();
    if (!exchange.stoppingRanks.empty()) {
      std::string who;
      for (int r : exchange.stoppingRanks) who += (who.empty() ? "rank " : ", rank ") + std::to_string(r);
      say("stopped at step " + std::to_string(s.step) + " on every rank (" + who + " was interrupted)");
      break;
    }
  }
  if (lastCheckpoint != s.step || s.step == 0) checkpoint();
  // The other ranks leave only once rank 0's last checkpoint is on disk: a rank that exits 0 means
  // the run is saved.
  if (s.group) s.group->barrier("the final checkpoint's barrier");
}

}  // namespace attnx
