// The small products of the CPU attention kernels (at most a tile of 64 x 64 x 64 by default),
// computed in registers: a 6 x 16 AVX2/FMA micro-kernel over a row-major right operand and a left
// operand read with any strides, so that A and A^T cost the same and nothing is copied per call.
//
// Why not BLAS: at this size OpenBLAS spends most of a call packing and dispatching (64^3 products
// ran at 43-47% of the same machine's 2048^3 rate), and the attention kernels make millions of them.
// The right operand must be row-major; a product with K^T or V^T on the right takes the transposed
// panels of packKeyPanels, made once per call of the kernel.
#pragma once

#include <cstdint>
#include <memory>

namespace attnx::tile {

// C (M x N, row stride ldc) = alpha A B + beta C, where A(i, k) = A[i * aRow + k * aCol] (M x K;
// aRow = lda, aCol = 1 for A, aRow = 1, aCol = lda for a stored A^T) and B is K x N row-major (ldb).
// One of aRow, aCol is 1. With beta = 0 C is not read (it may hold NaN). Where tile::cpuHasAvx2Fma()
// is false this is the BLAS call of cpu_tile_ops.h.
void smallGemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t aRow, int64_t aCol,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The keys (or values) of `heads` heads as the right operand of S = alpha A X^T: X is heads x rows
// x d, row-major and contiguous, and outlives this. When enough query rows share them (`queries`
// at least kPackMinQueries) each block of `block` rows is stored transposed once, d x block, and
// every product is a smallGemm; for fewer (decoding one token) packing would cost as much as the
// product, and BLAS multiplies by X^T as stored.
class TransposedRows {
 public:
  static constexpr int64_t kPackMinQueries = 16;
  TransposedRows(const float* x, int64_t heads, int64_t rows, int64_t d, int64_t block, int64_t queries);
  // S (R x C, ldS) = alpha A X_h[key0, key0 + C)^T + beta S; A is R x d, row-major (lda). The keys
  // lie in one block: key0 / block == (key0 + C - 1) / block.
  void product(int64_t h, int64_t key0, int64_t R, int64_t C, float alpha, const float* A, int64_t lda, float beta,
               float* S, int64_t ldS) const;
  bool packed() const { return panels_ != nullptr; }
  int64_t block() const { return block_; }

 private:
  const float* x_;
  int64_t rows_, d_, block_, blocks_;
  std::unique_ptr<float[]> panels_;  // per head, per block: d x block; null when not packed
};

}  // namespace attnx::tile
