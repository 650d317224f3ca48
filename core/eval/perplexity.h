// Per-token log-probabilities and perplexity of token sequences under a GPT-2, including texts
// longer than the context, scored with a strided sliding window (each token is predicted once,
// with at least `contextLength - stride` tokens of left context where the text allows).
#pragma once

#include <vector>

#include "core/model/gpt2.h"

namespace attnx {

struct TokenScores {
  std::vector<double> logprobs;  // log p(ids[t] | ids[<t]) for t = 1 .. n-1 (natural log)
  double meanNll() const;        // −mean(logprobs); 0 for fewer than two tokens
  double perplexity() const;     // exp(meanNll)
};

// stride: how many new tokens each window scores once the text is longer than the context;
// 0 means contextLength / 2.
TokenScores scoreTokens(Gpt2& model, const std::vector<int64_t>& ids, int64_t stride = 0,
                        const AttentionKernel* kernel = nullptr);

}  // namespace attnx
