#include "core/model/mask_mixture_attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace attnx {

namespace {

const char* paramName(MixtureOptions::Parametrisation p) {
  switch (p) {
    case MixtureOptions::Parametrisation::Softplus: return "softplus";
    case MixtureOptions::Parametrisation::Sigmoid: return "sigmoid";
    case MixtureOptions::Parametrisation::ClampedRaw: return "clamped-raw";
  }
  return "?";
}

// Softplus reaches 0 only in the limit; an initial alpha this small starts at kSoftplusFloorTheta.
constexpr double kSoftplusFloorAlpha = 1e-8;
constexpr double kSoftplusFloorTheta = -20.0;  // softplus(-20) ~ 2e-9

}  // namespace

double inverseParametrisation(MixtureOptions::Parametrisation param, double alpha) {
  if (!(alpha >= 0) || !std::isfinite(alpha))
    throw std::invalid_argument(std::string("mixture coefficients: initial coefficient must be finite and >= 0, got ") +
                                std::to_string(alpha));
  switch (param) {
    case MixtureOptions::Parametrisation::Softplus:
      if (alpha <= kSoftplusFloorAlpha) return kSoftplusFloorTheta;
      return alpha + std::log(-std::expm1(-alpha));  // log(exp(alpha) - 1) without overflow
    case MixtureOptions::Parametrisation::Sigmoid:
      if (!(alpha > 0 && alpha < 1))
        throw std::invalid_argument(std::string("mixture coefficients: the sigmoid parametrisation needs an initial "
                                                "coefficient in (0, 1), got ") + std::to_string(alpha));
      return std::log(alpha / (1 - alpha));
    case MixtureOptions::Parametrisation::ClampedRaw:
      return alpha;
  }
  throw std::invalid_argument(std::string("mixture coefficients: unknown parametrisation ") + paramName(param));
}

MaskMixtureCoefficientsImpl::MaskMixtureCoefficientsImpl(int64_t numLayers, int64_t numHeads, int64_t numMasks,
                                                         const MixtureOptions& options)
    : numLayers_(numLayers), numHeads_(numHeads), numMasks_(numMasks), param_(options.param) {
  if (numLayers < 1 || numHeads < 1 || numMasks < 1)
    throw std::invalid_argument("mixture coefficients: layers, heads and masks must be >= 1, got " +
                                std::to_string(numLayers) + ", " + std::to_string(numHeads) + ", " +
                                std::to_string(numMasks));
  const double theta0 = inverseParametrisation(options.param, options.initialCoefficient);
  int64_t L = 1, H = 1;
  if (options.granularity != MixtureOptions::Granularity::PerModel) L = numLayers;
  if (options.granularity == MixtureOptions::Granularity::PerLayerHead) H = numHeads;
  theta = register_parameter("theta", torch::full({L, H, numMasks}, theta0, torch::kFloat32));
}

torch::Tensor MaskMixtureCoefficientsImpl::alpha() const {
  torch::Tensor a;
  switch (param_) {
    case MixtureOptions::Parametrisation::Softplus: a = torch::softplus(theta); break;
    case MixtureOptions::Parametrisation::Sigmoid: a = torch::sigmoid(theta); break;
    case MixtureOptions::Parametrisation::ClampedRaw: a = torch::clamp_min(theta, 0.0); break;
  }
  return a.expand({numLayers_, numHeads_, numMasks_});  // (L, H, K)
}

MaskMixtureAttention::MaskMixtureAttention(MaskBank bank, MixtureOptions options, MaskMixtureCoefficients coefficients,
                                           int64_t numLayers, int64_t numHeads)
    : bank_(std::move(bank)), options_(options), coefficients_(std::move(coefficients)),
      numLayers_(numLayers), numHeads_(numHeads) {
  checkBank();
  if (!coefficients_) throw std::invalid_argument("mask mixture: no coefficients");
  const auto K = static_cast<int64_t>(bank_.masks.size());
  if (coefficients_->numLayers() != numLayers || coefficients_->numHeads() != numHeads ||
      coefficients_->numMasks() != K)
    throw std::invalid_argument("mask mixture: coefficients are for " + std::to_string(coefficients_->numLayers()) +
                                " layers x " + std::to_string(coefficients_->numHeads()) + " heads x " +
                                std::to_string(coefficients_->numMasks()) + " masks, the model and bank need " +
                                std::to_string(numLayers) + " x " + std::to_string(numHeads) + " x " +
                                std::to_string(K));
}

