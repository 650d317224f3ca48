// What a distillation run folder (made by attnx-cli distill) holds for evaluation and benchmarks:
// its config (run.json), its learned bank and alpha (learned_bank.json) and, once `attnx-cli eval`
// pruned it, its plan (plan.json). Torch-free.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/eval/attention_plan.h"
#include "core/eval/pruning_profile.h"
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
  std::optional<PruningProfile> profile;  // pruning_profile.json when present (attnx-cli profile)

  static constexpr const char* kPlanFile = "plan.json";
  static constexpr const char* kProfileFile = "pruning_profile.json";
  std::string path(const std::string& file) const;  // dir/file

  PlanCombine combine() const;
  // plan.json if the run has one, else the learned alpha pruned with `fallback`.
  AttentionPlan planOr(const PruningRule& fallback) const;
  // The pruned student's plan when no rule is asked for, one choice for every client (attnx-cli
  // score, generate, eval, bench and the desktop): plan.json, else the learned alpha at threshold
  // kDefaultPruneThreshold. source says which, for output ("plan.json (budget 0.25 at n=512)").
  static constexpr double kDefaultPruneThreshold = 0.05;
  struct DefaultPlan {
    AttentionPlan plan;
    std::string source;
  };
  DefaultPlan defaultPlan() const;
  // The learned alpha pruned with `rule` (a budget rule uses the run's profile; PlanError naming
  // attnx-cli profile when the run has none).
  AttentionPlan prune(const PruningRule& rule) const;

  // Throws std::runtime_error naming the file and what is wrong with it.
  static RunArtifacts load(const std::string& dir);
};

}  // namespace attnx
