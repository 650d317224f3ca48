#include "core/bench/sgemm_ceiling.h"

#include <algorithm>
#include <chrono>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

#include <ATen/Parallel.h>

#include "core/masks/cpu_tile_ops.h"
#include "core/masks/tile_gemm.h"

namespace attnx {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// OpenBLAS's thread count, where the loaded BLAS is OpenBLAS.
int blasThreadCount() {
#if defined(__unix__) || defined(__APPLE__)
  using Fn = int (*)();
  if (const auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) return fn();
#endif
  return 0;
}

// Each thread walks its own K and V (keys x headDim, as a head's are) tile by tile with one query
// tile, as the kernels do: S = Q K_t^T (tile x tile x headDim), then O += S V_t. GFLOP/s of all.
// blas: each product one BLAS call; else the kernels' micro-kernel, K^T packed once (not timed).
double tileRate(int threads, int64_t tile, int64_t d, double seconds, bool blas) {
  const int64_t keys = 4096, tilesPerPass = keys / tile;
  const double flopsPerPass = 4.0 * static_cast<double>(tile * tile * d * tilesPerPass);
  std::vector<double> passesDone(static_cast<size_t>(threads), 0);
  const auto t0 = Clock::now();
  at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      std::vector<float> Q(tile * d, 0.5f), K(keys * d, 0.25f), V(keys * d, 0.125f), S(tile * tile), O(tile * d, 0.f);
      const tile::TransposedRows keysT(K.data(), 1, keys, d, tile, /*queries*/ tile);
      double passes = 0;
      const auto start = Clock::now();
      while (secondsSince(start) < seconds) {
        for (int64_t k0 = 0; k0 < keys; k0 += tile) {
          if (blas) {
            tile::gemm(false, true, tile, tile, d, 0.125f, Q.data(), d, K.data() + k0 * d, d, 0.f, S.data(), tile);
            tile::gemm(false, false, tile, d, tile, 1e-3f, S.data(), tile, V.data() + k0 * d, d, 1.f, O.data(), d);
          } else {
            keysT.product(0, k0, tile, tile, 0.125f, Q.data(), d, 0.f, S.data(), tile);
            tile::smallGemm(tile, d, tile, 1e-3f, S.data(), tile, 1, V.data() + k0 * d, d, 1.f, O.data(), d);
          }
        }
        ++passes;
      }
      passesDone[static_cast<size_t>(t)] = passes;
    }
  });
  // The slowest thread's wall time is the run's: every thread's work over the whole span.
  const double elapsed = secondsSince(t0);
  double passes = 0;
  for (double p : passesDone) passes += p;
  return passes * flopsPerPass / elapsed / 1e9;
}

double bigRate(int64_t n) {
  std::vector<float> A(n * n, 0.5f), B(n * n, 0.25f), C(n * n, 0.f);
  const auto t0 = Clock::now();
  tile::gemmWhole(false, false, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);
  return 2.0 * static_cast<double>(n * n * n) / secondsSince(t0) / 1e9;
}

}  // namespace

SgemmCeiling measureSgemmCeiling(int threads, int64_t tile, int64_t headDim, int64_t bigSize, int repeats,
                                 double seconds) {
  SgemmCeiling c;
  c.threads = std::max(1, threads);
  c.tile = tile, c.headDim = headDim, c.bigSize = bigSize;
  c.blasThreads = blasThreadCount();
  const int before = at::get_num_threads();
  at::set_num_threads(c.threads);
  std::vector<double> tiles, blasTiles, bigs;
  tileRate(c.threads, tile, headDim, seconds / 4, true);  // warm-up: threads started, pages touched
  for (int i = 0; i < std::max(1, repeats); ++i) {
    tiles.push_back(tileRate(c.threads, tile, headDim, seconds, false));
    blasTiles.push_back(tileRate(c.threads, tile, headDim, seconds, true));
  }
  at::set_num_threads(before);
  bigRate(bigSize);
  for (int i = 0; i < std::max(1, repeats); ++i) bigs.push_back(bigRate(bigSize));
  c.tileGflops = median(tiles);
  c.blasTileGflops = median(blasTiles);
  c.bigGflops = median(bigs);
  return c;
}

}  // namespace attnx
