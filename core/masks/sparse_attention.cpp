#include "core/masks/sparse_attention.h"

#include <cmath>
#include <limits>
#include <utility>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

namespace attnx {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

// The tile loops below are plain C++ that GCC vectorises; target_clones builds an AVX2/FMA copy
// next to the baseline one and picks at load time, since the project is compiled for plain x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ATTNX_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define ATTNX_VECTOR_CLONES
#endif

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

// The mask weights of one head: W(members) = sum of alpha over the member bits, tabulated when the
// head has few masks (the common case), summed bit by bit otherwise.
class HeadWeights {
 public:
  HeadWeights() = default;
  HeadWeights(std::vector<float> alphaOfBit) : alpha_(std::move(alphaOfBit)) {
    if (alpha_.size() <= kTableBits) {
      table_.resize(size_t{1} << alpha_.size());
      for (size_t m = 0; m < table_.size(); ++m) table_[m] = sum(m);
    }
  }
  float weight(MaskMembers m) const { return table_.empty() ? sum(m) : table_[m]; }

 private:
  static constexpr size_t kTableBits = 12;
  float sum(MaskMembers m) const {
    float w = 0.f;
    for (size_t b = 0; b < alpha_.size(); ++b)
      if (m >> b & 1) w += alpha_[b];
    return w;
  }
  std::vector<float> alpha_;
  std::vector<float> table_;
};

// Everything one call needs, shared by forward and backward.
struct Problem {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, d = 0, rowBegin = 0, blockSize = 64, maxQueryBlocks = 0;
  float scale = 1.f;
  bool soft = false;
  const SparseHeads* heads = nullptr;
  std::vector<HeadWeights> weights;  // soft: per head
};

Problem makeProblem(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const SparseHeads& heads,
                    const torch::Tensor& alpha) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "sparse attention: q, k, v must be (B, H, T, d)");
  TORCH_CHECK(q.device().is_cpu() && q.scalar_type() == torch::kFloat32 && k.scalar_type() == torch::kFloat32 &&
                  v.scalar_type() == torch::kFloat32,
              "sparse attention: the CPU kernel takes float32 CPU tensors");
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

// The columns [begin, end) of a tile that the kernel computes: every attended pair lies inside.
struct ColumnSpan {
  int64_t begin = 0, end = 0;
};

ColumnSpan tileColumns(const Problem& p, const BlockLayout& layout, const LayoutTile& tile) {
  const int64_t C = std::min(p.blockSize, p.Tk - tile.keyBlock * p.blockSize);
  if (tile.full) return {0, C};
  const auto& span = layout.patternColumns[tile.pattern];
  return {span.first, span.second};
}

// Scores of one tile with the mask applied: S = scale q k^T (+ log W for the soft mask) on attended
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

struct ForwardResult {
  torch::Tensor out, lse;
};

ForwardResult sparseForward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
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

struct Gradients {
  torch::Tensor dq, dk, dv, dalpha;
};

Gradients sparseBackward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
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

// Keeps the layouts alive from forward to backward inside the autograd context.
struct HeadsHolder : torch::CustomClassHolder {
  explicit HeadsHolder(std::shared_ptr<const SparseHeads> h) : heads(std::move(h)) {}
  std::shared_ptr<const SparseHeads> heads;
};

class BlockSparseFunction : public torch::autograd::Function<BlockSparseFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor q, torch::Tensor k,
                               torch::Tensor v, torch::Tensor alpha, c10::intrusive_ptr<HeadsHolder> holder) {
    q = q.contiguous(), k = k.contiguous(), v = v.contiguous();
    const bool soft = alpha.numel() > 0;
    const auto p = makeProblem(q, k, v, *holder->heads, soft ? alpha : torch::Tensor());
    auto result = sparseForward(p, q, k, v);
    ctx->save_for_backward({q, k, v, alpha, result.out, result.lse});
    ctx->saved_data["heads"] = c10::IValue::make_capsule(holder);
    return result.out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& q = saved[0];
    const auto& k = saved[1];
    const auto& v = saved[2];
    const auto& alpha = saved[3];
    const auto holder = c10::static_intrusive_pointer_cast<HeadsHolder>(ctx->saved_data["heads"].toCapsule());
    const bool soft = alpha.numel() > 0;
    const auto p = makeProblem(q, k, v, *holder->heads, soft ? alpha : torch::Tensor());
    const auto g = sparseBackward(p, q, k, v, saved[4], saved[5], grads[0].contiguous(), soft ? alpha.size(1) : 0);
    return {g.dq, g.dk, g.dv, soft ? g.dalpha.to(alpha.dtype()) : torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor blockSparseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   std::shared_ptr<const SparseHeads> heads, const torch::Tensor& alpha) {
  TORCH_CHECK(heads, "sparse attention: no layouts");
  RECORD_FUNCTION("attnx::block_sparse_attention", std::vector<c10::IValue>({q, k, v}));
  auto holder = c10::make_intrusive<HeadsHolder>(std::move(heads));
  // An empty alpha (not undefined) says "support mode": Function inputs must be defined tensors.
  const auto a = alpha.defined() ? alpha : torch::zeros({0}, q.options());
  return BlockSparseFunction::apply(q, k, v, a, holder);
}

}  // namespace attnx
