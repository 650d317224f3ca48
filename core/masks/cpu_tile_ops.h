// The building blocks of the CPU attention kernels (the fast block-sparse kernel, the fused dense
// one) and of the bench's sgemm ceiling: a row-major sgemm on the BLAS LibTorch loaded, kept on the
// calling thread, and the vectorised row max and exp-sum of a softmax.
#pragma once

#include <cstdint>

// x86-64 with GCC or Clang: the AVX2/FMA code paths (the loops below, tile_gemm's micro-kernel) are
// compiled in, and run on a CPU that has both.
#if defined(__GNUC__) && defined(__x86_64__)
#define ATTNX_HAVE_AVX2_PATHS 1
#endif

namespace attnx::tile {

// Whether the AVX2/FMA paths run here: compiled in, and the CPU has AVX2 and FMA.
bool cpuHasAvx2Fma();

// OpenBLAS's single-thread limit on m*n*k (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD): larger
// calls go to its own thread pool, and calls from two of our threads then queue on that one pool.
constexpr int64_t kSingleThreadGemm = int64_t{1} << 18;

// Row-major C (M x N, ldc) = alpha op(A) op(B) + beta C; op(X) = X^T where tX. A is M x K (K x M
// when tA), B is K x N (N x K when tB), both row-major with leading dimensions lda, ldb. Calls above
// kSingleThreadGemm are cut along N, so every BLAS call stays on the calling thread.
void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);

// The same product in one BLAS call whatever its size (OpenBLAS may run it on its own threads): the
// bench's reference rate for a large product.
void gemmWhole(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// max of s[0, n); -inf for n = 0.
float rowMax(const float* s, int64_t n);
// s = exp(s - shift) in place (0 where s is -inf); returns the sum.
float expShiftSum(float* s, int64_t n, float shift);
// exp(x), ~1 ulp, 0 below -87: the scalar twin of expShiftSum's.
float fastExp(float x);
// s *= a.
void scaleRow(float* s, float a, int64_t n);

}  // namespace attnx::tile
