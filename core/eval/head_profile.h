// What each attention head of a model does, in numbers: how much of its attention goes to the
// previous token, the first token (a "sink"), itself, delimiter tokens (punctuation and line breaks,
// the other place heads park attention they do not need: Clark et al. 2019 on BERT's [SEP] and
// periods), a local window, and how far it looks on average. A quick check that a model's attention
// has the structure sparse masks exploit, as BertViz's head view shows it in pictures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace attnx {

struct HeadProfile {
  int64_t layer = 0, head = 0;
  double previousToken = 0;  // mean P(i, i-1)
  double sink = 0;           // mean P(i, 0)
  double self = 0;           // mean P(i, i)
  double delimiter = 0;      // mean mass on keys marked as delimiters (0 when none are marked)
  double local = 0;          // mean mass on i - j < localWidth
  double meanDistance = 0;   // mean sum_j (i - j) P(i, j)
  double entropy = 0;        // mean row entropy, nats
  std::string kind;          // "previous-token", "sink", "self", "delimiter", "local" or "broad"
};

struct HeadProfileOptions {
  int64_t localWidth = 16;
  int64_t firstQuery = 16;  // queries before this row see too few keys to say anything and are skipped
  double dominant = 0.5;    // a head is "previous-token", "sink", "self" or "delimiter" when that mass is >= this
  double localDominant = 0.7;
};

// maps: one (B, H, T, T) causal probability tensor per layer (Gpt2::attentionMaps). Averages over
// the batch and the query rows firstQuery..T-1. delimiterKeys: (B, T) bool, true where the key is a
// delimiter token (isDelimiterText); undefined = not measured. Throws std::invalid_argument for a
// bad shape or T <= firstQuery.
std::vector<HeadProfile> profileHeads(const std::vector<torch::Tensor>& maps, const HeadProfileOptions& options = {},
                                      const torch::Tensor& delimiterKeys = {});

// True when a token's text is only punctuation and whitespace: "\n", ".", ",\"", " --", a curly
// quote (UTF-8; ASCII punctuation and the General Punctuation block U+2000..U+206F). Empty: false.
bool isDelimiterText(const std::string& text);

}  // namespace attnx
