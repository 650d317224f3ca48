// How a continuation is decoded: greedy or sampled (temperature, top-k, top-p) with an optional
// repetition penalty, for a seed. A plain value type without LibTorch, so the desktop's widgets and
// attnx-cli fill the same struct that core/eval/generation.h decodes with.
#pragma once

#include <cstdint>

namespace attnx {

struct SamplingOptions {
  bool greedy = true;        // argmax; the sampling fields below are then ignored
  double temperature = 1.0;  // > 0
  int64_t topK = 0;          // 0: no limit
  double topP = 1.0;         // nucleus mass in (0, 1]
  uint64_t seed = 0;
  // CTRL's repetition penalty (Hugging Face's repetition_penalty), applied greedy or sampled: the
  // logit of every token already in the context (prompt and new tokens) is divided by it when
  // positive and multiplied by it when negative. 1 turns it off; 1.1-1.3 breaks the loops small
  // models fall into when decoding greedily.
  double repetitionPenalty = 1.0;
  int64_t maxNewTokens = 32;
  bool stopOnEos = true;
  bool useKvCache = true;    // false recomputes the whole prefix for every token (benchmarks, tests)
  // With a kernel whose reach is bounded (AttentionKernel::keyReach: a window/sink plan), the KV
  // cache drops the keys no later query can attend: at most sinks + window keys per layer. false
  // keeps every key (for checks); the tokens are the same either way.
  bool boundKvCache = true;

  void validate() const;     // throws std::invalid_argument naming the bad option
};

}  // namespace attnx
