// What one distillation step reports: a plain value type without LibTorch or Qt, so attnx-cli
// prints it, the study records it and the desktop's training thread hands it to the GUI as it is.
#pragma once

#include <cstdint>
#include <vector>

namespace attnx {

struct StepMetrics {
  int64_t step = 0;  // 1-based: the number of optimiser steps taken
  double loss = 0, kl = 0, l1 = 0, hidden = 0;
  double learningRate = 0;
  double gradNorm = 0;
  double tokensPerSecond = 0;
  double elapsedSeconds = 0;
  double validationKl = -1;        // < 0 when not validated at this step
  double allReduceSeconds = 0;     // a data-parallel run's gradient all-reduce (0 in one process)
  double peerWaitSeconds = 0;      // and its wait for the slowest rank before it
  // (L, H, K) row-major: the coefficients after the step; gated, the gate outputs averaged over
  // the step's batch tokens (computed in the step's forward pass, before the update).
  std::vector<float> alpha;
};

}  // namespace attnx
