// Text generation from a GPT-2: greedy or sampled (temperature, top-k, top-p), with an optional
// repetition penalty, reproducible for a seed. Sampling draws from our own seeded generator in
// double precision on the CPU, so the same seed gives the same tokens whatever the device or
// LibTorch version.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/eval/sampling_options.h"
#include "core/model/gpt2.h"

namespace attnx {

// What the KV cache held during a generation (all zero without a cache).
struct KvCacheStats {
  bool bounded = false;    // keys were dropped as the kernel's reach allows (then sinks and window are set)
  int64_t sinks = 0, window = 0;
  int64_t peakKeys = 0;    // most keys one layer held during a forward
  int64_t peakBytes = 0;   // most bytes of key and value tensors allocated, all layers
  int64_t droppedKeys = 0; // keys per layer dropped by the end
};

struct GenerationResult {
  std::vector<int64_t> tokens;  // new tokens only (the EOS that stopped it included)
  bool stoppedOnEos = false;
  KvCacheStats cache;
};

// Called with each new token as it is chosen; returning false stops generation (cancel).
using TokenCallback = std::function<bool(int64_t token)>;

GenerationResult generate(Gpt2& model, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                          const AttentionKernel* kernel = nullptr, const TokenCallback& onToken = {});

// The logits (V) with CTRL's repetition penalty applied to every token id in `context` (a copy;
// the input is untouched). Exposed for tests.
torch::Tensor penalizeRepeats(const torch::Tensor& logits, const std::vector<int64_t>& context, double penalty);

// Picks the next token from one row of logits (V) under the options; `uniform` is a draw in [0, 1).
// Exposed for tests: the filtering order is temperature → top-k → top-p, as in Hugging Face.
int64_t pickToken(const torch::Tensor& logits, const SamplingOptions& options, double uniform);

}  // namespace attnx
