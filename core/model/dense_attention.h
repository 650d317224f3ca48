// Dense causal softmax attention: GPT-2's own, and the reference every sparse variant is tested against.
#pragma once

#include "core/model/attention_kernel.h"

namespace attnx {

// Boolean (Tq, Tk) matrix, true where query queryOffset+i may attend key j (j <= queryOffset+i).
torch::Tensor causalMask(int64_t Tq, int64_t Tk, int64_t queryOffset, const torch::Device& device);

class DenseCausalAttention final : public AttentionKernel {
 public:
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t layer, int64_t queryOffset) const override;
  torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                              int64_t queryOffset) const override;
};

}  // namespace attnx
