// The fast block-sparse kernel. Per (batch, head, query block) the scores of every listed tile go
// side by side into one row-major buffer (rows x attended columns of the block), one product per tile;
// the mask is added only where a tile needs it (the diagonal of a FULL tile, the pattern of a
// PARTIAL one, precomputed as an additive bias); an exact softmax runs over each buffer row; and
// O = P V is one more product per tile. Backward recomputes P the same way and does its four
// products per tile. A PARTIAL tile whose pattern attends few of its cells (a strided mask's
// diagonal, a set of offsets: at most 1/8) skips the products and scores, weighs and back-propagates
// its pairs one by one (SparsePatterns). The reference kernel (sparse_attention_reference.cpp)
// computes the same.
//
// The products are tile_gemm's register micro-kernel, K^T and V^T from panels transposed once per
// call; without AVX2 they are BLAS calls of one tile each. Why one call per 64x64 tile rather than
// one per run of adjacent tiles: OpenBLAS (pthreads) hands any call above m*n*k = 2^18 to its own
// thread pool, and calls from our worker threads then queue on that one pool (a 64x320x64 product
// measured ~20x slower from two threads at once); at the tile size every call stays on the thread
// that makes it, and parallelism is ours.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/masks/cpu_tile_ops.h"
#include "core/masks/fused_attention.h"
#include "core/util/parallel.h"
#include "core/util/trace_span.h"
#include "core/masks/sparse_attention_problem.h"
#include "core/masks/tile_gemm.h"

