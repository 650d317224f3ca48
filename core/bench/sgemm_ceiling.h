// What this CPU multiplies, measured in the same run as the attention rows so that each row can say
// what share of it it reaches: the attention kernels' tile products on their thread count (the
// micro-kernel they are made of, and the same products as one BLAS call each), and one large sgemm
// on the BLAS's own threads for reference.
#pragma once

#include <cstdint>

namespace attnx {

struct SgemmCeiling {
  int threads = 0;             // our threads, each multiplying its own tiles (the kernels' split)
  int64_t tile = 64, headDim = 64;
  double tileGflops = 0;       // S = Q K^T then O += P V per tile pair, all threads together (tile_gemm.h)
  double blasTileGflops = 0;   // the same products, one BLAS sgemm call each
  int64_t bigSize = 2048;
  int blasThreads = 0;         // the BLAS's own threads for the big product (0: unknown)
  double bigGflops = 0;        // one bigSize^3 product
  // The ceiling a row's share is taken of: the higher of the two.
  double gflops() const { return tileGflops > bigGflops ? tileGflops : bigGflops; }
};

// Medians of `repeats` timings of about `seconds` each. threads: our threads for the tile products.
SgemmCeiling measureSgemmCeiling(int threads, int64_t tile = 64, int64_t headDim = 64, int64_t bigSize = 2048,
                                 int repeats = 3, double seconds = 0.25);

}  // namespace attnx
