// The compiled student: an AttentionKernel that runs a hard AttentionPlan through the block-sparse
// CPU kernel (core/masks/sparse_attention.h) instead of masking a dense (Tq, Tk) score matrix. Same
// semantics as MaskMixtureAttention with the plan's weights as alpha (0 for pruned masks), so it
// drops into score, generate and eval wherever the dense-masked student goes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "core/eval/attention_plan.h"
#include "core/masks/block_layout.h"
#include "core/model/attention_kernel.h"

namespace attnx {

struct SparseHeads;  // core/masks/sparse_attention.h

class CompiledPlanAttention final : public AttentionKernel {
 public:
  // Throws PlanError when the plan does not fit the bank (names) or is invalid.
  // normaliseBranches: branch mixture only, divide alpha by its sum over the head's active masks.
  CompiledPlanAttention(AttentionPlan plan, MaskBank bank, PlanCombine combine, bool normaliseBranches = false,
                        int64_t blockSize = 64);

  // q: (B, H, Tq, d), k, v: (B, H, Tk, d), float32 on the CPU, any queryOffset = Tk - Tq (KV-cache
  // decoding compiles the last rows only). Layouts are cached per (Tk, queryOffset).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t layer,
                        int64_t queryOffset) const override;
  // Over the keys a bounded KV cache holds (AttentionKernel::forwardAt): layouts compiled at the held
  // positions, cached per key set, so decoding with sinks + window keys costs sinks + window per row.
  torch::Tensor forwardAt(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t layer,
                          const std::vector<int64_t>& keyPositions) const override;
  // The plan's reach (AttentionPlan::keyReach): bounded for a window/sink plan.
  std::optional<KeyReach> keyReach() const override { return reach_; }
  // Dense rows (B, H, Tq, Tk) for heatmaps, from the same layouts; memory grows as Tq * Tk.
  torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                              int64_t queryOffset) const override;

  // The weights, (L, H, K) float32: the plan's by default. Pruned masks are never computed, whatever
  // their value here. Set a tensor that requires grad to train the weights of the active masks.
  const torch::Tensor& alpha() const { return alpha_; }
  void setAlpha(torch::Tensor alpha);

  const PlanLayoutCache& layouts() const { return *cache_; }
  // Soft mask: the union layout of each head of `layer` with its active masks' columns, what one call
  // hands the sparse kernel (the weights are layerAlpha's).
  std::shared_ptr<SparseHeads> unionHeads(const PlanLayouts& layouts, int64_t layer) const;
  const AttentionPlan& plan() const { return cache_->plan(); }

 private:
  torch::Tensor layerAlpha(int64_t layer) const;  // (H, K); zero for pruned masks, normalised if asked
  void checkInputs(const torch::Tensor& q, const torch::Tensor& k, int64_t layer, int64_t queryOffset) const;
  torch::Tensor run(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t layer,
                    const PlanLayouts& layouts) const;

  std::shared_ptr<PlanLayoutCache> cache_;
  PlanCombine combine_;
  bool normaliseBranches_;
  torch::Tensor alpha_;   // (L, H, K)
  torch::Tensor active_;  // (L, H, K) 1 for the plan's active masks, else 0
  std::optional<KeyReach> reach_;
};

}  // namespace attnx
