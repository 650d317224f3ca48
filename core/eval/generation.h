// Text generation from a GPT-2: greedy or sampled (temperature, top-k, top-p), reproducible for a
// seed. Sampling draws from our own seeded generator in double precision on the CPU, so the same
// seed gives the same tokens whatever the device or LibTorch version.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/model/gpt2.h"

namespace attnx {

struct SamplingOptions {
  bool greedy = true;        // argmax; the sampling fields below are then ignored
  double temperature = 1.0;  // > 0
  int64_t topK = 0;          // 0: no limit
  double topP = 1.0;         // nucleus mass in (0, 1]
  uint64_t seed = 0;
  int64_t maxNewTokens = 32;
  bool stopOnEos = true;
  bool useKvCache = true;    // false recomputes the whole prefix for every token (benchmarks, tests)

  void validate() const;     // throws std::invalid_argument naming the bad option
};

struct GenerationResult {
  std::vector<int64_t> tokens;  // new tokens only (the EOS that stopped it included)
  bool stoppedOnEos = false;
};

// Called with each new token as it is chosen; returning false stops generation (cancel).
using TokenCallback = std::function<bool(int64_t token)>;

GenerationResult generate(Gpt2& model, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                          const AttentionKernel* kernel = nullptr, const TokenCallback& onToken = {});

// Picks the next token from one row of logits (V) under the options; `uniform` is a draw in [0, 1).
// Exposed for tests: the filtering order is temperature → top-k → top-p, as in Hugging Face.
int64_t pickToken(const torch::Tensor& logits, const SamplingOptions& options, double uniform);

}  // namespace attnx
