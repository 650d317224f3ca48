#include "core/masks/tile_gemm.h"

#include <algorithm>

#include <ATen/Parallel.h>

#include "core/masks/cpu_tile_ops.h"  // ATTNX_HAVE_AVX2_PATHS

#ifdef ATTNX_HAVE_AVX2_PATHS
#include <immintrin.h>
#endif

namespace attnx::tile {

namespace {

#ifdef ATTNX_HAVE_AVX2_PATHS
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

// dst (d x block, row-major) = the first `count` rows of src (count x d, row-major) transposed, 8 x 8
// at a time in registers: a scalar transposition writes each key's d values 256 bytes apart and ran
// at ~3 GB/s, a sixth of a window plan's forward at n = 4096. Columns past count are zero.
__attribute__((target("avx2,fma"))) void transposePanel(const float* src, int64_t count, int64_t d, int64_t block,
                                                        float* dst) {
  const int64_t count8 = count / 8 * 8, d8 = d / 8 * 8;
  for (int64_t c = 0; c < count8; c += 8)
    for (int64_t kk = 0; kk < d8; kk += 8) {
      __m256 r[8], t[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (c + i) * d + kk);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (int j = 0; j < 4; ++j) {  // row kk + j from the low halves, kk + 4 + j from the high ones
        _mm256_storeu_ps(dst + (kk + j) * block + c, _mm256_permute2f128_ps(r[j], r[j + 4], 0x20));
        _mm256_storeu_ps(dst + (kk + 4 + j) * block + c, _mm256_permute2f128_ps(r[j], r[j + 4], 0x31));
      }
    }
  for (int64_t kk = 0; kk < d; ++kk) {  // what the 8 x 8 blocks left: the last d % 8 dims, the last count % 8 keys
    float* row = dst + kk * block;
    for (int64_t c = kk < d8 ? count8 : 0; c < count; ++c) row[c] = src[c * d + kk];
    std::fill(row + count, row + block, 0.f);
  }
}
#endif

}  // namespace

void smallGemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t aRow, int64_t aCol,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#ifdef ATTNX_HAVE_AVX2_PATHS
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
  if (queries < kPackMinQueries || !cpuHasAvx2Fma() || heads * rows == 0) return;
#ifdef ATTNX_HAVE_AVX2_PATHS
  panels_.reset(new float[static_cast<size_t>(heads * blocks_ * d * block)]);  // every float written below
  at::parallel_for(0, heads * blocks_, 1, [&](int64_t begin, int64_t end) {
    for (int64_t panel = begin; panel < end; ++panel) {
      const int64_t h = panel / blocks_, first = panel % blocks_ * block;
      transposePanel(x + (h * rows + first) * d, std::min(block, rows - first), d, block, panels_.get() + panel * d * block);
    }
  });
#endif
}

void TransposedRows::product(int64_t h, int64_t key0, int64_t R, int64_t C, float alpha, const float* A, int64_t lda,
                             float beta, float* S, int64_t ldS) const {
  if (!packed()) {
    gemm(false, true, R, C, d_, alpha, A, lda, x_ + (h * rows_ + key0) * d_, d_, beta, S, ldS);
    return;
  }
  const float* panel = panels_.get() + (h * blocks_ + key0 / block_) * d_ * block_;
  smallGemm(R, C, d_, alpha, A, lda, 1, panel + key0 % block_, block_, beta, S, ldS);
}

}  // namespace attnx::tile
