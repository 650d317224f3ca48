#include "core/masks/sparse_attention_problem.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

namespace attnx::sparse {

Problem makeProblem(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const SparseHeads& heads,
                    const torch::Tensor& alpha) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "sparse attention: q, k, v must be (B, H, T, d)");
  TORCH_CHECK(q.scalar_type() == torch::kFloat32 && k.scalar_type() == torch::kFloat32 &&
                  v.scalar_type() == torch::kFloat32,
              "sparse attention: the kernels take float32 tensors");
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device(), "sparse attention: q, k, v on different devices");
  Problem p;
  p.B = q.size(0), p.H = q.size(1), p.Tq = q.size(2), p.d = q.size(3), p.Tk = k.size(2);
  TORCH_CHECK(k.size(0) == p.B && v.size(0) == p.B && k.size(1) == p.H && v.size(1) == p.H && v.size(2) == p.Tk &&
                  k.size(3) == p.d && v.size(3) == p.d,
              "sparse attention: q, k, v shapes do not match");
  TORCH_CHECK(p.Tq >= 1 && p.Tq <= p.Tk, "sparse attention: need 1 <= Tq <= Tk, got Tq = ", p.Tq, ", Tk = ", p.Tk);
  TORCH_CHECK(static_cast<int64_t>(heads.layouts.size()) == p.H, "sparse attention: ", heads.layouts.size(),
              " head layouts for ", p.H, " heads");
  p.rowBegin = p.Tk - p.Tq;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.d)));
  p.heads = &heads;
  p.soft = alpha.defined();
  for (const auto& layout : heads.layouts) {
    if (!layout) continue;
    TORCH_CHECK(layout->n == p.Tk && layout->rowBegin == p.rowBegin, "sparse attention: a layout for n = ", layout->n,
                ", first row ", layout->rowBegin, " used with Tk = ", p.Tk, ", Tq = ", p.Tq);
    p.blockSize = layout->blockSize;
    p.maxQueryBlocks = std::max(p.maxQueryBlocks, layout->numQueryBlocks());
  }
  for (const auto& layout : heads.layouts)
    TORCH_CHECK(!layout || layout->blockSize == p.blockSize, "sparse attention: layouts with different block sizes");
  p.maxQueryBlocks = (p.Tq + p.blockSize - 1) / p.blockSize;  // the same for every layout (and null heads)
  if (p.soft) {
    TORCH_CHECK(alpha.dim() == 2 && alpha.size(0) == p.H, "sparse attention: alpha must be (H, K)");
    TORCH_CHECK(static_cast<int64_t>(heads.columns.size()) == p.H, "sparse attention: soft mask needs alpha columns");
    const auto a = alpha.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const float* ad = a.data_ptr<float>();
    p.weights.resize(p.H);
    for (int64_t h = 0; h < p.H; ++h) {
      const auto& layout = heads.layouts[h];
      if (!layout) continue;
      TORCH_CHECK(static_cast<int64_t>(heads.columns[h].size()) == layout->numMasks,
                  "sparse attention: head ", h, " has ", layout->numMasks, " masks but ", heads.columns[h].size(), " columns");
      std::vector<float> alphaOfBit;
      for (int64_t col : heads.columns[h]) {
        TORCH_CHECK(col >= 0 && col < a.size(1), "sparse attention: alpha column ", col, " out of range");
        alphaOfBit.push_back(ad[h * a.size(1) + col]);
      }
      p.weights[h] = HeadWeights(std::move(alphaOfBit));
    }
  }
  return p;
}

ColumnSpan tileColumns(const Problem& p, const BlockLayout& layout, const LayoutTile& tile) {
  const int64_t C = std::min(p.blockSize, p.Tk - tile.keyBlock * p.blockSize);
  if (tile.full) return {0, C};
  const auto& span = layout.patternColumns[tile.pattern];
  return {span.first, span.second};
}

}  // namespace attnx::sparse
