// What hardening each head costs, measured (method.md, "Hardening and compiling": the budgeted rule).
// Per (layer, head), a ladder of mask sets from the head's trained set down to a single mask, each
// step with the held-out KL increase when that head alone is hardened to it (every other head as
// trained). The budgeted pruning rule (AttentionPlan::fromAlpha) spends a density budget on it, as
// MoA profiles heads before it allocates their spans. Torch-free: measurePruningProfile
// (pruning_profiler.h) measures one, RUN/pruning_profile.json keeps it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/eval/attention_plan.h"  // PlanError
#include "core/masks/mask_bank.h"

namespace attnx {

// One rung of a head's ladder.
struct ProfileStep {
  std::vector<int> masks;   // bank indices kept, ascending, never empty
  double klIncrease = 0.0;  // nats/token over baseKl, this head alone hardened to `masks`
  bool operator==(const ProfileStep& o) const { return masks == o.masks && klIncrease == o.klIncrease; }
};

class PruningProfile {
 public:
  static constexpr const char* kFormat = "attnx-pruning-profile";
  static constexpr int kVersion = 1;

  int64_t numLayers = 0, numHeads = 0;
  std::vector<std::string> maskNames;  // the bank's names, in bank order
  int64_t n = 0;                       // tokens per measured window
  int64_t windows = 0;                 // held-out windows measured
  std::string data;                    // where the windows came from (for the record)
  double baseKl = 0.0;                 // KL of the unhardened student on those windows
  int64_t runStep = -1;                // the run's step whose alpha were measured (-1: not recorded)
  // Per flat head (layer * numHeads + head): step 0 is the trained set (klIncrease 0), each later step
  // one mask fewer, as ladder() orders them.
  std::vector<std::vector<ProfileStep>> heads;

  // The ladder a head descends from its `active` masks (bank indices, ascending, non-empty): repeatedly
  // drop the mask whose removal saves the most attended pairs at length n (equal saving: the one with
  // more pairs of its own, then the smaller weight, then the higher index), until one mask is left. |active| sets, the first = active. A head
  // thus sheds its widest reach first (full, then the widest window, ...) and ends on its cheapest mask.
  // weights: K values, the head's alpha.
  static std::vector<std::vector<int>> ladder(const std::vector<int>& active, const std::vector<double>& weights,
                                              const MaskBank& bank, int64_t n);

  const std::vector<ProfileStep>& steps(int64_t layer, int64_t head) const;

  // Throws PlanError when the bank's mask names are not maskNames.
  void checkBank(const MaskBank& bank) const;
  // Throws PlanError for the first inconsistency (sizes, indices, nesting, values).
  void validate() const;

  // {"format": "attnx-pruning-profile", "version": 1, "layers": L, "heads": H, "masks": [...], "n": 512,
  //  "windows": 4, "data": "...", "base_kl": 0.07, ["run_step": 150,]
  //  "profile": [ /* layer */ [ /* head */ [{"masks": ["win-16", "full"], "kl_increase": 0.0}, ...]]]}
  std::string toJsonText() const;
  static PruningProfile fromJsonText(const std::string& text, const std::string& origin);
  void save(const std::string& path) const;          // validates, writes atomically
  static PruningProfile load(const std::string& path);  // errors: PlanError "<path>: ..."

  bool operator==(const PruningProfile& o) const;
};

// The budgeted rule's choice (PruningRule::Kind::Budget), per flat head the kept masks (a rung of its
// ladder): greedy descent on each head's lower convex hull of (attended pairs at n, KL increase), the
// cheapest KL per pair saved first, until the mean density at n is <= targetDensity or no move is left.
// Expects a profile that fits the bank (checkBank).
std::vector<std::vector<int>> allocateBudget(const PruningProfile& profile, const MaskBank& bank, double targetDensity,
                                             int64_t n);

}  // namespace attnx
