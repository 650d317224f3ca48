// The seam between GPT-2 and whatever computes attention. GPT-2's blocks project q, k, v and the
// output; a kernel only mixes values. The teacher uses DenseCausalAttention; a student swaps in a
// mask-mixture kernel while sharing every weight of the same GPT-2 module.
#pragma once

#include <torch/types.h>

namespace attnx {

class AttentionKernel {
 public:
  virtual ~AttentionKernel() = default;

  // q: (B, H, Tq, d); k, v: (B, H, Tk, d) with Tk = queryOffset + Tq (keys are every position
  // seen so far, queries the last Tq of them). Returns (B, H, Tq, d).
  virtual torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                int64_t layer, int64_t queryOffset) const = 0;

  // The attention weights P (B, H, Tq, Tk) for heatmaps; computed on demand, never during training.
  virtual torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                      int64_t queryOffset) const = 0;
};

}  // namespace attnx
