// What each attention head of a model does, in numbers: how much of its attention goes to the
// previous token, the first token (a "sink"), itself, a local window, and how far it looks on
// average. A quick check that a model's attention has the structure sparse masks exploit
// (previous-token, local and sink heads), as BertViz's head view shows it in pictures.
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
  double local = 0;          // mean mass on i - j < localWidth
  double meanDistance = 0;   // mean sum_j (i - j) P(i, j)
  double entropy = 0;        // mean row entropy, nats
  std::string kind;          // "previous-token", "sink", "self", "local" or "broad"
};

struct HeadProfileOptions {
  int64_t localWidth = 16;
  int64_t firstQuery = 16;  // queries before this row see too few keys to say anything and are skipped
  double dominant = 0.5;    // a head is "previous-token", "sink" or "self" when that mass is >= this
  double localDominant = 0.7;
};

// maps: one (B, H, T, T) causal probability tensor per layer (Gpt2::attentionMaps). Averages over
// the batch and the query rows firstQuery..T-1. Throws std::invalid_argument for a bad shape or
// T <= firstQuery.
std::vector<HeadProfile> profileHeads(const std::vector<torch::Tensor>& maps, const HeadProfileOptions& options = {});

}  // namespace attnx
