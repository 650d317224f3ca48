// The student of a distillation run as an AttentionKernel, built one way for every reader (attnx-cli
// score, generate, eval, bench and the desktop analysis): the pruned plan through the compiled
// block-sparse kernel, the same plan dense-masked, or the unpruned soft student.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/eval/attention_plan.h"
#include "core/eval/run_artifacts.h"
#include "core/model/attention_kernel.h"
#include "core/model/gpt2_config.h"
#include "core/model/mask_mixture_attention.h"

namespace attnx {

// A dense-masked student whose alpha are fixed values ((L, H, K) row-major): ClampedRaw coefficients
// with theta = alpha, so alpha is exactly the given values (0 = mask off). options supplies the
// combine mode and normaliseBranches; its parametrisation and granularity are replaced.
std::unique_ptr<MaskMixtureAttention> fixedAlphaStudent(const MaskBank& bank, MixtureOptions options,
                                                        const std::vector<double>& alpha, int64_t numLayers,
                                                        int64_t numHeads, const torch::Device& device = torch::kCPU);

// The gating network of a gated run, read from RUN/student.safetensors (throws naming the file).
MaskMixtureGate loadRunGate(const std::string& runDir, int64_t numLayers, int64_t numHeads, int64_t numMasks,
                            int64_t headDim, const torch::Device& device = torch::kCPU);

enum class RunStudentKind {
  Compiled,  // the pruned plan through CompiledPlanAttention (block-sparse, CPU)
  Masked,    // the same plan through MaskMixtureAttention: dense scores, masked; same numbers
  Soft,      // no pruning: every mask with its learned alpha (a gated run: its gate), dense-masked
};
// "compiled", "masked", "soft" as the command line writes them.
const char* runStudentKindName(RunStudentKind kind);
// Throws std::invalid_argument listing the names.
RunStudentKind runStudentKindFromName(const std::string& name);

struct RunStudent {
  RunStudentKind kind = RunStudentKind::Compiled;
  std::unique_ptr<AttentionKernel> kernel;
  AttentionPlan plan;      // what runs: the pruned plan, or (soft) every alpha > 0
  std::string planSource;  // "plan.json (top-2)", "the learned alpha pruned (threshold 0.05)", ...
  bool gated = false;      // soft student of a gated run: alpha per token, plan is the mean gate's

  // "compiled student (plan.json (top-2), 8 active masks, density 0.312 at n=64)": for output.
  std::string describe(const MaskBank& bank, int64_t n) const;
};

// The student of `run` for a GPT-2 with `config`. rule: prune the learned alpha with it; none: the
// run's default plan (RunArtifacts::defaultPlan; Soft ignores both).
// Throws std::runtime_error when the run's shape does not fit the model.
RunStudent makeRunStudent(const RunArtifacts& run, const Gpt2Config& config, RunStudentKind kind,
                          const std::optional<PruningRule>& rule = std::nullopt,
                          const torch::Device& device = torch::kCPU, int64_t blockSize = 64);

// The student of `run` running a given hard `plan` (a plan file, a fine-tuned plan): kind Compiled or
// Masked. Throws PlanError when the plan does not fit the run's bank or the model's shape.
RunStudent makePlanStudent(const RunArtifacts& run, const Gpt2Config& config, RunStudentKind kind, AttentionPlan plan,
                           std::string planSource, const torch::Device& device = torch::kCPU, int64_t blockSize = 64);

}  // namespace attnx
