// Data parallelism for the trainers (distillation, pretraining): what a step exchanges with the
// other ranks and how every rank starts from rank 0's state. Each rank computes the mean loss over
// its equal share of the step's global batch; averaging those gradients gives the one-process mean,
// so the same optimiser step is taken everywhere and the parameters never drift apart.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "core/dist/process_group.h"

namespace attnx {

// What a step sends besides its gradients, in the same all-reduce (one call per step for the
// coefficients; a few 32 MiB buckets when all weights train).
struct StepExchange {
  std::vector<double> scalars;      // in: this rank's loss terms; out: their mean over the ranks
  torch::Tensor extra;              // optional, averaged in place (a gated run's mean gate)
  bool stopRequested = false;       // in: this rank was interrupted (Ctrl-C, SIGTERM)
  std::vector<int> stoppingRanks;   // out: every rank that was, so that all stop after this step
  double seconds = 0;               // out: wall time of the all-reduce itself
  double waitSeconds = 0;           // out: time spent waiting for the slowest rank to reach the step's end
};

// Averages the gradients of `params` (an undefined one counts as zeros and is then defined) and
// `exchange` over the group. Throws CollectiveFailed (process_group.h) naming the lost rank.
void averageStep(ProcessGroup& group, const std::vector<torch::Tensor>& params, StepExchange& exchange, int64_t step);

// Every rank takes rank 0's parameter values, AdamW moments and step counters, so a run starts (or
// resumes, with any world size) from the state rank 0 created or read from its checkpoint.
void broadcastTrainingState(ProcessGroup& group, const std::vector<torch::Tensor>& params,
                            torch::optim::AdamW& optimizer, int64_t& step, double& elapsed);

}  // namespace attnx
