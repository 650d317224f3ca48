// Fine-tuning a hard plan's weights; see plan_finetuner.h.
#include "core/train/plan_finetuner.h"

#include <chrono>
#include <cmath>

#include <torch/torch.h>

#include "core/eval/compiled_plan_attention.h"

namespace attnx {

namespace {

// Freezes every parameter of `model` for the guard's life, then restores each flag.
class FrozenWeights {
 public:
  explicit FrozenWeights(Gpt2& model) {
    for (auto& p : model->parameters()) {
      params_.push_back(p);
      flags_.push_back(p.requires_grad());
      p.set_requires_grad(false);
    }
  }
  ~FrozenWeights() {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].set_requires_grad(flags_[i]);
  }
  FrozenWeights(const FrozenWeights&) = delete;
  FrozenWeights& operator=(const FrozenWeights&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<bool> flags_;
};

}  // namespace

PlanFinetuneResult finetunePlan(Gpt2& model, const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine,
                                bool normaliseBranches, const BatchSource& batches, const PlanFinetuneConfig& config,
                                const std::function<void(int64_t, double)>& onStep, const std::atomic<bool>* stop) {
  const auto t0 = std::chrono::steady_clock::now();
  PlanFinetuneResult result;
  result.plan = plan;
  if (config.steps <= 0) return result;
  const auto device = model->wte->weight.device();
  FrozenWeights frozen(model);
  CompiledPlanAttention kernel(plan, bank, combine, normaliseBranches);
  // theta = log w on the active masks; pruned masks sit at a finite placeholder that the kernel's
  // activity mask zeroes, so they get no gradient.
  auto theta = kernel.alpha().clamp_min(1e-30).log().detach().clone().set_requires_grad(true);  // (L, H, K)
  torch::optim::AdamW optimizer({theta}, torch::optim::AdamWOptions(config.learningRate).weight_decay(0));
  int64_t step = 0;
  for (step = 1; step <= config.steps; ++step) {
    if (stop && stop->load()) break;
    const auto ids = windowsToBatch(batches(step), device);
    torch::Tensor zT;
    {
      torch::NoGradGuard g;
      zT = model->forward(ids);
    }
    kernel.setAlpha(theta.exp());
    const auto kl = distillationKl(zT, model->forward(ids, nullptr, &kernel), config.temperature);
    const double value = kl.item<double>();
    if (!std::isfinite(value))
      throw TrainingStopped("plan fine-tuning, step " + std::to_string(step) + ": the loss is not finite");
    if (step == 1) result.firstKl = value;
    result.lastKl = value;
    optimizer.zero_grad();
    kl.backward();
    if (config.gradClip > 0) torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{theta}, config.gradClip);
    stepAdamW(optimizer, warmupCosineLr(step, config.learningRate, 0, config.steps, 0.1));
    if (onStep) onStep(step, value);
  }
  const int64_t taken = step - 1;
  const auto w = theta.detach().exp().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto* wd = w.data_ptr<double>();
  const int64_t K = plan.numMasks();
  for (size_t hd = 0; hd < result.plan.heads.size(); ++hd)
    for (auto& e : result.plan.heads[hd]) e.weight = wd[hd * static_cast<size_t>(K) + static_cast<size_t>(e.maskIndex)];
  result.plan.finetuneSteps = plan.finetuneSteps + taken;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace attnx
