#include "core/eval/run_student.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <torch/torch.h>

#include "core/cuda/sparse_attention_cuda.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/io/safetensors.h"
#include "core/train/distill_trainer.h"
#include "core/train/training_common.h"

namespace attnx {

std::unique_ptr<MaskMixtureAttention> fixedAlphaStudent(const MaskBank& bank, MixtureOptions options,
                                                        const std::vector<double>& alpha, int64_t numLayers,
                                                        int64_t numHeads, const torch::Device& device) {
  options.param = MixtureOptions::Parametrisation::ClampedRaw;
  options.granularity = MixtureOptions::Granularity::PerLayerHead;
  options.initialCoefficient = 0;
  const auto K = static_cast<int64_t>(bank.masks.size());
  MaskMixtureCoefficients c(numLayers, numHeads, K, options);
  {
    torch::NoGradGuard g;
    c->theta.copy_(torch::tensor(alpha, torch::kFloat64).view({numLayers, numHeads, K}));
  }
  c->to(device);
  return std::make_unique<MaskMixtureAttention>(bank, options, c, numLayers, numHeads);
}

MaskMixtureGate loadRunGate(const std::string& runDir, int64_t numLayers, int64_t numHeads, int64_t numMasks,
                            int64_t headDim, const torch::Device& device) {
  const auto path = (std::filesystem::path(runDir) / "student.safetensors").string();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": missing (a gated run keeps its gate there)");
  const auto file = SafetensorsFile::open(path);
  MaskMixtureGate gate(numLayers, numHeads, numMasks, headDim, 0.5);
  {
    torch::NoGradGuard g;
    gate->weight.copy_(readCheckpointTensor(file, "gate.weight", gate->weight));
    gate->bias.copy_(readCheckpointTensor(file, "gate.bias", gate->bias));
  }
  gate->to(device);
  return gate;
}

const char* runStudentKindName(RunStudentKind kind) {
  switch (kind) {
    case RunStudentKind::Compiled: return "compiled";
    case RunStudentKind::Masked: return "masked";
    case RunStudentKind::Soft: return "soft";
  }
  return "?";
}

RunStudentKind runStudentKindFromName(const std::string& name) {
  for (auto k : {RunStudentKind::Compiled, RunStudentKind::Masked, RunStudentKind::Soft})
    if (name == runStudentKindName(k)) return k;
  throw std::invalid_argument("unknown student \"" + name + "\" (known: compiled, masked, soft)");
}

std::string RunStudent::describe(const MaskBank& bank, int64_t n) const {
  char density[64];
  std::snprintf(density, sizeof density, "density %.4g at n=%lld", plan.meanDensity(bank, n), static_cast<long long>(n));
  const std::string what = kind == RunStudentKind::Compiled ? "compiled student"
                           : kind == RunStudentKind::Masked ? "dense-masked student"
                                                            : (gated ? "soft student (gated)" : "soft student");
  return what + " (" + planSource + ", " + std::to_string(plan.activeCount()) + " active masks, " + density + ")";
}

RunStudent makeRunStudent(const RunArtifacts& run, const Gpt2Config& config, RunStudentKind kind,
                          const std::optional<PruningRule>& rule, const torch::Device& device, int64_t blockSize) {
  const int64_t L = config.numLayers, H = config.numHeads, K = static_cast<int64_t>(run.bank.masks.size());
  if (run.numLayers != L || run.numHeads != H)
    throw std::runtime_error(run.dir + ": the run's student has " + std::to_string(run.numLayers) + " layers x " +
                             std::to_string(run.numHeads) + " heads, the model has " + std::to_string(L) + " x " +
                             std::to_string(H) + " (wrong --model or --teacher?)");
  const auto options = mixtureOptionsOf(run.config);
  RunStudent s;
  s.kind = kind;
  if (kind == RunStudentKind::Soft) {
    s.plan = AttentionPlan::fromAlpha(run.alpha, L, H, run.bank, PruningRule::thresholdRule(0));
    if (run.config.gate) {
      s.gated = true;
      s.planSource = "learned gate, every mask";
      s.kernel = std::make_unique<MaskMixtureAttention>(run.bank, options,
                                                        loadRunGate(run.dir, L, H, K, config.headDim(), device), L, H);
    } else {
      s.planSource = "learned alpha, every mask";
      s.kernel = fixedAlphaStudent(run.bank, options, run.alpha, L, H, device);
    }
    return s;
  }
  AttentionPlan plan;
  std::string source;
  if (rule) {
    plan = run.prune(*rule);
    source = "learned alpha pruned: " + rule->text();
  } else {
    auto chosen = run.defaultPlan();
    plan = std::move(chosen.plan);
    source = std::move(chosen.source);
  }
  return makePlanStudent(run, config, kind, std::move(plan), std::move(source), device, blockSize);
}

RunStudent makePlanStudent(const RunArtifacts& run, const Gpt2Config& config, RunStudentKind kind, AttentionPlan plan,
                           std::string planSource, const torch::Device& device, int64_t blockSize) {
  if (kind == RunStudentKind::Soft) throw std::invalid_argument("makePlanStudent: a plan's student is compiled or masked");
  plan.checkBank(run.bank);
  if (plan.numLayers != config.numLayers || plan.numHeads != config.numHeads)
    throw PlanError("the plan is for " + std::to_string(plan.numLayers) + " layers x " + std::to_string(plan.numHeads) +
                    " heads, the model has " + std::to_string(config.numLayers) + " x " + std::to_string(config.numHeads));
  if (plan.finetuneSteps > 0) planSource += ", fine-tuned " + std::to_string(plan.finetuneSteps) + " steps";
  const auto options = mixtureOptionsOf(run.config);
  RunStudent s;
  s.kind = kind;
  s.plan = std::move(plan);
  s.planSource = std::move(planSource);
  if (kind == RunStudentKind::Compiled) {
    if (!device.is_cpu() && !(device.is_cuda() && cudaSparseAttentionBuilt()))
      throw std::runtime_error("this build's compiled student runs on the CPU only (no CUDA kernel); on " +
                               device.str() + " use the dense-masked student (--student masked)");
    s.kernel = std::make_unique<CompiledPlanAttention>(s.plan, run.bank, run.combine(), options.normaliseBranches,
                                                       blockSize);
  } else {
    s.kernel = fixedAlphaStudent(run.bank, options, s.plan.alphaTensorValues(), config.numLayers, config.numHeads, device);
  }
  return s;
}

}  // namespace attnx
