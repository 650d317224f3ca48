// The student's attention: a learned mixture of the candidate masks of a MaskBank (method.md,
// "Coefficients" and "Two ways to combine"). Dense: every mode computes the full (Tq, Tk) score
// matrix and masks it, so it is the exact reference the compiled block-sparse student is tested against.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <tuple>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/masks/mask_bank.h"
#include "core/model/attention_kernel.h"

namespace attnx {

struct MixtureOptions {
  // SoftMask: P = softmax(S + log W), W_ij = sum_k alpha_k m_k(i, j).
  // BranchMixture: O = sum_k alpha_k softmax_{j in supp_k}(S) V.
  enum class Combine { SoftMask, BranchMixture } combine = Combine::SoftMask;
  // Which coefficients are shared: one set for the model, one per layer, or one per (layer, head).
  enum class Granularity { PerModel, PerLayer, PerLayerHead } granularity = Granularity::PerLayerHead;
  // alpha = softplus(theta), sigmoid(theta) (alpha < 1) or max(theta, 0).
  enum class Parametrisation { Softplus, Sigmoid, ClampedRaw } param = Parametrisation::Softplus;
  // BranchMixture only: divide alpha by its sum over the masks (per layer and head).
  bool normaliseBranches = false;
  // alpha at initialisation, the same for every coefficient. Softplus needs > 0 (0 is reached only
  // in the limit; values <= 1e-8 start at theta = -20); Sigmoid needs (0, 1); ClampedRaw needs >= 0.
  double initialCoefficient = 1.0;
};

// The trainable parameters theta and their map to alpha >= 0. theta has shape (1, 1, K) per model,
// (L, 1, K) per layer or (L, H, K) per layer and head; alpha() always broadcasts to (L, H, K).
class MaskMixtureCoefficientsImpl : public torch::nn::Module {
 public:
  // Throws std::invalid_argument for a non-positive size or an initialCoefficient the
  // parametrisation cannot represent.
  MaskMixtureCoefficientsImpl(int64_t numLayers, int64_t numHeads, int64_t numMasks, const MixtureOptions& options);

  // (L, H, K), non-negative, differentiable with respect to theta.
  torch::Tensor alpha() const;

  int64_t numLayers() const { return numLayers_; }
  int64_t numHeads() const { return numHeads_; }
  int64_t numMasks() const { return numMasks_; }
  MixtureOptions::Parametrisation parametrisation() const { return param_; }

  torch::Tensor theta;  // registered as "theta"

 private:
  int64_t numLayers_, numHeads_, numMasks_;
  MixtureOptions::Parametrisation param_;
};
TORCH_MODULE(MaskMixtureCoefficients);

// theta that gives alpha under `param` (the inverse map used at initialisation); exposed for tests.
double inverseParametrisation(MixtureOptions::Parametrisation param, double alpha);

// An AttentionKernel mixing the masks of `bank` with the coefficients' alpha of the layer.
//
// Mask length: mask values are MaskSpec::allows(i, j, n) with n = Tk, the number of keys seen so
// far. For every family except painted the pattern does not depend on n, but a painted mask scales
// its grid with n: during incremental decoding (KV cache, Tq = 1) n grows by one per step, so a
// painted mask decoded token by token differs from the same mask over the full sequence.
//
// Empty rows: every bank mask contains the diagonal, so a branch never has an empty row. In the
// soft mask a row is empty only when alpha is 0 for every mask of that head; such a row falls back
// to the diagonal (query i attends only key i) so that no output is NaN. In the branch mixture an
// all-zero alpha gives a zero output for that head (also with normaliseBranches).
//
// Cost: O(B H Tq Tk) like dense attention; the branch mixture loops over the masks, holding one
// (B, H, Tq, Tk) probability tensor at a time (autograd keeps each branch's for backward, so a
// training step holds K of them: the compiled sparse kernel is the cheap path, not this one).
class MaskMixtureAttention final : public AttentionKernel {
 public:
  // Throws std::invalid_argument when the coefficients' shape does not match (numLayers, numHeads,
  // bank size) or the bank is empty.
  MaskMixtureAttention(MaskBank bank, MixtureOptions options, MaskMixtureCoefficients coefficients,
                       int64_t numLayers, int64_t numHeads);

  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t layer, int64_t queryOffset) const override;
  // SoftMask: P. BranchMixture: sum_k alpha_k P_k (alpha normalised when the options say so).
  torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                              int64_t queryOffset) const override;

  // The stacked masks (K, Tq, Tk), bool, on `device`: row r is query queryOffset + r with
  // queryOffset = Tk - Tq, at length n = Tk. Cached (a small LRU keyed by Tq, Tk and device).
  torch::Tensor masks(int64_t Tq, int64_t Tk, const torch::Device& device) const;
  void clearMaskCache() const;

  const MaskBank& bank() const { return bank_; }
  const MixtureOptions& options() const { return options_; }
  MaskMixtureCoefficients coefficients() const { return coefficients_; }

 private:
  // alpha of `layer`, (H, K), in `dtype` and on `device` (normalised for a normalised branch mixture).
  torch::Tensor layerAlpha(int64_t layer, torch::Dtype dtype, const torch::Device& device) const;
  torch::Tensor scores(const torch::Tensor& q, const torch::Tensor& k) const;
  torch::Tensor softMaskProbabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                      int64_t queryOffset) const;
  // Calls visit(maskIndex, alpha (1, H, 1, 1), P_k (B, H, Tq, Tk)) for every branch that is active.
  template <typename Visit>
  void forEachBranch(const torch::Tensor& q, const torch::Tensor& k, int64_t layer, int64_t queryOffset,
                     Visit&& visit) const;
  void checkInputs(const torch::Tensor& q, const torch::Tensor& k, int64_t layer, int64_t queryOffset) const;

  static constexpr size_t kMaskCacheEntries = 16;  // enough for training (one shape) and a decode burst
  MaskBank bank_;
  MixtureOptions options_;
  MaskMixtureCoefficients coefficients_;
  int64_t numLayers_, numHeads_;
  mutable std::mutex cacheMutex_;
  mutable std::list<std::tuple<int64_t, int64_t, std::string, torch::Tensor>> cache_;  // most recent first
};

}  // namespace attnx
