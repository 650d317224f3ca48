// Measures a run's PruningProfile (pruning_profile.h): the student with every head as trained, then
// for each head and each rung below the top of its ladder, the student with that head alone hardened
// (faithfully) to the rung and every other head as trained; each rung's KL increase over the first.
// Sum over heads of (|active| - 1) student passes over the windows. The teacher's log-probabilities
// are computed once per batch of windows and kept: B * T * vocabulary floats per batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/eval/pruning_profile.h"
#include "core/model/gpt2.h"
#include "core/model/mask_mixture_attention.h"

namespace attnx {

struct ProfileRequest {
  std::vector<std::vector<int64_t>> windows;  // held-out windows of equal length (not the test text)
  int64_t batchSize = 4;
  std::string dataLabel;                      // recorded in the profile: where the windows came from
  // Called after each measured rung with (done, total); may be empty.
  std::function<void(int64_t, int64_t)> progress;
  const std::atomic<bool>* stop = nullptr;    // when it becomes true: throws std::runtime_error("cancelled")
};

// alpha: the run's static coefficients, (L, H, K) row-major; options: the run's combine mode (and
// normaliseBranches). Throws std::invalid_argument for no windows or windows of unequal length.
PruningProfile measurePruningProfile(Gpt2& model, const MaskBank& bank, const MixtureOptions& options,
                                     const std::vector<double>& alpha, const ProfileRequest& request);

}  // namespace attnx
