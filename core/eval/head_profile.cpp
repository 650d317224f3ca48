#include "core/eval/head_profile.h"

#include <stdexcept>

#include <torch/torch.h>

namespace attnx {

std::vector<HeadProfile> profileHeads(const std::vector<torch::Tensor>& maps, const HeadProfileOptions& o) {
  std::vector<HeadProfile> out;
  for (size_t layer = 0; layer < maps.size(); ++layer) {
    const auto& p = maps[layer];
    if (p.dim() != 4 || p.size(2) != p.size(3))
      throw std::invalid_argument("attention map of layer " + std::to_string(layer) + " is not (B, H, T, T)");
    const int64_t T = p.size(3);
    if (T <= o.firstQuery)
      throw std::invalid_argument("need more than " + std::to_string(o.firstQuery) + " tokens to profile heads");
    torch::NoGradGuard noGrad;
    const auto P = p.to(torch::kFloat64).slice(2, o.firstQuery, T);  // rows i = firstQuery..T-1
    const auto i = torch::arange(o.firstQuery, T, torch::kInt64).view({-1, 1});
    const auto j = torch::arange(0, T, torch::kInt64).view({1, -1});
    const auto dist = (i - j).to(torch::kFloat64);  // (Tq, T), negative above the diagonal (P is 0 there)
    const auto rows = double(T - o.firstQuery) * double(p.size(0));
    // Per head: sum over batch and rows, then divide by their count.
    auto perHead = [&](const torch::Tensor& perRow) { return (perRow.sum(torch::IntArrayRef{0, 2}) / rows); };
    const auto prev = perHead(P.diagonal(-1 + o.firstQuery, 2, 3).slice(2, 0, T - o.firstQuery));
    const auto self = perHead(P.diagonal(o.firstQuery, 2, 3));
    const auto sink = perHead(P.select(3, 0));
    const auto local = perHead((P * ((dist >= 0) & (dist < o.localWidth)).to(torch::kFloat64)).sum(3));
    const auto meanDist = perHead((P * dist.clamp_min(0)).sum(3));
    const auto entropy = perHead(-(P * torch::log(P.clamp_min(1e-30))).sum(3));
    for (int64_t h = 0; h < p.size(1); ++h) {
      HeadProfile hp;
      hp.layer = int64_t(layer);
      hp.head = h;
      hp.previousToken = prev[h].item<double>();
      hp.self = self[h].item<double>();
      hp.sink = sink[h].item<double>();
      hp.local = local[h].item<double>();
      hp.meanDistance = meanDist[h].item<double>();
      hp.entropy = entropy[h].item<double>();
      hp.kind = hp.previousToken >= o.dominant ? "previous-token"
                : hp.sink >= o.dominant        ? "sink"
                : hp.self >= o.dominant        ? "self"
                : hp.local >= o.localDominant  ? "local"
                                               : "broad";
      out.push_back(hp);
    }
  }
  return out;
}

}  // namespace attnx
