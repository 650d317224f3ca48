// Random block-sparse attention cases shared by the kernel tests (CPU kernels, the CUDA kernel's
// row logic, the CUDA kernel): a bank with one mask of every family and random per-head weights.
#pragma once

#include <random>
#include <vector>

#include <torch/torch.h>

#include "core/masks/mask_bank.h"
#include "tests/support/test_support.h"

namespace attnx::test {

inline MaskBank mixedBank() {
  std::vector<uint8_t> grid = {1, 0, 0, 0,  1, 1, 0, 0,  0, 1, 1, 0,  1, 0, 1, 1};
  return test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("win9", 9), MaskSpec::dilatedWindow("dil4x3", 4, 3),
                         MaskSpec::strided("stride5", 5), MaskSpec::blockLocal("block12", 12),
                         MaskSpec::summaryColumns("sum16", 16, 2), MaskSpec::sinks("sink2", 2),
                         MaskSpec::offsetSet("off", {1, 7}), MaskSpec::random("rand", 8, 2, 3),
                         MaskSpec::painted("paint", 4, grid)});
}

// Per head, a random subset of masks with random weights; head 1 of layer 0 keeps nothing when
// `emptyHead` (only the threshold rule allows that).
inline std::vector<double> randomAlpha(std::mt19937& rng, int64_t L, int64_t H, int64_t K, bool emptyHead) {
  std::uniform_real_distribution<double> weight(0.05, 1.5);
  std::vector<double> alpha(static_cast<size_t>(L * H * K), 0.0);
  for (int64_t lh = 0; lh < L * H; ++lh) {
    for (int64_t m = 0; m < K; ++m)
      if (rng() % 3 == 0) alpha[lh * K + m] = weight(rng);
    if (emptyHead && lh == 1) {
      for (int64_t m = 0; m < K; ++m) alpha[lh * K + m] = 0.0;
    } else {
      alpha[lh * K + rng() % K] = weight(rng);  // at least one mask
    }
  }
  return alpha;
}

inline double maxError(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace attnx::test