namespace attnx::sparse {

namespace {

// ---- Row loops (vectorised) ---------------------------------------------------------------

// The products and the softmax loops are shared with the fused dense kernel.
using tile::expShiftSum;
using tile::rowMax;
using tile::smallGemm;

constexpr int kLanes = 16;

ATTNX_VECTOR_CLONES
void addRow(float* __restrict s, const float* __restrict bias, int64_t n) {
  for (int64_t j = 0; j < n; ++j) s[j] += bias[j];
}

ATTNX_VECTOR_CLONES
void addScalar(float* __restrict s, float bias, int64_t n) {
  for (int64_t j = 0; j < n; ++j) s[j] += bias;
}

// dS = P (dP - D), in place in dP.
ATTNX_VECTOR_CLONES
void softmaxGradient(const float* __restrict P, float* __restrict dP, float D, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dP[j] = P[j] * (dP[j] - D);
}

ATTNX_VECTOR_CLONES
float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float lane[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += a[j + l] * b[j + l];
  float sum = 0.f;
  for (; j < n; ++j) sum += a[j] * b[j];
  for (int l = 0; l < kLanes; ++l) sum += lane[l];
  return sum;
}

// The sum of x[0, n), in kLanes partial sums.
ATTNX_VECTOR_CLONES
float total(const float* __restrict x, int64_t n) {
  float lane[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += x[j + l];
  float result = 0.f;
  for (; j < n; ++j) result += x[j];
  for (int l = 0; l < kLanes; ++l) result += lane[l];
  return result;
}

// y += a x.
ATTNX_VECTOR_CLONES
void axpy(float* __restrict y, float a, const float* __restrict x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

// ---- Masks as additive biases -------------------------------------------------------------

// Per head, per pattern of its layout: blockSize^2 additive biases, log W (soft mask; 0 in support
// mode) where the pair is attended and -inf where not. Heads with the same layout and weights share
// one table; a layout whose tables would exceed kBiasBudget gets none and is masked pair by pair.
class PatternBiases {
 public:
  explicit PatternBiases(const Problem& p) : perHead_(p.H) {
    std::map<std::pair<const BlockLayout*, std::vector<float>>, std::shared_ptr<const std::vector<float>>> shared;
    const int64_t cells = p.blockSize * p.blockSize;
    for (int64_t h = 0; h < p.H; ++h) {
      const BlockLayout* layout = p.heads->layouts[h].get();
      if (!layout || layout->patterns.empty()) continue;
      if (static_cast<int64_t>(layout->patterns.size()) * cells * 4 > kBiasBudget) continue;
      auto key = std::make_pair(layout, p.soft ? p.weights[h].alphaOfBit() : std::vector<float>{});
      auto& table = shared[key];
      if (!table) {
        auto t = std::make_shared<std::vector<float>>(layout->patterns.size() * cells);
        float* out = t->data();
        for (const auto& pattern : layout->patterns)
          for (const MaskMembers m : pattern) *out++ = pairBias(p, h, m);
        table = std::move(t);
      }
      perHead_[h] = table;
    }
  }
  // The pattern's blockSize^2 biases, or null: ask pairBias.
  const float* pattern(int64_t h, int32_t index, int64_t cells) const {
    return perHead_[h] ? perHead_[h]->data() + index * cells : nullptr;
  }
  static float pairBias(const Problem& p, int64_t h, MaskMembers m) {
    if (!m) return kNegInf;
    if (!p.soft) return 0.f;
    const float w = p.weights[h].weight(m);
    return w > 0.f ? std::log(w) : kNegInf;
  }

 private:
  static constexpr int64_t kBiasBudget = int64_t{64} << 20;
  std::vector<std::shared_ptr<const std::vector<float>>> perHead_;
};

// Sparse patterns (at most 1/8 of the cells attended: a strided mask's diagonal, a set of offsets)
// stored by row: each row's attended key columns in `slots` slots, -1 past its last. Such a tile
// takes `slots` columns of the score buffer instead of up to 64 and is scored one dot product per
// pair: a product over the whole tile would compute 64 x 64 scores to keep 64 (a diagonal), and the
// softmax would run over all of them.
struct SparseTile {
  int64_t slots = 0;
  std::vector<int32_t> column;  // blockSize x slots, row-major
};

// The SparseTile of each sparse pattern of each head's layout (null for dense patterns).
class SparsePatterns {
 public:
  explicit SparsePatterns(const Problem& p) : perHead_(p.H) {
    std::map<const BlockLayout*, std::shared_ptr<const Table>> shared;
    const int64_t bs = p.blockSize;
    for (int64_t h = 0; h < p.H; ++h) {
      const BlockLayout* layout = p.heads->layouts[h].get();
      if (!layout || layout->patterns.empty()) continue;
      auto& table = shared[layout];
      if (!table) {
        auto t = std::make_shared<Table>(layout->patterns.size());
        for (size_t i = 0; i < layout->patterns.size(); ++i) {
          const MaskMembers* pattern = layout->patterns[i].data();
          int64_t attended = 0, slots = 0;
          for (int64_t r = 0; r < bs; ++r) {
            const int64_t inRow = std::count_if(pattern + r * bs, pattern + (r + 1) * bs, [](MaskMembers m) { return m != 0; });
            attended += inRow;
            slots = std::max(slots, inRow);
          }
          if (attended * kSparseRatio > bs * bs) continue;
          auto tile = std::make_unique<SparseTile>();
          tile->slots = slots;
          tile->column.assign(static_cast<size_t>(bs * slots), -1);
          for (int64_t r = 0; r < bs; ++r)
            for (int64_t c = 0, slot = 0; c < bs; ++c)
              if (pattern[r * bs + c]) tile->column[r * slots + slot++] = static_cast<int32_t>(c);
          (*t)[i] = std::move(tile);
        }
        table = std::move(t);
      }
      perHead_[h] = table;
    }
  }
  const SparseTile* find(int64_t h, const LayoutTile& tile) const {
    if (tile.full || !perHead_[h]) return nullptr;
    return (*perHead_[h])[tile.pattern].get();
  }

 private:
  static constexpr int64_t kSparseRatio = 8;
  using Table = std::vector<std::unique_ptr<const SparseTile>>;
  std::vector<std::shared_ptr<const Table>> perHead_;
};

// Calls f(r, slot, c) for every attended pair of a sparse tile's first R rows: c is the key column in
// the block, slot the pair's column in the tile's part of the score buffer. A row's pairs fill its
// first slots; the rest hold -1.
template <class F>
void forEachPair(const SparseTile& st, int64_t R, F&& f) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t slot = 0; slot < st.slots; ++slot) {
      const int32_t c = st.column[r * st.slots + slot];
      if (c < 0) break;
      f(r, slot, c);
    }
}

// Columns a tile takes in the score buffer: its slots when sparse, else its column span.
int64_t tileWidth(const Problem& p, const SparsePatterns& sparse, int64_t h, const BlockLayout& layout, const LayoutTile& tile) {
  if (const SparseTile* st = sparse.find(h, tile)) return st->slots;
  const auto cols = tileColumns(p, layout, tile);
  return cols.end - cols.begin;
}

// The widest query block of any head: the buffer's row length.
int64_t maxBlockWidth(const Problem& p, const SparsePatterns& sparse) {
  int64_t widest = 1;
  for (int64_t h = 0; h < p.H; ++h) {
    const BlockLayout* layout = p.heads->layouts[h].get();
    if (!layout) continue;
    for (int64_t qb = 0; qb < layout->numQueryBlocks(); ++qb) {
      int64_t width = 0;
      for (int64_t t = layout->tileStart[qb]; t < layout->tileStart[qb + 1]; ++t)
        width += tileWidth(p, sparse, h, *layout, layout->tiles[t]);
      widest = std::max(widest, width);
    }
  }
  return (widest + kLanes - 1) / kLanes * kLanes;
}

// Heads whose layout attends every causal pair with one mask set, as a head the plan left full causal:
// their softmax is the dense causal one (a constant bias log W cancels), so the forward runs the
// fused kernel's query tiles, whose online softmax keeps 64 x 64 scores where the block path holds
// a row of scores over every key (16 KiB per row at n = 4096). Per head the bias, which the
// log-sum-exp the backward reads includes; none for the other heads.
std::vector<std::optional<float>> fullCausalHeads(const Problem& p) {
  std::vector<std::optional<float>> biasOf(p.H);
  for (int64_t h = 0; h < p.H; ++h) {
    const BlockLayout* layout = p.heads->layouts[h].get();
    if (!layout || layout->tiles.empty()) continue;
    const MaskMembers members = layout->tiles.front().members;
    bool causal = true;
    for (int64_t qb = 0; qb < layout->numQueryBlocks() && causal; ++qb) {
      const int64_t lastRow = layout->firstRow(qb) + layout->rowsIn(qb) - 1;
      const int64_t first = layout->tileStart[qb], count = layout->tileStart[qb + 1] - first;
      causal = count == lastRow / p.blockSize + 1;
      for (int64_t t = 0; t < count && causal; ++t) {
        const LayoutTile& tile = layout->tiles[first + t];
        causal = tile.full && tile.keyBlock == t && tile.members == members;
      }
    }
    const float bias = PatternBiases::pairBias(p, h, members);
    if (causal && std::isfinite(bias)) biasOf[h] = bias;
  }
  return biasOf;
}

// One query block of one (batch, head) bh: where its rows and its head's keys are.
struct QueryBlock {
  const BlockLayout* layout = nullptr;
  int64_t bh = 0, h = 0, qb = 0, firstRow = 0, R = 0;
  const float *q = nullptr, *k = nullptr, *v = nullptr;  // q: the block's R rows; k, v: the head's Tk rows
  const tile::TransposedRows* keys = nullptr;             // every head's keys, for S = Q K^T
};

// S (R x width, row stride ldS) = scale q k^T + mask bias over the block's tiles, side by side: tile
// t's columns start at offsets[t - first tile]. Returns the width.
int64_t blockScores(const Problem& p, const PatternBiases& biases, const SparsePatterns& sparse, const QueryBlock& b,
                    float* S, int64_t ldS, std::vector<int64_t>& offsets) {
  const BlockLayout& L = *b.layout;
  const int64_t bs = p.blockSize, d = p.d, cells = bs * bs;
  offsets.clear();
  int64_t width = 0;
  for (int64_t t = L.tileStart[b.qb]; t < L.tileStart[b.qb + 1]; ++t) {
    const auto& tile = L.tiles[t];
    const auto cols = tileColumns(p, L, tile);
    const int64_t k0 = tile.keyBlock * bs, c0 = cols.begin, C = cols.end - cols.begin;
    offsets.push_back(width);
    float* St = S + width;
    if (const SparseTile* st = sparse.find(b.h, tile)) {  // pair by pair, into the tile's slots
      const float* bias = biases.pattern(b.h, tile.pattern, cells);
      const MaskMembers* pattern = L.patterns[tile.pattern].data();
      for (int64_t r = 0; r < b.R; ++r) std::fill(St + r * ldS, St + r * ldS + st->slots, kNegInf);
      forEachPair(*st, b.R, [&](int64_t r, int64_t slot, int64_t c) {
        const int64_t cell = r * bs + c;
        St[r * ldS + slot] = p.scale * dot(b.q + r * d, b.k + (k0 + c) * d, d) +
                             (bias ? bias[cell] : PatternBiases::pairBias(p, b.h, pattern[cell]));
      });
      width += st->slots;
      continue;
    }
    b.keys->product(b.bh, k0 + c0, b.R, C, p.scale, b.q, d, 0.f, St, ldS);
    if (tile.full) {
      if (p.soft) {
        const float bias = PatternBiases::pairBias(p, b.h, tile.members);
        if (bias != 0.f)
          for (int64_t r = 0; r < b.R; ++r) addScalar(St + r * ldS, bias, C);
      }
      // Keys after row r's own are in the future: only the diagonal tile has any.
      for (int64_t r = 0; r < b.R; ++r) {
        const int64_t firstFuture = std::max<int64_t>(0, b.firstRow + r - k0 + 1);
        for (int64_t j = firstFuture; j < C; ++j) St[r * ldS + j] = kNegInf;
      }
    } else if (const float* bias = biases.pattern(b.h, tile.pattern, cells)) {
      for (int64_t r = 0; r < b.R; ++r) addRow(St + r * ldS, bias + r * bs + c0, C);
    } else {
      const MaskMembers* pattern = L.patterns[tile.pattern].data();
      for (int64_t r = 0; r < b.R; ++r)
        for (int64_t j = 0; j < C; ++j) St[r * ldS + j] += PatternBiases::pairBias(p, b.h, pattern[r * bs + c0 + j]);
    }
    width += C;
  }
  return width;
}

}  // namespace

ForwardResult fastForward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  auto out = torch::empty({p.B, p.H, p.Tq, p.d}, q.options());
  auto lse = torch::empty({p.B, p.H, p.Tq}, q.options());  // +inf marks rows without attended keys
  const float *qd = q.data_ptr<float>(), *kd = k.data_ptr<float>(), *vd = v.data_ptr<float>();
  float *od = out.data_ptr<float>(), *ld = lse.data_ptr<float>();
  const int64_t bs = p.blockSize, d = p.d, QB = p.maxQueryBlocks;
  const PatternBiases biases(p);
  const SparsePatterns sparse(p);
  const int64_t ldS = maxBlockWidth(p, sparse);
  TraceSpan packing("attnx::sparse::transpose_keys");
  const tile::TransposedRows keys(kd, p.B * p.H, p.Tk, d, bs, p.Tq);
  packing.end();
  const auto fullCausal = fullCausalHeads(p);
  // A task is one query block of one (batch, head); its cost, its number of tiles.
  std::vector<int64_t> cost(p.B * p.H * QB, 0);
  for (int64_t task = 0; task < p.B * p.H * QB; ++task)
    if (const BlockLayout* layout = p.heads->layouts[task / QB % p.H].get())
      cost[task] = layout->tileStart[task % QB + 1] - layout->tileStart[task % QB];
  struct Scratch {
    std::vector<float> S, inverseSum;
    std::vector<int64_t> offsets;
    fused::TileScratch tile;
  };
  const auto makeScratch = [&] {
    return Scratch{std::vector<float>(bs * ldS), std::vector<float>(bs), {}, fused::TileScratch(bs, bs)};
  };
  auto queryBlock = [&](int64_t task, Scratch& w) {
    auto &S = w.S, &inverseSum = w.inverseSum;
    auto& offsets = w.offsets;
    const int64_t bh = task / QB, qb = task % QB, h = bh % p.H;
    QueryBlock b;
    b.layout = p.heads->layouts[h].get();
    b.bh = bh, b.h = h, b.qb = qb, b.firstRow = p.rowBegin + qb * bs, b.R = std::min(bs, p.Tk - b.firstRow);
    const int64_t r0 = qb * bs;  // row index within q
    b.q = qd + (bh * p.Tq + r0) * d, b.k = kd + bh * p.Tk * d, b.v = vd + bh * p.Tk * d, b.keys = &keys;
    float* oRows = od + (bh * p.Tq + r0) * d;
    float* lRows = ld + bh * p.Tq + r0;
    TraceSpan phase;
    if (fullCausal[h]) {
      phase.begin("attnx::sparse::full_causal");
      fused::causalQueryTile(b.R, b.firstRow, d, p.scale, b.q, keys, bh, b.v, oRows, lRows, *fullCausal[h], w.tile);
      return;
    }
    phase.begin("attnx::sparse::scores");
    const int64_t width = b.layout ? blockScores(p, biases, sparse, b, S.data(), ldS, offsets) : 0;
    phase.begin("attnx::sparse::softmax");
    for (int64_t r = 0; r < b.R; ++r) {
      float* s = S.data() + r * ldS;
      const float m = rowMax(s, width);
      if (m == kNegInf) {  // nothing attended in this row
        std::fill(s, s + width, 0.f);
        lRows[r] = kPosInf;
        inverseSum[r] = 0.f;
        continue;
      }
      const float sum = expShiftSum(s, width, m);
      lRows[r] = m + std::log(sum);
      inverseSum[r] = 1.f / sum;
    }
    phase.begin("attnx::sparse::pv");
    std::fill(oRows, oRows + b.R * d, 0.f);
    for (size_t t = 0; t < offsets.size() && width > 0; ++t) {  // O = P V, tile by tile
      const auto& tile = b.layout->tiles[b.layout->tileStart[qb] + t];
      const auto cols = tileColumns(p, *b.layout, tile);
      const int64_t key = tile.keyBlock * bs + cols.begin, C = cols.end - cols.begin;
      const float* Pt = S.data() + offsets[t];
      if (const SparseTile* st = sparse.find(h, tile)) {
        const int64_t k0 = tile.keyBlock * bs;
        forEachPair(*st, b.R, [&](int64_t r, int64_t slot, int64_t c) {
          axpy(oRows + r * d, Pt[r * ldS + slot], b.v + (k0 + c) * d, d);
        });
      } else {
        smallGemm(b.R, d, C, 1.f, Pt, ldS, 1, b.v + key * d, d, 1.f, oRows, d);
      }
    }
    for (int64_t r = 0; r < b.R; ++r) {
      float* o = oRows + r * d;
      if (lRows[r] != kPosInf) {
        for (int64_t c = 0; c < d; ++c) o[c] *= inverseSum[r];
      } else if (p.soft) {  // no attended key: the diagonal, like the dense reference
        std::copy(b.v + (b.firstRow + r) * d, b.v + (b.firstRow + r + 1) * d, o);
      } else {  // support mode: an empty row (or head) outputs zeros
        std::fill(o, o + d, 0.f);
      }
    }
  };
  forEachTaskCostliestFirst(cost, makeScratch, queryBlock);
  return {out, lse};
}

