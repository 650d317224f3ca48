// The reference block-sparse kernel: per (batch, head, query block) it walks the layout's tiles with
// an online softmax (FlashAttention-style running max and sum) in plain tile loops; the backward
// pass recomputes each tile's probabilities. Simple and exact; sparse_attention_fast.cpp is the
// fast variant, and tests/test_sparse_attention checks both against the dense reference and each other.
#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/masks/sparse_attention_problem.h"

namespace attnx::sparse {

namespace {

// The common shape (64-wide tiles, head dimension 64) gets loops with constant bounds, so the
// compiler keeps a whole row of accumulators in vector registers.
constexpr int64_t kFast = 64;

// S[i*ldS + j] = scale * sum_c A[i*d + c] * BT[c*ldB + j] for i < R, j < C (BT: B transposed, d x ldB).
ATTNX_VECTOR_CLONES
void tileScoresGeneric(const float* __restrict A, int64_t R, const float* __restrict BT, int64_t ldB, int64_t C,
                       int64_t d, float scale, float* __restrict S, int64_t ldS) {
  for (int64_t i = 0; i < R; ++i) {
    float* __restrict s = S + i * ldS;
    for (int64_t j = 0; j < C; ++j) s[j] = 0.f;
    const float* a = A + i * d;
    for (int64_t c = 0; c < d; ++c) {
      const float x = a[c];
      const float* __restrict b = BT + c * ldB;
      for (int64_t j = 0; j < C; ++j) s[j] += x * b[j];
    }
    for (int64_t j = 0; j < C; ++j) s[j] *= scale;
  }
}

ATTNX_VECTOR_CLONES
void tileScores64(const float* __restrict A, int64_t R, const float* __restrict BT, int64_t ldB, int64_t d,
                  float scale, float* __restrict S, int64_t ldS) {
  for (int64_t i = 0; i < R; ++i) {
    float s[kFast] = {};
    const float* a = A + i * d;
    for (int64_t c = 0; c < d; ++c) {
      const float x = a[c];
      const float* __restrict b = BT + c * ldB;
      for (int64_t j = 0; j < kFast; ++j) s[j] += x * b[j];
    }
    float* __restrict out = S + i * ldS;
    for (int64_t j = 0; j < kFast; ++j) out[j] = s[j] * scale;
  }
}

void tileScores(const float* A, int64_t R, const float* BT, int64_t ldB, int64_t C, int64_t d, float scale, float* S,
                int64_t ldS) {
  if (C == kFast) return tileScores64(A, R, BT, ldB, d, scale, S, ldS);
  tileScoresGeneric(A, R, BT, ldB, C, d, scale, S, ldS);
}

// Out[i*d + c] += sum_j P[i*ldP + j] * B[j*d + c]   (P V, or dS K)
ATTNX_VECTOR_CLONES
void tileAccumulateGeneric(const float* __restrict P, int64_t ldP, int64_t R, int64_t C, const float* __restrict B,
                           int64_t d, float* __restrict Out) {
  for (int64_t i = 0; i < R; ++i) {
    float* __restrict o = Out + i * d;
    for (int64_t j = 0; j < C; ++j) {
      const float p = P[i * ldP + j];
      if (p == 0.f) continue;
      const float* __restrict b = B + j * d;
      for (int64_t c = 0; c < d; ++c) o[c] += p * b[c];
    }
  }
}

ATTNX_VECTOR_CLONES
void tileAccumulate64(const float* __restrict P, int64_t ldP, int64_t R, int64_t C, const float* __restrict B,
                      float* __restrict Out) {
  for (int64_t i = 0; i < R; ++i) {
    float o[kFast];
    float* __restrict out = Out + i * kFast;
    for (int64_t c = 0; c < kFast; ++c) o[c] = out[c];
    for (int64_t j = 0; j < C; ++j) {
      const float p = P[i * ldP + j];
      if (p == 0.f) continue;
      const float* __restrict b = B + j * kFast;
      for (int64_t c = 0; c < kFast; ++c) o[c] += p * b[c];
    }
    for (int64_t c = 0; c < kFast; ++c) out[c] = o[c];
  }
}

void tileAccumulate(const float* P, int64_t ldP, int64_t R, int64_t C, const float* B, int64_t d, float* Out) {
  if (d == kFast) return tileAccumulate64(P, ldP, R, C, B, Out);
  tileAccumulateGeneric(P, ldP, R, C, B, d, Out);
}

// Out[j*d + c] += sum_i P[i*ldP + j] * A[i*d + c]   (P^T dO, or dS^T Q)
ATTNX_VECTOR_CLONES
void tileAccumulateTransposed(const float* __restrict P, int64_t ldP, int64_t R, int64_t C, const float* __restrict A,
                              int64_t d, float* __restrict Out) {
  for (int64_t i = 0; i < R; ++i) {
    const float* __restrict a = A + i * d;
    for (int64_t j = 0; j < C; ++j) {
      const float p = P[i * ldP + j];
      if (p == 0.f) continue;
      float* __restrict o = Out + j * d;
      for (int64_t c = 0; c < d; ++c) o[c] += p * a[c];
    }
  }
}

// pairs, -inf elsewhere, for the columns of `cols` only. Rows r of the tile are query rows firstRow + r;
// column j is key k0 + j.
void maskedTileScores(const Problem& p, const BlockLayout& layout, int64_t h, const LayoutTile& tile, ColumnSpan cols,
                      int64_t firstRow, int64_t R, const float* qRows, const float* kT, float* S) {
  const int64_t bs = p.blockSize, k0 = tile.keyBlock * bs, c0 = cols.begin, c1 = cols.end;
  tileScores(qRows, R, kT + k0 + c0, p.Tk, c1 - c0, p.d, p.scale, S + c0, bs);
  if (tile.full) {
    float bias = 0.f;
    if (p.soft) {
      const float w = p.weights[h].weight(tile.members);
      bias = w > 0.f ? std::log(w) : kNegInf;
    }
    for (int64_t r = 0; r < R; ++r) {
      float* s = S + r * bs;
      const int64_t lastKey = firstRow + r - k0;  // columns beyond it are above the diagonal
      for (int64_t j = c0; j < c1; ++j) s[j] = j <= lastKey ? s[j] + bias : kNegInf;
    }
    return;
  }
  const MaskMembers* pattern = layout.patterns[tile.pattern].data();
  for (int64_t r = 0; r < R; ++r) {
    float* s = S + r * bs;
    const MaskMembers* m = pattern + r * bs;
    for (int64_t j = c0; j < c1; ++j) {
      if (!m[j]) {
        s[j] = kNegInf;
      } else if (p.soft) {
        const float w = p.weights[h].weight(m[j]);
        s[j] = w > 0.f ? s[j] + std::log(w) : kNegInf;
      }
    }
  }
}

}  // namespace

ForwardResult referenceForward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  auto out = torch::zeros({p.B, p.H, p.Tq, p.d}, q.options());
  auto lse = torch::full({p.B, p.H, p.Tq}, kPosInf, q.options());  // +inf marks rows without attended keys
  const auto kT = k.transpose(-2, -1).contiguous();               // (B, H, d, Tk): rows of K^T are contiguous
  const float *qd = q.data_ptr<float>(), *kTd = kT.data_ptr<float>(), *vd = v.data_ptr<float>();
  float *od = out.data_ptr<float>(), *ld = lse.data_ptr<float>();
  const int64_t bs = p.blockSize, d = p.d, QB = p.maxQueryBlocks;

