// What a distillation run folder (made by attnx-cli distill) holds for evaluation and benchmarks:
// its config (run.json), its learned bank and alpha (learned_bank.json) and, once `attnx-cli eval`
// pruned it, its plan (plan.json). Torch-free.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/eval/attention_plan.h"
#include "core/masks/mask_bank.h"
#include "core/train/distill_config.h"

namespace attnx {

struct RunArtifacts {
  std::string dir;
  DistillConfig config;
  MaskBank bank;
  std::vector<double> alpha;          // (L, H, K) row-major, as learned
  int64_t numLayers = 0, numHeads = 0;
  int64_t step = 0;                   // optimiser steps behind the learned alpha (learned_bank.json)
  std::string alphaSource;            // learned_bank.json "alpha_source" (a gated run: how alpha was averaged), or ""
  std::optional<AttentionPlan> plan;  // plan.json when present

  PlanCombine combine() const;
  // plan.json if the run has one, else the learned alpha pruned with `fallback`.
  AttentionPlan planOr(const PruningRule& fallback) const;

  // Throws std::runtime_error naming the file and what is wrong with it.
  static RunArtifacts load(const std::string& dir);
};

}  // namespace attnx