Gradients fastBackward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dOut, int64_t numColumns) {
  // Zeroed per head by the thread that fills it: in parallel, and just before use.
  auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
  // Per (batch, head) partial gradients of alpha, summed over the batch at the end (no races).
  const int64_t dalphaStride = std::max<int64_t>(numColumns, 1);
  auto dalphaBH = torch::zeros({p.B, p.H, dalphaStride}, torch::kFloat64);
  const float *qd = q.data_ptr<float>(), *kd = k.data_ptr<float>(), *vd = v.data_ptr<float>(),
              *od = out.data_ptr<float>(), *ld = lse.data_ptr<float>(), *gd = dOut.data_ptr<float>();
  float *dqd = dq.data_ptr<float>(), *dkd = dk.data_ptr<float>(), *dvd = dv.data_ptr<float>();
  double* dad = dalphaBH.data_ptr<double>();
  const int64_t bs = p.blockSize, d = p.d;
  const PatternBiases biases(p);
  const SparsePatterns sparse(p);
  const int64_t ldS = maxBlockWidth(p, sparse);
  TraceSpan packing("attnx::sparse::transpose_keys_values");
  const tile::TransposedRows keys(kd, p.B * p.H, p.Tk, d, bs, p.Tq), values(vd, p.B * p.H, p.Tk, d, bs, p.Tq);
  packing.end();

  // A task is one (batch, head), dK and dV of a head collecting from every query block; its cost,
  // its number of tiles.
  std::vector<int64_t> cost(p.B * p.H, 0);
  for (int64_t bh = 0; bh < p.B * p.H; ++bh)
    if (const BlockLayout* layout = p.heads->layouts[bh % p.H].get()) cost[bh] = layout->numTiles();
  struct Scratch {
    std::vector<float> S, dS, D;
    std::vector<int64_t> offsets;
  };
  const auto makeScratch = [&] {
    return Scratch{std::vector<float>(bs * ldS), std::vector<float>(bs * ldS), std::vector<float>(bs), {}};
  };
  auto head = [&](int64_t bh, Scratch& w) {
    auto &S = w.S, &dS = w.dS, &D = w.D;
    auto& offsets = w.offsets;
    const int64_t h = bh % p.H;
    std::fill(dqd + bh * p.Tq * d, dqd + (bh + 1) * p.Tq * d, 0.f);
    std::fill(dkd + bh * p.Tk * d, dkd + (bh + 1) * p.Tk * d, 0.f);
    std::fill(dvd + bh * p.Tk * d, dvd + (bh + 1) * p.Tk * d, 0.f);
    float* dkh = dkd + bh * p.Tk * d;
    float* dvh = dvd + bh * p.Tk * d;
    double* dah = dad + bh * dalphaStride;
    const auto* columns = p.soft ? &p.heads->columns[h] : nullptr;
    for (int64_t qb = 0; qb < p.maxQueryBlocks; ++qb) {
      QueryBlock b;
      b.layout = p.heads->layouts[h].get();
      b.bh = bh, b.h = h, b.qb = qb, b.firstRow = p.rowBegin + qb * bs, b.R = std::min(bs, p.Tk - b.firstRow);
      const int64_t r0 = qb * bs;
      b.q = qd + (bh * p.Tq + r0) * d, b.k = kd + bh * p.Tk * d, b.v = vd + bh * p.Tk * d, b.keys = &keys;
      const float* oRows = od + (bh * p.Tq + r0) * d;
      const float* gRows = gd + (bh * p.Tq + r0) * d;
      const float* lRows = ld + bh * p.Tq + r0;
      float* dqRows = dqd + (bh * p.Tq + r0) * d;
      for (int64_t r = 0; r < b.R; ++r) {
        if (lRows[r] == kPosInf) {  // no attended key
          if (p.soft)               // the diagonal fallback passed v through
            for (int64_t c = 0; c < d; ++c) dvh[(b.firstRow + r) * d + c] += gRows[r * d + c];
          D[r] = 0.f;
          continue;
        }
        D[r] = dot(gRows + r * d, oRows + r * d, d);
      }
      if (!b.layout) continue;
      TraceSpan phase;
      phase.begin("attnx::sparse::backward_p");
      const int64_t width = blockScores(p, biases, sparse, b, S.data(), ldS, offsets);
      if (width == 0) continue;
      for (int64_t r = 0; r < b.R; ++r) {  // P = exp(S - lse); 0 off the support and in empty rows
        float* s = S.data() + r * ldS;
        if (lRows[r] == kPosInf)
          std::fill(s, s + width, 0.f);
        else
          expShiftSum(s, width, lRows[r]);
      }
      phase.begin("attnx::sparse::backward_dv_dp");
      const int64_t tiles = static_cast<int64_t>(offsets.size());
      for (int64_t t = 0; t < tiles; ++t) {
        const auto& tile = b.layout->tiles[b.layout->tileStart[qb] + t];
        const auto cols = tileColumns(p, *b.layout, tile);
        const int64_t key = tile.keyBlock * bs + cols.begin, C = cols.end - cols.begin;
        if (const SparseTile* st = sparse.find(h, tile)) {  // the same two products, pair by pair
          const int64_t k0 = tile.keyBlock * bs;
          const float* Pt = S.data() + offsets[t];
          float* dPt = dS.data() + offsets[t];
          // Slots without a pair: P is 0 there, so dZ is 0 whatever dP holds; 0 keeps it finite.
          for (int64_t r = 0; r < b.R; ++r) std::fill(dPt + r * ldS, dPt + r * ldS + st->slots, 0.f);
          forEachPair(*st, b.R, [&](int64_t r, int64_t slot, int64_t c) {
            axpy(dvh + (k0 + c) * d, Pt[r * ldS + slot], gRows + r * d, d);
            dPt[r * ldS + slot] = dot(gRows + r * d, b.v + (k0 + c) * d, d);
          });
          continue;
        }
        smallGemm(C, d, b.R, 1.f, S.data() + offsets[t], 1, ldS, gRows, d, 1.f, dvh + key * d, d);  // dV += P^T dO
        values.product(bh, key, b.R, C, 1.f, gRows, d, 0.f, dS.data() + offsets[t], ldS);          // dP = dO V^T
      }
      phase.begin("attnx::sparse::backward_dz");
      for (int64_t r = 0; r < b.R; ++r)  // dZ = P (dP - D): the gradient of the masked logits
        softmaxGradient(S.data() + r * ldS, dS.data() + r * ldS, D[r], width);
      phase.begin("attnx::sparse::backward_dq_dk");
      for (int64_t t = 0; t < tiles; ++t) {
        const auto& tile = b.layout->tiles[b.layout->tileStart[qb] + t];
        const auto cols = tileColumns(p, *b.layout, tile);
        const int64_t key = tile.keyBlock * bs + cols.begin, C = cols.end - cols.begin;
        const float* dSt = dS.data() + offsets[t];
        const SparseTile* st = sparse.find(h, tile);
        if (p.soft) {  // dL/dalpha_k = sum over pairs covered by mask k of dZ_ij / W_ij
          auto addPair = [&](MaskMembers m, float g) {
            if (!m || g == 0.f) return;
            const float w = p.weights[h].weight(m);
            if (!(w > 0.f)) return;
            for (int64_t bit = 0; bit < b.layout->numMasks; ++bit)
              if (m >> bit & 1) dah[(*columns)[bit]] += double(g) / w;
          };
          if (tile.full) {
            double sum = 0.0;
            for (int64_t r = 0; r < b.R; ++r) sum += total(dSt + r * ldS, C);  // rows in float, the tile in double
            const float w = p.weights[h].weight(tile.members);
            if (sum != 0.0 && w > 0.f)
              for (int64_t bit = 0; bit < b.layout->numMasks; ++bit)
                if (tile.members >> bit & 1) dah[(*columns)[bit]] += sum / w;
          } else if (st) {
            const MaskMembers* pattern = b.layout->patterns[tile.pattern].data();
            forEachPair(*st, b.R, [&](int64_t r, int64_t slot, int64_t c) {
              addPair(pattern[r * bs + c], dSt[r * ldS + slot]);
            });
          } else {
            const MaskMembers* pattern = b.layout->patterns[tile.pattern].data() + cols.begin;
            for (int64_t r = 0; r < b.R; ++r)
              for (int64_t j = 0; j < C; ++j) addPair(pattern[r * bs + j], dSt[r * ldS + j]);
          }
        }
        if (st) {
          const int64_t k0 = tile.keyBlock * bs;
          forEachPair(*st, b.R, [&](int64_t r, int64_t slot, int64_t c) {
            const float g = p.scale * dSt[r * ldS + slot];
            axpy(dqRows + r * d, g, b.k + (k0 + c) * d, d);
            axpy(dkh + (k0 + c) * d, g, b.q + r * d, d);
          });
          continue;
        }
        smallGemm(b.R, d, C, p.scale, dSt, ldS, 1, b.k + key * d, d, 1.f, dqRows, d);  // dQ += dZ K scale
        smallGemm(C, d, b.R, p.scale, dSt, 1, ldS, b.q, d, 1.f, dkh + key * d, d);     // dK += dZ^T Q scale
      }
    }
  };
  forEachTaskCostliestFirst(cost, makeScratch, head);
  torch::Tensor dalpha;
  if (p.soft) dalpha = dalphaBH.sum(0).narrow(1, 0, numColumns).to(torch::kFloat32);
  return {dq, dk, dv, dalpha};
}

}  // namespace attnx::sparse
