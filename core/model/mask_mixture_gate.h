// The optional gating network of method.md ("Coefficients"): per-token coefficients
// alpha_{l,h,k}(x_i) = sigmoid(W_g x_i + b_g), NSA-style.
//
// What the gate sees: the attention kernel only receives q, k and v (attention_kernel.h), so the
// gate reads the head's query vector q_i = W_q LN(x_i) + b_q (head size d) instead of x_i. That is a
// gate on x_i whose weight is factored through the head's query projection (rank <= d per head),
// affine in LN(x_i) like the gate of the method, with no change to the kernel interface and no
// extra per-token input.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace attnx {

class MaskMixtureGateImpl : public torch::nn::Module {
 public:
  // weight (L, H, K, d) starts at 0 and bias (L, H, K) at logit(initialGate), so every gate starts
  // at initialGate for every token (the static alpha of an ungated run with the same start).
  // Throws std::invalid_argument for a non-positive size or initialGate outside (0, 1).
  MaskMixtureGateImpl(int64_t numLayers, int64_t numHeads, int64_t numMasks, int64_t headDim, double initialGate);

  // q: (B, H, Tq, d) -> alpha (B, H, Tq, K) in (0, 1), differentiable with respect to the gate and q.
  torch::Tensor forward(const torch::Tensor& q, int64_t layer) const;

  int64_t numLayers() const { return numLayers_; }
  int64_t numHeads() const { return numHeads_; }
  int64_t numMasks() const { return numMasks_; }
  int64_t headDim() const { return headDim_; }

  torch::Tensor weight;  // registered as "weight"
  torch::Tensor bias;    // registered as "bias"

 private:
  int64_t numLayers_, numHeads_, numMasks_, headDim_;
};
TORCH_MODULE(MaskMixtureGate);

}  // namespace attnx
