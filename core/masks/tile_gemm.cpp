#include "core/masks/tile_gemm.h"

#include <algorithm>

#include <ATen/Parallel.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/masks/cpu_tile_ops.h"

namespace attnx::tile {

namespace {

#if defined(__GNUC__) && defined(__x86_64__)
#define ATTNX_HAVE_MICROKERNEL 1

bool cpuHasAvx2Fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

constexpr int64_t kTileRows = 6, kTileCols = 16;

// One MR x 16 block of C (MR <= 6): 12 accumulators, two loads of B and MR broadcasts of A per step
// of k. On a CPU with two 256-bit FMA pipes (Zen 4, most Intel cores) the FMAs, not the loads, set
// its pace. Full: all 16 columns; else the masks select the first ones (loads and stores alike).
template <int MR, bool Full>
__attribute__((target("avx2,fma"))) void microTile(int64_t K, float alpha, const float* A, int64_t aRow, int64_t aCol,
                                                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                                                   __m256i maskLo, __m256i maskHi) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    const __m256 b0 = Full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, maskLo);
    const __m256 b1 = Full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, maskHi);
    const float* a = A + k * aCol;
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i * aRow);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* c = C + i * ldc;
    __m256 r0 = _mm256_mul_ps(va, c0[i]), r1 = _mm256_mul_ps(va, c1[i]);
    if (beta != 0.f) {
      r0 = _mm256_fmadd_ps(vb, Full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, maskLo), r0);
      r1 = _mm256_fmadd_ps(vb, Full ? _mm256_loadu_ps(c + 8) : _mm256_maskload_ps(c + 8, maskHi), r1);
    }
    if (Full) {
      _mm256_storeu_ps(c, r0);
      _mm256_storeu_ps(c + 8, r1);
    } else {
      _mm256_maskstore_ps(c, maskLo, r0);
      _mm256_maskstore_ps(c + 8, maskHi, r1);
    }
  }
}

using MicroTile = void (*)(int64_t, float, const float*, int64_t, int64_t, const float*, int64_t, float, float*,
                           int64_t, __m256i, __m256i);

template <bool Full>
constexpr MicroTile kMicroTiles[kTileRows + 1] = {nullptr,
                                                  microTile<1, Full>,
                                                  microTile<2, Full>,
                                                  microTile<3, Full>,
                                                  microTile<4, Full>,
                                                  microTile<5, Full>,
                                                  microTile<6, Full>};

// Column blocks outside, row blocks inside: a block's K x 16 slice of B stays in L1 while every row
// block of A passes over it.
__attribute__((target("avx2,fma"))) void smallGemmAvx2(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                                                       int64_t aRow, int64_t aCol, const float* B, int64_t ldb,
                                                       float beta, float* C, int64_t ldc) {
  alignas(32) static const int32_t ramp[kTileCols] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int64_t j0 = 0; j0 < N; j0 += kTileCols) {
    const int64_t cols = std::min(kTileCols, N - j0);
    const __m256i n = _mm256_set1_epi32(static_cast<int32_t>(cols));
    const __m256i maskLo = _mm256_cmpgt_epi32(n, _mm256_load_si256(reinterpret_cast<const __m256i*>(ramp)));
    const __m256i maskHi = _mm256_cmpgt_epi32(n, _mm256_load_si256(reinterpret_cast<const __m256i*>(ramp + 8)));
    const MicroTile* tiles = cols == kTileCols ? kMicroTiles<true> : kMicroTiles<false>;
    for (int64_t i0 = 0; i0 < M; i0 += kTileRows) {
      const int64_t rows = std::min(kTileRows, M - i0);
      tiles[rows](K, alpha, A + i0 * aRow, aRow, aCol, B + j0, ldb, beta, C + i0 * ldc + j0, ldc, maskLo, maskHi);
    }
  }
}
#endif

}  // namespace

bool smallGemmVectorised() {
#ifdef ATTNX_HAVE_MICROKERNEL
  return cpuHasAvx2Fma();
#else
  return false;
#endif
}

void smallGemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t aRow, int64_t aCol,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#ifdef ATTNX_HAVE_MICROKERNEL
  if (cpuHasAvx2Fma()) return smallGemmAvx2(M, N, K, alpha, A, aRow, aCol, B, ldb, beta, C, ldc);
#endif
  if (aCol == 1)
    gemm(false, false, M, N, K, alpha, A, aRow, B, ldb, beta, C, ldc);
  else
    gemm(true, false, M, N, K, alpha, A, aCol, B, ldb, beta, C, ldc);
}

TransposedRows::TransposedRows(const float* x, int64_t heads, int64_t rows, int64_t d, int64_t block,
                               int64_t queries)
    : x_(x), rows_(rows), d_(d), block_(block), blocks_((rows + block - 1) / block) {
  if (queries < kPackMinQueries || !smallGemmVectorised() || heads * rows == 0) return;
  panels_.assign(static_cast<size_t>(heads * blocks_ * d * block), 0.f);
  at::parallel_for(0, heads * blocks_, 1, [&](int64_t begin, int64_t end) {
    for (int64_t panel = begin; panel < end; ++panel) {
      const int64_t h = panel / blocks_, first = panel % blocks_ * block;
      const int64_t count = std::min(block, rows - first);
      const float* src = x + (h * rows + first) * d;
      float* dst = panels_.data() + panel * d * block;
      for (int64_t c = 0; c < count; ++c)
        for (int64_t kk = 0; kk < d; ++kk) dst[kk * block + c] = src[c * d + kk];
    }
  });
}

void TransposedRows::product(int64_t h, int64_t key0, int64_t R, int64_t C, float alpha, const float* A, int64_t lda,
                             float beta, float* S, int64_t ldS) const {
  if (!packed()) {
    gemm(false, true, R, C, d_, alpha, A, lda, x_ + (h * rows_ + key0) * d_, d_, beta, S, ldS);
    return;
  }
  const float* panel = panels_.data() + (h * blocks_ + key0 / block_) * d_ * block_;
  smallGemm(R, C, d_, alpha, A, lda, 1, panel + key0 % block_, block_, beta, S, ldS);
}

}  // namespace attnx::tile
