#include "core/model/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace attnx {

void KvCache::clear() {
  length_ = 0;
  sinks_ = 0;
  dropped_ = 0;
}

std::pair<torch::Tensor, torch::Tensor> KvCache::append(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  const int64_t T = k.size(2);
  if (static_cast<int64_t>(keys_.size()) <= layer) {
    keys_.resize(layer + 1);
    values_.resize(layer + 1);
  }
  const int64_t held = heldKeys();
  const int64_t needed = held + T;
  auto& K = keys_[layer];
  auto& V = values_[layer];
  if (!K.defined() || K.size(2) < needed || K.size(0) != k.size(0)) {
    // Grow geometrically so that decoding n tokens copies O(n) rows in total.
    const int64_t grown = std::max<int64_t>(64, 2 * (K.defined() ? K.size(2) : 0));
    const int64_t cap = std::max<int64_t>(needed, std::min(grown, capacityLimit_));
    auto newK = torch::empty({k.size(0), k.size(1), cap, k.size(3)}, k.options());
    auto newV = torch::empty({v.size(0), v.size(1), cap, v.size(3)}, v.options());
    if (K.defined() && held > 0) {
      newK.narrow(2, 0, held).copy_(K.narrow(2, 0, held));
      newV.narrow(2, 0, held).copy_(V.narrow(2, 0, held));
    }
    K = newK;
    V = newV;
    capacity_ = cap;
    peakBytes_ = std::max(peakBytes_, bytes());
  }
  K.narrow(2, held, T).copy_(k);
  V.narrow(2, held, T).copy_(v);
  peakKeys_ = std::max(peakKeys_, needed);
  return {K.narrow(2, 0, needed), V.narrow(2, 0, needed)};
}

std::vector<int64_t> KvCache::keyPositions(int64_t added) const {
  std::vector<int64_t> positions(static_cast<size_t>(heldKeys() + added));
  for (int64_t r = 0; r < static_cast<int64_t>(positions.size()); ++r) positions[r] = r < sinks_ ? r : r + dropped_;
  return positions;
}

void KvCache::dropUnreachable(const KeyReach& reach) {
  if (dropped_ > 0 && reach.sinks != sinks_)
    throw std::logic_error("KvCache: dropUnreachable called with " + std::to_string(reach.sinks) + " sinks after " +
                           std::to_string(sinks_));
  // The next query is at position length(): it and every later one attend j > length() - window.
  const int64_t keepFrom = std::max(reach.sinks, length_ - reach.window + 1);
  const int64_t dropped = keepFrom - reach.sinks;
  if (dropped <= dropped_) return;
  const int64_t kept = length_ - keepFrom;    // window rows kept
  const int64_t from = keepFrom - dropped_;   // where they are now
  const int64_t rows = reach.sinks + kept;
  // Rows move down every step; copying w rows per layer costs what the attention over them costs.
  auto compact = [&](torch::Tensor& t) {
    if (!t.defined()) return;
    const int64_t cap = std::max(rows, std::min(t.size(2), capacityLimit_));
    if (cap != t.size(2)) {  // over the limit (a long prompt): shrink to it
      auto n = torch::empty({t.size(0), t.size(1), cap, t.size(3)}, t.options());
      n.narrow(2, 0, reach.sinks).copy_(t.narrow(2, 0, reach.sinks));
      n.narrow(2, reach.sinks, kept).copy_(t.narrow(2, from, kept));
      t = n;
    } else {
      // Source and destination overlap when fewer rows are dropped than kept: copy through a clone.
      t.narrow(2, reach.sinks, kept).copy_(t.narrow(2, from, kept).clone());
    }
  };
  for (auto& t : keys_) compact(t);
  for (auto& t : values_) compact(t);
  if (!keys_.empty() && keys_.front().defined()) capacity_ = keys_.front().size(2);
  sinks_ = reach.sinks;
  dropped_ = dropped;
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (const auto* list : {&keys_, &values_})
    for (const auto& t : *list)
      if (t.defined()) total += t.numel() * static_cast<int64_t>(t.element_size());
  return total;
}

}  // namespace attnx
