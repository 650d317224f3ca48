// The seam between GPT-2 and whatever computes attention. GPT-2's blocks project q, k, v and the
// output; a kernel only mixes values. The teacher uses DenseCausalAttention; a student swaps in a
// mask-mixture kernel while sharing every weight of the same GPT-2 module.
#pragma once

#include <optional>
#include <stdexcept>
#include <vector>

#include <torch/types.h>

#include "core/masks/mask_spec.h"

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

  // How far back any query can attend whatever the length, when that is bounded: a KV cache may then
  // drop the keys no later query reaches (KvCache::dropUnreachable). nullopt (the default): any key.
  virtual std::optional<KeyReach> keyReach() const { return std::nullopt; }

  // forward() over the keys a bounded KV cache still holds: keyPositions (Tk values, ascending) are
  // their absolute positions, and the queries are the last Tq of them. Masks are evaluated at those
  // positions (at length keyPositions.back() + 1), exactly as if every key were there. Kernels with a
  // keyReach() override it; the default only accepts the whole prefix 0 .. Tk-1.
  virtual torch::Tensor forwardAt(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  int64_t layer, const std::vector<int64_t>& keyPositions) const {
    const auto Tk = k.size(2);
    // Ascending distinct positions ending at Tk - 1 are exactly 0 .. Tk-1.
    if (static_cast<int64_t>(keyPositions.size()) != Tk || (Tk > 0 && keyPositions.back() != Tk - 1))
      throw std::logic_error("this attention kernel needs every earlier key; it cannot run on a KV cache that dropped some");
    return forward(q, k, v, layer, Tk - q.size(2));
  }
};

}  // namespace attnx
