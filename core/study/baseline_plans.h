// The plans a learned plan is compared with (method.md, "Baselines and the study"), made with the same
// AttentionPlan machinery as learned plans, so that density and cost are counted by the same code and
// they run through the same compiled kernel. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/eval/attention_plan.h"
#include "core/masks/mask_bank.h"

namespace attnx {

struct BaselinePlan {
  MaskBank bank;
  AttentionPlan plan;
  PlanCombine combine = PlanCombine::SoftMask;
};

// Every head the same, no training: a window of `window` keys and `sinks` leading keys (StreamingLLM),
// or blocks of `block` and `sinks` sinks; soft mask with weight 1 (plain softmax over the union).
// sinks = 0: the window or block alone.
BaselinePlan uniformWindowSinks(int64_t numLayers, int64_t numHeads, int64_t window, int64_t sinks);
BaselinePlan uniformBlockSinks(int64_t numLayers, int64_t numHeads, int64_t block, int64_t sinks);

// The control: every head's ladder over the whole bank (every mask, weight 1, soft mask), costs drawn at
// random (seeded), spent by the same budgeted allocator as a learned plan at `target` density at n: plans
// of the same kinds and density as the learned ones, chosen without looking at the model.
BaselinePlan randomAllocation(const MaskBank& bank, int64_t numLayers, int64_t numHeads, double target, int64_t n,
                              uint64_t seed);

// DuoAttention-style: alpha from a distillation over the bank {full, window, sinks} (in that order, soft
// mask); the heads with the largest share of their alpha on "full" keep it (retrieval heads), the others
// drop it (streaming heads: window + sinks), as many full heads as `target` density at n allows.
AttentionPlan duoPlan(const std::vector<double>& alpha, int64_t numLayers, int64_t numHeads, const MaskBank& bank,
                      double target, int64_t n);

}  // namespace attnx
