// The student's attention: a learned mixture of the candidate masks of a MaskBank (method.md,
// "Coefficients" and "Two ways to combine"). Dense: every mode computes the full (Tq, Tk) score
// matrix and masks it, so it is the exact reference the compiled block-sparse student is tested against.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/masks/mask_bank.h"
#include "core/model/attention_kernel.h"
#include "core/model/branch_mixture.h"
#include "core/model/mask_mixture_gate.h"

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

// An AttentionKernel mixing the masks of `bank` with the coefficients' alpha of the layer, or with
// the per-token alpha of a gate (mask_mixture_gate.h), which then replaces the coefficients.
//
// Mask length: mask values are MaskSpec::allows(i, j, n) with n = Tk, the number of keys seen so
// far. No family's pattern depends on n (method.md: every mask is causal and length-free), so a
// prefix's outputs do not change when tokens are appended, and KV-cache decoding token by token
// equals the full pass (tests/test_causality).
//
// Empty rows: every bank mask contains the diagonal, so a branch never has an empty row. In the
// soft mask a row is empty only when alpha is 0 for every mask of that head (or a gate underflows
// to 0 for every mask of that token); such a row falls back to the diagonal (query i attends only
// key i) so that no output is NaN. In the branch mixture an all-zero alpha gives a zero output for
// that head (also with normaliseBranches).
//
// Cost: O(B H Tq Tk) like dense attention. The soft mask is one softmax over S + log W. The branch
// mixture shares one exponential E = exp(S - rowmax) across the masks (branch_mixture.h): two
// K-deep contractions and one (B, H, Tq, Tk) tensor kept for backward, whatever K is; every mask
// takes part (alpha = 0 just contributes 0), the compiled sparse kernel is what skips masks.
class MaskMixtureAttention final : public AttentionKernel {
 public:
  // Throws std::invalid_argument when the coefficients' shape does not match (numLayers, numHeads,
  // bank size) or the bank is empty.
  MaskMixtureAttention(MaskBank bank, MixtureOptions options, MaskMixtureCoefficients coefficients,
                       int64_t numLayers, int64_t numHeads);
  // Gated: alpha_k(i) = gate(q_i) per token (options.param, granularity and initialCoefficient are
  // not used). Throws std::invalid_argument when the gate's shape does not match or the bank is empty.
  MaskMixtureAttention(MaskBank bank, MixtureOptions options, MaskMixtureGate gate, int64_t numLayers,
                       int64_t numHeads);

  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t layer, int64_t queryOffset) const override;
  // SoftMask: P. BranchMixture: sum_k alpha_k P_k (alpha normalised when the options say so).
  // Gated: with the gate's alpha of each query.
  torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                              int64_t queryOffset) const override;

  // The stacked masks (K, Tq, Tk), bool, on `device`: row r is query queryOffset + r with
  // queryOffset = Tk - Tq, at length n = Tk. Cached (a small LRU keyed by Tq, Tk and device).
  torch::Tensor masks(int64_t Tq, int64_t Tk, const torch::Device& device) const;
  void clearMaskCache() const;

  // The masks of masks() in the float layouts of the contractions (cached like masks(); returned by
  // value so that an eviction by another thread cannot pull it away).
  BranchMaskLayout layout(int64_t Tq, int64_t Tk, const torch::Device& device, torch::Dtype dtype) const;

  const MaskBank& bank() const { return bank_; }
  const MixtureOptions& options() const { return options_; }
  // Null for a gated kernel.
  MaskMixtureCoefficients coefficients() const { return coefficients_; }
  // Null for an ungated kernel.
  MaskMixtureGate gate() const { return gate_; }

  // Gate statistics for the L1 penalty and for a gated run's static alpha. While recording, every
  // forward() adds the sum of its gate outputs over batch and queries (with gradient) per layer;
  // takeGateMeans() returns the mean per token, (L, H, K), and stops recording. Throws
  // std::logic_error for an ungated kernel or a layer that saw no token. Not thread-safe across
  // concurrent forward passes of one kernel (training runs one at a time).
  void startGateRecording() const;
  torch::Tensor takeGateMeans() const;

 private:
  // alpha per query, (B, H, Tq, K) (an expanded view of (1, H, 1, K) when static), in q's dtype,
  // normalised for a normalised branch mixture. record: add to the gate statistics when recording.
  torch::Tensor queryAlpha(const torch::Tensor& q, int64_t layer, bool record) const;
  // alpha of `layer`, (H, K), in `dtype` and on `device` (not normalised).
  torch::Tensor layerAlpha(int64_t layer, torch::Dtype dtype, const torch::Device& device) const;
  torch::Tensor scores(const torch::Tensor& q, const torch::Tensor& k) const;
  torch::Tensor softMaskProbabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                      int64_t queryOffset, bool record) const;
  void checkInputs(const torch::Tensor& q, const torch::Tensor& k, int64_t layer, int64_t queryOffset) const;
  void checkBank() const;

  static constexpr size_t kMaskCacheEntries = 16;  // enough for training (one shape) and a decode burst
  MaskBank bank_;
  MixtureOptions options_;
  MaskMixtureCoefficients coefficients_{nullptr};
  MaskMixtureGate gate_{nullptr};
  int64_t numLayers_, numHeads_;
  mutable std::mutex cacheMutex_;
  mutable std::list<std::tuple<int64_t, int64_t, std::string, torch::Tensor>> cache_;  // most recent first
  mutable std::list<std::tuple<int64_t, int64_t, std::string, BranchMaskLayout>> layouts_;  // key: Tq, Tk, device/dtype
  mutable std::mutex gateMutex_;
  mutable bool recording_ = false;
  mutable std::vector<torch::Tensor> gateSums_;  // per layer (H, K), undefined when not seen
  mutable std::vector<int64_t> gateTokens_;      // per layer
};

}  // namespace attnx
