// The sparse-attention modes of attnx-cli bench: --attention-only and --run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/cli/cli_common.h"
#include "core/eval/attention_plan.h"

namespace attnx::cli {

struct SparseBenchArgs {
  std::vector<int64_t> seqLens;
  int warmup = 1, repeats = 5;
  int64_t heads = 12, headDim = 64, blockSize = 64;
  double maxDenseGiB = 4.0;
  bool noDense = false;
  bool backward = false;  // attention-only: also time each compiled plan's backward
  int sparseThreads = 0;
  std::string csvPath, tracePath;
  std::string dtype = "fp32";        // attention-only: fp32, bf16 or fp16 inputs
  std::vector<double> densities;     // attention-only: window + sinks plans sized to these densities
  double maxRowSeconds = 0;          // attention-only: skip rows predicted to take longer (0: no limit)
  std::optional<std::string> run;  // --run RUN
  std::string data;                // --run: held-out text for KL and perplexity
  int64_t windows = 16;
  // --prune-threshold / --prune-top-k / --prune-target-density / --prune-budget (at most one): prune the
  // run's learned alpha with that rule; none given: the run's default plan (RunArtifacts::defaultPlan).
  std::optional<PruningRule> prune;
  // The rule given, if any, its density measured at densityLength.
  std::optional<PruningRule> pruneRule(int64_t densityLength) const {
    return prune ? std::optional<PruningRule>(prune->atLength(densityLength)) : std::nullopt;
  }
};

int runAttentionOnlyBench(const SparseBenchArgs& a, const GlobalOptions& g);
int runStudentBench(const SparseBenchArgs& a, const GlobalOptions& g);

}  // namespace attnx::cli