  at::parallel_for(0, p.B * p.H * QB, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> S(bs * bs), acc(bs * d), rowMax(bs), rowSum(bs);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / QB, qb = task % QB, h = bh % p.H;
      const BlockLayout* layout = p.heads->layouts[h].get();
      const int64_t nqb = layout ? layout->numQueryBlocks() : (p.Tq + bs - 1) / bs;
      if (qb >= nqb) continue;
      const int64_t firstRow = p.rowBegin + qb * bs, R = std::min(bs, p.Tk - firstRow);
      const int64_t r0 = firstRow - p.rowBegin;  // row index within q
      const float* qRows = qd + (bh * p.Tq + r0) * d;
      const float* kTh = kTd + bh * d * p.Tk;
      const float* vh = vd + bh * p.Tk * d;
      float* oRows = od + (bh * p.Tq + r0) * d;
      float* lRows = ld + bh * p.Tq + r0;
      std::fill(acc.begin(), acc.end(), 0.f);
      std::fill(rowMax.begin(), rowMax.end(), kNegInf);
      std::fill(rowSum.begin(), rowSum.end(), 0.f);
      if (layout) {
        for (int64_t t = layout->tileStart[qb]; t < layout->tileStart[qb + 1]; ++t) {
          const auto& tile = layout->tiles[t];
          const auto cols = tileColumns(p, *layout, tile);
          const int64_t k0 = tile.keyBlock * bs, c0 = cols.begin, c1 = cols.end;
          maskedTileScores(p, *layout, h, tile, cols, firstRow, R, qRows, kTh, S.data());
          for (int64_t r = 0; r < R; ++r) {
            float* s = S.data() + r * bs;
            float m = kNegInf;
            for (int64_t j = c0; j < c1; ++j) m = std::max(m, s[j]);
            if (m == kNegInf) {  // nothing attended in this tile's row
              for (int64_t j = c0; j < c1; ++j) s[j] = 0.f;
              continue;
            }
            const float newMax = std::max(rowMax[r], m);
            const float correction = std::exp(rowMax[r] - newMax);  // exp(-inf) = 0 on the first tile
            float sum = 0.f;
            for (int64_t j = c0; j < c1; ++j) {
              s[j] = std::exp(s[j] - newMax);
              sum += s[j];
            }
            rowSum[r] = rowSum[r] * correction + sum;
            rowMax[r] = newMax;
            if (correction != 1.f)
              for (int64_t c = 0; c < d; ++c) acc[r * d + c] *= correction;
          }
          tileAccumulate(S.data() + c0, bs, R, c1 - c0, vh + (k0 + c0) * d, d, acc.data());
        }
      }
      for (int64_t r = 0; r < R; ++r) {
        float* o = oRows + r * d;
        if (rowSum[r] > 0.f) {
          const float inv = 1.f / rowSum[r];
          for (int64_t c = 0; c < d; ++c) o[c] = acc[r * d + c] * inv;
          lRows[r] = rowMax[r] + std::log(rowSum[r]);
        } else if (p.soft) {  // no attended key: the diagonal, like the dense reference
          const float* vi = vh + (firstRow + r) * d;
          for (int64_t c = 0; c < d; ++c) o[c] = vi[c];
        }  // support mode: an empty head outputs zeros
      }
    }
  });
  return {out, lse};
}