MaskMixtureAttention::MaskMixtureAttention(MaskBank bank, MixtureOptions options, MaskMixtureGate gate,
                                           int64_t numLayers, int64_t numHeads)
    : bank_(std::move(bank)), options_(options), gate_(std::move(gate)), numLayers_(numLayers), numHeads_(numHeads) {
  checkBank();
  if (!gate_) throw std::invalid_argument("mask mixture: no gate");
  const auto K = static_cast<int64_t>(bank_.masks.size());
  if (gate_->numLayers() != numLayers || gate_->numHeads() != numHeads || gate_->numMasks() != K)
    throw std::invalid_argument("mask mixture: the gate is for " + std::to_string(gate_->numLayers()) + " layers x " +
                                std::to_string(gate_->numHeads()) + " heads x " + std::to_string(gate_->numMasks()) +
                                " masks, the model and bank need " + std::to_string(numLayers) + " x " +
                                std::to_string(numHeads) + " x " + std::to_string(K));
}

void MaskMixtureAttention::checkBank() const {
  if (bank_.masks.empty()) throw std::invalid_argument("mask mixture: the bank has no masks");
}

torch::Tensor MaskMixtureAttention::masks(int64_t Tq, int64_t Tk, const torch::Device& device) const {
  const std::string dev = device.str();
  {
    std::lock_guard<std::mutex> lock(cacheMutex_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (std::get<0>(*it) == Tq && std::get<1>(*it) == Tk && std::get<2>(*it) == dev) {
        cache_.splice(cache_.begin(), cache_, it);
        return std::get<3>(cache_.front());
      }
    }
  }
  // Built outside the lock: two threads may build the same entry, which is harmless.
  const auto K = static_cast<int64_t>(bank_.masks.size());
  const int64_t offset = Tk - Tq;
  auto host = torch::zeros({K, Tq, Tk}, torch::kBool);  // (K, Tq, Tk)
  auto* data = host.data_ptr<bool>();
  std::vector<int64_t> keys;
  for (int64_t m = 0; m < K; ++m) {
    for (int64_t r = 0; r < Tq; ++r) {
      bank_.masks[m].keysOfRow(offset + r, Tk, keys);
      bool* row = data + (m * Tq + r) * Tk;
      for (int64_t j : keys) row[j] = true;
    }
  }
  auto result = host.to(device);
  std::lock_guard<std::mutex> lock(cacheMutex_);
  cache_.emplace_front(Tq, Tk, dev, result);
  if (cache_.size() > kMaskCacheEntries) cache_.pop_back();
  return result;
}

void MaskMixtureAttention::clearMaskCache() const {
  std::lock_guard<std::mutex> lock(cacheMutex_);
  cache_.clear();
  layouts_.clear();
}

BranchMaskLayout MaskMixtureAttention::layout(int64_t Tq, int64_t Tk, const torch::Device& device,
                                                     torch::Dtype dtype) const {
  const std::string key = device.str() + "/" + c10::toString(dtype);
  {
    std::lock_guard<std::mutex> lock(cacheMutex_);
    for (auto it = layouts_.begin(); it != layouts_.end(); ++it) {
      if (std::get<0>(*it) == Tq && std::get<1>(*it) == Tk && std::get<2>(*it) == key) {
        layouts_.splice(layouts_.begin(), layouts_, it);
        return std::get<3>(layouts_.front());
      }
    }
  }
  auto made = makeBranchMaskLayout(masks(Tq, Tk, device), dtype);  // built outside the lock, like masks()
  std::lock_guard<std::mutex> lock(cacheMutex_);
  layouts_.emplace_front(Tq, Tk, key, made);
  if (layouts_.size() > kMaskCacheEntries) layouts_.pop_back();
  return made;  // tensors are shared handles: a copy costs four reference counts
}

void MaskMixtureAttention::checkInputs(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                       int64_t queryOffset) const {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4, "mask mixture: q and k must be (B, H, T, d)");
  TORCH_CHECK(q.size(1) == numHeads_, "mask mixture: ", q.size(1), " heads, coefficients are for ", numHeads_);
  TORCH_CHECK(layer >= 0 && layer < numLayers_, "mask mixture: layer ", layer, " out of range [0, ", numLayers_, ")");
  TORCH_CHECK(queryOffset >= 0 && queryOffset + q.size(2) == k.size(2), "mask mixture: Tk (", k.size(2),
              ") must be queryOffset (", queryOffset, ") + Tq (", q.size(2), ")");
}

torch::Tensor MaskMixtureAttention::layerAlpha(int64_t layer, torch::Dtype dtype, const torch::Device& device) const {
  return coefficients_->alpha().select(0, layer).to(device, dtype);  // (H, K)
}

torch::Tensor MaskMixtureAttention::queryAlpha(const torch::Tensor& q, int64_t layer, bool record) const {
  const auto B = q.size(0), H = q.size(1), Tq = q.size(2);
  const auto K = static_cast<int64_t>(bank_.masks.size());
  torch::Tensor a;
  if (gate_) {
    a = gate_->forward(q, layer);  // (B, H, Tq, K)
    if (record) {
      std::lock_guard<std::mutex> lock(gateMutex_);
      if (recording_) {
        const auto sum = a.sum(torch::IntArrayRef{0, 2});  // (H, K)
        gateSums_[layer] = gateSums_[layer].defined() ? gateSums_[layer] + sum : sum;
        gateTokens_[layer] += B * Tq;
      }
    }
  } else {
    a = layerAlpha(layer, q.scalar_type(), q.device()).view({1, H, 1, K}).expand({B, H, Tq, K});
  }
  if (options_.combine == MixtureOptions::Combine::BranchMixture && options_.normaliseBranches) {
    auto sum = a.sum(-1, /*keepdim=*/true);
    // A head whose alpha is all zero keeps alpha = 0 (output 0) instead of 0/0.
    a = a / torch::where(sum > 0, sum, torch::ones_like(sum));
  }
  return a;
}

