// Internal to the block-sparse kernels (core/masks/sparse_attention*.cpp): the checked problem one
// call solves, shared by the reference kernel and the fast one, forward and backward.
#pragma once

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/masks/block_layout.h"
#include "core/masks/sparse_attention.h"

// The kernels' row loops are plain C++ that GCC vectorises; target_clones builds an AVX2/FMA copy
// next to the baseline one and picks at load time, since the project is compiled for plain x86-64.
// Not under ThreadSanitizer: GCC instruments the clones' resolver, which the dynamic loader runs
// before TSan has started, and the program dies while loading (SIGSEGV in libtsan).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define ATTNX_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define ATTNX_VECTOR_CLONES
#endif

namespace attnx::sparse {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

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
  const std::vector<float>& alphaOfBit() const { return alpha_; }

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
                    const torch::Tensor& alpha);

// The columns [begin, end) of a tile that the kernel computes: every attended pair lies inside.
struct ColumnSpan {
  int64_t begin = 0, end = 0;
};
ColumnSpan tileColumns(const Problem& p, const BlockLayout& layout, const LayoutTile& tile);

// out (B, H, Tq, d); lse (B, H, Tq): the log-sum-exp of each row's masked scores, +inf for a row
// that attends nothing.
struct ForwardResult {
  torch::Tensor out, lse;
};
struct Gradients {
  torch::Tensor dq, dk, dv, dalpha;
};

// q, k, v contiguous. numColumns: alpha's K (soft mask), 0 in support mode.
ForwardResult referenceForward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
Gradients referenceBackward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dOut,
                            int64_t numColumns);
ForwardResult fastForward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
Gradients fastBackward(const Problem& p, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dOut, int64_t numColumns);

}  // namespace attnx::sparse
