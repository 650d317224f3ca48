// Baseline plans; see baseline_plans.h.
#include "core/study/baseline_plans.h"

#include "core/data/window_sampler.h"
#include "core/eval/pruning_profile.h"

namespace attnx {

namespace {

BaselinePlan uniform(MaskBank bank, int64_t numLayers, int64_t numHeads) {
  bank.validate();
  BaselinePlan b;
  const std::vector<double> ones(static_cast<size_t>(numLayers * numHeads) * bank.masks.size(), 1.0);
  b.plan = AttentionPlan::fromAlpha(ones, numLayers, numHeads, bank, PruningRule::thresholdRule(0));
  b.bank = std::move(bank);
  return b;
}

// A profile whose every head has the given ladder, with costs from `cost(head, rung)`.
template <class Cost>
PruningProfile syntheticProfile(const MaskBank& bank, int64_t numLayers, int64_t numHeads, int64_t n,
                                const std::vector<std::vector<int>>& ladder, Cost&& cost) {
  PruningProfile p;
  p.numLayers = numLayers;
  p.numHeads = numHeads;
  for (const auto& m : bank.masks) p.maskNames.push_back(m.name);
  p.n = n;
  p.windows = 1;
  p.data = "synthetic";
  for (int64_t hd = 0; hd < numLayers * numHeads; ++hd) {
    std::vector<ProfileStep> steps;
    for (size_t s = 0; s < ladder.size(); ++s) steps.push_back({ladder[s], s == 0 ? 0.0 : cost(hd, s)});
    p.heads.push_back(std::move(steps));
  }
  p.validate();
  return p;
}

}  // namespace

BaselinePlan uniformWindowSinks(int64_t numLayers, int64_t numHeads, int64_t window, int64_t sinks) {
  MaskBank bank;
  bank.name = "window-" + std::to_string(window) + (sinks > 0 ? "-sinks-" + std::to_string(sinks) : "");
  bank.description = "StreamingLLM: a window of " + std::to_string(window) + " and " + std::to_string(sinks) + " sinks";
  bank.masks.push_back(MaskSpec::window("win-" + std::to_string(window), window));
  if (sinks > 0) bank.masks.push_back(MaskSpec::sinks("sinks-" + std::to_string(sinks), sinks));
  return uniform(std::move(bank), numLayers, numHeads);
}

BaselinePlan uniformBlockSinks(int64_t numLayers, int64_t numHeads, int64_t block, int64_t sinks) {
  MaskBank bank;
  bank.name = "block-" + std::to_string(block) + (sinks > 0 ? "-sinks-" + std::to_string(sinks) : "");
  bank.description = "blocks of " + std::to_string(block) + " and " + std::to_string(sinks) + " sinks";
  bank.masks.push_back(MaskSpec::blockLocal("block-" + std::to_string(block), block));
  if (sinks > 0) bank.masks.push_back(MaskSpec::sinks("sinks-" + std::to_string(sinks), sinks));
  return uniform(std::move(bank), numLayers, numHeads);
}

BaselinePlan randomAllocation(const MaskBank& bank, int64_t numLayers, int64_t numHeads, double target, int64_t n,
                              uint64_t seed) {
  const int K = static_cast<int>(bank.masks.size());
  std::vector<int> all;
  for (int k = 0; k < K; ++k) all.push_back(k);
  const std::vector<double> ones(static_cast<size_t>(K), 1.0);
  const auto ladder = PruningProfile::ladder(all, ones, bank, n);
  // Rising random costs per head: each rung adds a uniform draw in [0, 1).
  std::vector<std::vector<double>> costs(static_cast<size_t>(numLayers * numHeads));
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : costs) {
    double sum = 0;
    c.push_back(0);
    for (size_t s = 1; s < ladder.size(); ++s) c.push_back(sum += static_cast<double>(uniformBelow(state, 1u << 30)) / (1u << 30));
  }
  const auto profile = syntheticProfile(bank, numLayers, numHeads, n, ladder,
                                        [&](int64_t hd, size_t s) { return costs[static_cast<size_t>(hd)][s]; });
  BaselinePlan b;
  b.bank = bank;
  const std::vector<double> alpha(static_cast<size_t>(numLayers * numHeads * K), 1.0);
  b.plan = AttentionPlan::fromAlpha(alpha, numLayers, numHeads, bank, PruningRule::budgetRule(target, n), &profile);
  return b;
}

AttentionPlan duoPlan(const std::vector<double>& alpha, int64_t numLayers, int64_t numHeads, const MaskBank& bank,
                      double target, int64_t n) {
  if (bank.masks.size() != 3 || bank.masks[0].family != MaskFamily::Causal)
    throw PlanError("a DuoAttention-style plan needs the bank {full, window, sinks}, in that order");
  // Dropping "full" costs its share of the head's alpha: the heads that lean on it most keep it.
  const auto profile = syntheticProfile(bank, numLayers, numHeads, n, {{0, 1, 2}, {1, 2}}, [&](int64_t hd, size_t) {
    const double* a = alpha.data() + hd * 3;
    return a[0] / (a[0] + a[1] + a[2]);
  });
  return AttentionPlan::fromAlpha(alpha, numLayers, numHeads, bank, PruningRule::budgetRule(target, n), &profile);
}

}  // namespace attnx
