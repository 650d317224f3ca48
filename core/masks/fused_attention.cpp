// Per (batch, head, tile of queryTile rows): for each key tile up to the tile's last position, S = scale
// Q K^T with one product, the causal triangle set to -inf on the diagonal tile only, then per row the
// online softmax (m = max(m, rowmax S); O *= exp(m_old - m), l = l exp(m_old - m) + sum exp(S - m)),
// and O += P V with one more product; O /= l at the end. Every product is at most 64 x 64 x 64 by
// default and runs on tile_gemm's micro-kernel, K^T from panels transposed once per call, so the
// parallelism is ours.
#include "core/masks/fused_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "core/masks/cpu_tile_ops.h"
#include "core/masks/tile_gemm.h"
#include "core/util/parallel.h"

namespace attnx {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One query tile of one (batch, head) per task: the shape of the whole call.
struct Shape {
  int64_t BH = 0, Tq = 0, Tk = 0, d = 0, rowBegin = 0, queryTile = 0, queryTiles = 0;
  float scale = 1.f;
};

}  // namespace

namespace fused {

// o is the accumulator: written by the first key tile (beta = 0), scaled when the row max moves.
void causalQueryTile(int64_t R, int64_t firstPos, int64_t d, float scale, const float* q, const tile::TransposedRows& keys,
                     int64_t bh, const float* v, float* o, float* lse, float lseShift, TileScratch& scratch) {
  const int64_t keyTile = keys.block(), ldS = keyTile, lastPos = firstPos + R - 1;
  float *S = scratch.scores.data(), *rowMax = scratch.rowMax.data(), *rowSum = scratch.rowSum.data();
  std::fill(rowMax, rowMax + R, kNegInf);
  std::fill(rowSum, rowSum + R, 0.f);
  for (int64_t k0 = 0; k0 <= lastPos; k0 += keyTile) {
    const int64_t C = std::min(keyTile, lastPos + 1 - k0);
    keys.product(bh, k0, R, C, scale, q, d, 0.f, S, ldS);  // (R, C)
    const bool first = k0 == 0;
    const bool diagonal = k0 + C - 1 > firstPos;  // some key here is after some row's position
    for (int64_t r = 0; r < R; ++r) {
      float* row = S + r * ldS;
      if (diagonal) {  // keys after this row's own position
        const int64_t position = firstPos + r;
        if (position < k0) {  // every key of the tile is in this row's future: P = 0 here
          std::fill(row, row + C, 0.f);
          continue;
        }
        std::fill(row + std::min(C, position - k0 + 1), row + C, kNegInf);
      }
      const float newMax = std::max(rowMax[r], tile::rowMax(row, C));
      // exp(-inf) = 0 on the first tile; the accumulator is then written, not scaled (beta = 0).
      const float correction = tile::fastExp(rowMax[r] - newMax);
      rowSum[r] = rowSum[r] * correction + tile::expShiftSum(row, C, newMax);
      if (!first && correction != 1.f) tile::scaleRow(o + r * d, correction, d);
      rowMax[r] = newMax;
    }
    tile::smallGemm(R, d, C, 1.f, S, ldS, 1, v + k0 * d, d, first ? 0.f : 1.f, o, d);  // O += P V
  }
  for (int64_t r = 0; r < R; ++r) {
    tile::scaleRow(o + r * d, 1.f / rowSum[r], d);
    if (lse) lse[r] = rowMax[r] + std::log(rowSum[r]) + lseShift;
  }
}

}  // namespace fused

torch::Tensor fusedCausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int64_t queryTile, int64_t keyTile) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "fused attention: q, k, v must be (B, H, T, d)");
  TORCH_CHECK(q.device().is_cpu() && q.scalar_type() == torch::kFloat32 && k.scalar_type() == torch::kFloat32 &&
                  v.scalar_type() == torch::kFloat32,
              "fused attention: float32 CPU tensors only");
  TORCH_CHECK(k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
              "fused attention: q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes(), " do not fit together");
  TORCH_CHECK(q.size(2) <= k.size(2), "fused attention: more queries (", q.size(2), ") than keys (", k.size(2), ")");
  TORCH_CHECK(queryTile > 0 && keyTile > 0, "fused attention: tile sizes must be positive");
  TORCH_CHECK(!torch::GradMode::is_enabled() || !(q.requires_grad() || k.requires_grad() || v.requires_grad()),
              "fused attention: forward only (no gradient); call it under torch::NoGradGuard");
  RECORD_FUNCTION("attnx::fused_causal_attention", std::vector<c10::IValue>({q, k, v}));
  const auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Shape s;
  s.BH = q.size(0) * q.size(1), s.Tq = q.size(2), s.Tk = k.size(2), s.d = q.size(3);
  s.rowBegin = s.Tk - s.Tq, s.queryTile = queryTile;
  s.queryTiles = (s.Tq + queryTile - 1) / queryTile;
  s.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.d)));
  auto out = torch::empty_like(qc);
  if (out.numel() == 0) return out;
  const float *qd = qc.data_ptr<float>(), *kd = kc.data_ptr<float>(), *vd = vc.data_ptr<float>();
  float* od = out.data_ptr<float>();
  const tile::TransposedRows keys(kd, s.BH, s.Tk, s.d, keyTile, s.Tq);

  // A task is one (batch, head, query tile); causal tiles are uneven (query tile qt walks qt + 1 key
  // tiles), so the latest go first.
  std::vector<int64_t> cost(s.BH * s.queryTiles);
  for (int64_t task = 0; task < s.BH * s.queryTiles; ++task) cost[task] = task % s.queryTiles + 1;
  forEachTaskCostliestFirst(
      cost, [&] { return fused::TileScratch(queryTile, keyTile); },
      [&](int64_t task, fused::TileScratch& scratch) {
        const int64_t bh = task / s.queryTiles, r0 = task % s.queryTiles * queryTile;
        fused::causalQueryTile(std::min(queryTile, s.Tq - r0), s.rowBegin + r0, s.d, s.scale,
                               qd + (bh * s.Tq + r0) * s.d, keys, bh, vd + bh * s.Tk * s.d, od + (bh * s.Tq + r0) * s.d,
                               nullptr, 0.f, scratch);
      });
  return out;
}

}  // namespace attnx