Gradients referenceBackward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                         const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dOut, int64_t numColumns) {
  auto dq = torch::zeros_like(q), dk = torch::zeros_like(k), dv = torch::zeros_like(v);
  const auto kT = k.transpose(-2, -1).contiguous();
  const auto vT = v.transpose(-2, -1).contiguous();
  // Per (batch, head) partial gradients of alpha, summed over the batch at the end (no races).
  auto dalphaBH = torch::zeros({p.B, p.H, std::max<int64_t>(numColumns, 1)}, torch::kFloat64);
  const float *qd = q.data_ptr<float>(), *kd = k.data_ptr<float>(), *kTd = kT.data_ptr<float>(),
              *vTd = vT.data_ptr<float>(), *od = out.data_ptr<float>(), *ld = lse.data_ptr<float>(),
              *gd = dOut.data_ptr<float>();
  float *dqd = dq.data_ptr<float>(), *dkd = dk.data_ptr<float>(), *dvd = dv.data_ptr<float>();
  double* dad = dalphaBH.data_ptr<double>();
  const int64_t bs = p.blockSize, d = p.d;

  // Parallel over (batch, head): dK and dV of a head collect from every query block.
  at::parallel_for(0, p.B * p.H, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> S(bs * bs), dP(bs * bs), D(bs);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t h = bh % p.H;
      const BlockLayout* layout = p.heads->layouts[h].get();
      const float* kTh = kTd + bh * d * p.Tk;
      const float* vTh = vTd + bh * d * p.Tk;
      const float* kh = kd + bh * p.Tk * d;
      float* dkh = dkd + bh * p.Tk * d;
      float* dvh = dvd + bh * p.Tk * d;
      double* dah = dad + bh * std::max<int64_t>(numColumns, 1);
      const auto* columns = p.soft ? &p.heads->columns[h] : nullptr;
      const int64_t nqb = (p.Tq + bs - 1) / bs;
      for (int64_t qb = 0; qb < nqb; ++qb) {
        const int64_t firstRow = p.rowBegin + qb * bs, R = std::min(bs, p.Tk - firstRow), r0 = qb * bs;
        const float* qRows = qd + (bh * p.Tq + r0) * d;
        const float* oRows = od + (bh * p.Tq + r0) * d;
        const float* gRows = gd + (bh * p.Tq + r0) * d;
        const float* lRows = ld + bh * p.Tq + r0;
        float* dqRows = dqd + (bh * p.Tq + r0) * d;
        for (int64_t r = 0; r < R; ++r) {
          if (lRows[r] == kPosInf) {  // no attended key
            if (p.soft)               // the diagonal fallback passed v through
              for (int64_t c = 0; c < d; ++c) dvh[(firstRow + r) * d + c] += gRows[r * d + c];
            D[r] = 0.f;
            continue;
          }
          float dot = 0.f;
          for (int64_t c = 0; c < d; ++c) dot += gRows[r * d + c] * oRows[r * d + c];
          D[r] = dot;
        }
        if (!layout) continue;
        for (int64_t t = layout->tileStart[qb]; t < layout->tileStart[qb + 1]; ++t) {
          const auto& tile = layout->tiles[t];
          const auto cols = tileColumns(p, *layout, tile);
          const int64_t k0 = tile.keyBlock * bs, c0 = cols.begin, c1 = cols.end, C = c1 - c0;
          maskedTileScores(p, *layout, h, tile, cols, firstRow, R, qRows, kTh, S.data());
          for (int64_t r = 0; r < R; ++r) {  // P = exp(S - lse); 0 off the support and in empty rows
            float* s = S.data() + r * bs;
            for (int64_t j = c0; j < c1; ++j) s[j] = lRows[r] == kPosInf ? 0.f : std::exp(s[j] - lRows[r]);
          }
          tileAccumulateTransposed(S.data() + c0, bs, R, C, gRows, d, dvh + (k0 + c0) * d);  // dV += P^T dO
          tileScores(gRows, R, vTh + k0 + c0, p.Tk, C, d, 1.f, dP.data() + c0, bs);       // dP = dO V^T
          double fullTileSum = 0.0;
          for (int64_t r = 0; r < R; ++r) {  // dZ = P (dP - D): the gradient of the masked logits
            float* s = S.data() + r * bs;
            const float* g = dP.data() + r * bs;
            for (int64_t j = c0; j < c1; ++j) s[j] = s[j] * (g[j] - D[r]);
            if (!p.soft) continue;
            // dL/dalpha_k = sum over pairs covered by mask k of dZ_ij / W_ij.
            if (tile.full) {
              for (int64_t j = c0; j < c1; ++j) fullTileSum += s[j];
            } else {
              const MaskMembers* m = layout->patterns[tile.pattern].data() + r * bs;
              for (int64_t j = c0; j < c1; ++j) {
                if (!m[j] || s[j] == 0.f) continue;
                const float w = p.weights[h].weight(m[j]);
                if (!(w > 0.f)) continue;
                const double g = s[j] / w;
                for (int64_t b = 0; b < layout->numMasks; ++b)
                  if (m[j] >> b & 1) dah[(*columns)[b]] += g;
              }
            }
          }
          if (p.soft && tile.full && fullTileSum != 0.0) {
            const float w = p.weights[h].weight(tile.members);
            if (w > 0.f)
              for (int64_t b = 0; b < layout->numMasks; ++b)
                if (tile.members >> b & 1) dah[(*columns)[b]] += fullTileSum / w;
          }
          tileAccumulate(S.data() + c0, bs, R, C, kh + (k0 + c0) * d, d, dqRows);            // dQ += dZ K (scaled below)
          tileAccumulateTransposed(S.data() + c0, bs, R, C, qRows, d, dkh + (k0 + c0) * d);  // dK += dZ^T Q (scaled below)
        }
      }
    }
  });
  dq.mul_(p.scale);
  dk.mul_(p.scale);
  torch::Tensor dalpha;
  if (p.soft) dalpha = dalphaBH.sum(0).narrow(1, 0, numColumns).to(torch::kFloat32);
  return {dq, dk, dv, dalpha};
}

}  // namespace attnx::sparse