void MaskMixtureAttention::startGateRecording() const {
  if (!gate_) throw std::logic_error("mask mixture: gate statistics need a gated kernel");
  std::lock_guard<std::mutex> lock(gateMutex_);
  recording_ = true;
  gateSums_.assign(static_cast<size_t>(numLayers_), torch::Tensor());
  gateTokens_.assign(static_cast<size_t>(numLayers_), 0);
}

torch::Tensor MaskMixtureAttention::takeGateMeans() const {
  if (!gate_) throw std::logic_error("mask mixture: gate statistics need a gated kernel");
  std::lock_guard<std::mutex> lock(gateMutex_);
  if (!recording_) throw std::logic_error("mask mixture: takeGateMeans() without startGateRecording()");
  recording_ = false;
  std::vector<torch::Tensor> means;
  for (int64_t l = 0; l < numLayers_; ++l) {
    if (gateTokens_[l] == 0) throw std::logic_error("mask mixture: layer " + std::to_string(l) + " saw no token while recording");
    means.push_back(gateSums_[l] / static_cast<double>(gateTokens_[l]));
  }
  gateSums_.clear();
  return torch::stack(means);  // (L, H, K)
}

torch::Tensor MaskMixtureAttention::scores(const torch::Tensor& q, const torch::Tensor& k) const {
  return torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));  // (B, H, Tq, Tk)
}

torch::Tensor MaskMixtureAttention::softMaskProbabilities(const torch::Tensor& q, const torch::Tensor& k,
                                                          int64_t layer, int64_t queryOffset, bool record) const {
  const auto Tq = q.size(2), Tk = k.size(2);
  torch::Tensor W;
  if (gate_) {
    // Per-token alpha: W (B, H, Tq, Tk) by a K-deep contraction batched over the queries.
    W = combinedMaskWeights(queryAlpha(q, layer, record), layout(Tq, Tk, q.device(), q.scalar_type()));
  } else {
    const auto M = masks(Tq, Tk, q.device()).to(q.scalar_type());          // (K, Tq, Tk)
    const auto a = layerAlpha(layer, q.scalar_type(), q.device());         // (H, K)
    W = torch::einsum("hk,kij->hij", {a, M});                              // (H, Tq, Tk)
  }
  // Rows with W = 0 everywhere (alpha all zero) fall back to the diagonal key j = queryOffset + i.
  const auto empty = (W > 0).any(-1, /*keepdim=*/true).logical_not();     // (..., Tq, 1)
  const auto qpos = torch::arange(queryOffset, queryOffset + Tq, q.options().dtype(torch::kLong)).unsqueeze(1);
  const auto diag = torch::arange(0, Tk, q.options().dtype(torch::kLong)).unsqueeze(0) == qpos;  // (Tq, Tk)
  W = torch::where(empty.logical_and(diag), torch::ones_like(W), W);
  // log W with -inf where W = 0; the inner where keeps log's gradient finite there (it is then 0).
  const auto positive = W > 0;
  const auto logW = torch::where(positive, torch::log(torch::where(positive, W, torch::ones_like(W))),
                                 torch::full_like(W, -std::numeric_limits<double>::infinity()));
  return torch::softmax(scores(q, k) + (gate_ ? logW : logW.unsqueeze(0)), -1);  // (B, H, Tq, Tk)
}

torch::Tensor MaskMixtureAttention::forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                            int64_t layer, int64_t queryOffset) const {
  checkInputs(q, k, layer, queryOffset);
  if (options_.combine == MixtureOptions::Combine::SoftMask)
    return torch::matmul(softMaskProbabilities(q, k, layer, queryOffset, /*record=*/true), v);  // (B, H, Tq, d)
  return branchMixture(scores(q, k), queryAlpha(q, layer, /*record=*/true), v,
                       layout(q.size(2), k.size(2), q.device(), q.scalar_type()));  // (B, H, Tq, d)
}

torch::Tensor MaskMixtureAttention::probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                                  int64_t queryOffset) const {
  checkInputs(q, k, layer, queryOffset);
  if (options_.combine == MixtureOptions::Combine::SoftMask)
    return softMaskProbabilities(q, k, layer, queryOffset, /*record=*/false);
  return branchMixtureProbabilities(scores(q, k), queryAlpha(q, layer, /*record=*/false),
                                    layout(q.size(2), k.size(2), q.device(), q.scalar_type()));
}

}  // namespace attnx
