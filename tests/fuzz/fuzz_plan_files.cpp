// libFuzzer harness for the run folder's JSON files; the first input byte (mod 3) picks the reader,
// the rest is the file's text:
//   0  plan.json             AttentionPlan::fromJsonText   (core/eval/attention_plan.cpp)   refusal: PlanError
//   1  pruning_profile.json  PruningProfile::fromJsonText  (core/eval/pruning_profile.cpp)  refusal: PlanError
//   2  run.json              DistillConfig::fromJsonText   (core/train/distill_config.cpp)  refusal: std::runtime_error
// A refusal must be "<origin>: ...". An accepted file must validate and survive
// toJsonText → fromJsonText unchanged; plans and profiles are also used with a bank made here to
// fit them (densities, cost, key reach, hardening, the budget allocation). Anything else (a crash, a
// sanitizer report, another exception type, a broken invariant) is a bug.
#include "core/eval/attention_plan.h"
#include "core/eval/pruning_profile.h"
#include "core/train/distill_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_common.h"

using namespace attnx;

namespace {

constexpr int64_t kN = 16;  // sequence length for the density and cost checks

// A valid bank whose mask names are `names` (distinct and non-empty), of assorted families.
std::optional<MaskBank> bankFor(const std::vector<std::string>& names) {
  MaskBank bank;
  bank.name = "fuzz";
  std::set<std::string> seen;
  for (size_t k = 0; k < names.size(); ++k) {
    if (names[k].empty() || !seen.insert(names[k]).second) return std::nullopt;
    const auto i = static_cast<int64_t>(k);
    switch (k % 5) {
      case 0: bank.masks.push_back(MaskSpec::causal(names[k])); break;
      case 1: bank.masks.push_back(MaskSpec::window(names[k], i + 1)); break;
      case 2: bank.masks.push_back(MaskSpec::sinks(names[k], i % 7 + 1)); break;
      case 3: bank.masks.push_back(MaskSpec::offsetSet(names[k], {0, i % 11 + 1})); break;
      default: bank.masks.push_back(MaskSpec::strided(names[k], i % 5 + 2)); break;
    }
  }
  bank.validate();
  return bank;
}

// ---- plan.json ----

void checkPlan(const AttentionPlan& plan) {
  try {
    plan.validate();
  } catch (const std::exception& e) {
    attnx_fuzz::bug("accepted plan does not validate", e.what());
  }
  const int64_t heads = plan.numLayers * plan.numHeads;
  FUZZ_CHECK(static_cast<int64_t>(plan.heads.size()) == heads);
  int64_t active = 0;
  for (const auto& h : plan.heads) active += static_cast<int64_t>(h.size());
  FUZZ_CHECK(plan.activeCount() == active);

  const std::string text = plan.toJsonText();
  std::optional<AttentionPlan> back;
  try {
    back = AttentionPlan::fromJsonText(text, "rewritten");
  } catch (const std::exception& e) {
    attnx_fuzz::bug("saved plan does not load", e.what());
  }
  FUZZ_CHECK_MSG(*back == plan, text);
  FUZZ_CHECK(back->toJsonText() == text);

  const int64_t K = plan.numMasks();
  if (heads * K > (1 << 16)) return;  // keep the per-input cost small
  const std::optional<MaskBank> bank = bankFor(plan.maskNames);
  FUZZ_CHECK(bank.has_value());  // validate() refuses empty and repeated names
  plan.checkBank(*bank);
  const std::vector<double> alpha = plan.alphaTensorValues();
  FUZZ_CHECK(static_cast<int64_t>(alpha.size()) == heads * K);
  double pairs = 0, branchPairs = 0;
  std::optional<KeyReach> reach = KeyReach{0, 1};
  const std::vector<double> densities = plan.headDensities(*bank, kN);
  FUZZ_CHECK(static_cast<int64_t>(densities.size()) == heads);
  for (int64_t l = 0; l < plan.numLayers; ++l)
    for (int64_t h = 0; h < plan.numHeads; ++h) {
      const int64_t hd = l * plan.numHeads + h;
      const auto& list = plan.active(l, h);
      FUZZ_CHECK(&list == &plan.heads[static_cast<size_t>(hd)]);
      std::vector<double> c(static_cast<size_t>(K), 0.0);
      for (const PlanEntry& e : list) {
        c[static_cast<size_t>(e.maskIndex)] = 1.0;
        FUZZ_CHECK(alpha[static_cast<size_t>(hd * K + e.maskIndex)] == e.weight);
        branchPairs += static_cast<double>(bank->masks[static_cast<size_t>(e.maskIndex)].allowedPairs(kN));
        const auto r = bank->masks[static_cast<size_t>(e.maskIndex)].keyReach();
        reach = reach && r ? std::optional<KeyReach>(reach->with(*r)) : std::nullopt;
      }
      const int64_t headPairs = plan.attendedPairs(*bank, l, h, kN);
      FUZZ_CHECK(headPairs == (list.empty() ? 0 : bank->attendedPairs(c, kN)));
      FUZZ_CHECK(std::fabs(densities[static_cast<size_t>(hd)] - static_cast<double>(headPairs) / (kN * (kN + 1) / 2.0)) < 1e-12);
      pairs += static_cast<double>(headPairs);
    }
  const auto planReach = plan.keyReach(*bank);
  FUZZ_CHECK(planReach.has_value() == reach.has_value());
  if (reach) FUZZ_CHECK(*planReach == *reach);
  FUZZ_CHECK(plan.attentionFlops(*bank, PlanCombine::SoftMask, 8, kN) == pairs * 32.0);
  FUZZ_CHECK(plan.attentionBytes(*bank, PlanCombine::BranchMixture, kN, 2) == branchPairs * 2.0);
  FUZZ_CHECK(plan.layerDensities(*bank, kN).size() == static_cast<size_t>(plan.numLayers));
  const double mean = plan.meanDensity(*bank, kN);
  FUZZ_CHECK(mean >= 0 && mean <= 1);

  // Hardening the plan's own weights again with its rule (at a short length) gives a valid plan.
  if (plan.rule.kind != PruningRule::Kind::Budget) {
    PruningRule rule = plan.rule;
    rule.densityLength = std::min<int64_t>(rule.densityLength, 64);
    const AttentionPlan again = AttentionPlan::fromAlpha(alpha, plan.numLayers, plan.numHeads, *bank, rule);
    again.validate();
    for (size_t hd = 0; hd < again.heads.size(); ++hd)
      for (const PlanEntry& e : again.heads[hd])  // a mask pruned to nothing never comes back
        FUZZ_CHECK(std::any_of(plan.heads[hd].begin(), plan.heads[hd].end(),
                               [&](const PlanEntry& p) { return p.maskIndex == e.maskIndex; }));
  }
}

// ---- pruning_profile.json ----

void checkProfile(const PruningProfile& p) {
  try {
    p.validate();
  } catch (const std::exception& e) {
    attnx_fuzz::bug("accepted profile does not validate", e.what());
  }
  const std::string text = p.toJsonText();
  std::optional<PruningProfile> back;
  try {
    back = PruningProfile::fromJsonText(text, "rewritten");
  } catch (const std::exception& e) {
    attnx_fuzz::bug("saved profile does not load", e.what());
  }
  FUZZ_CHECK_MSG(*back == p, text);
  FUZZ_CHECK(back->toJsonText() == text);

  const int64_t heads = p.numLayers * p.numHeads;
  const auto K = static_cast<int64_t>(p.maskNames.size());
  if (heads * K > (1 << 14) || K > 64) return;
  const std::optional<MaskBank> bank = bankFor(p.maskNames);
  if (!bank) return;  // a profile's names may repeat; the budget needs a bank that fits
  p.checkBank(*bank);
  for (int64_t l = 0; l < p.numLayers; ++l)
    for (int64_t h = 0; h < p.numHeads; ++h) FUZZ_CHECK(&p.steps(l, h) == &p.heads[static_cast<size_t>(l * p.numHeads + h)]);
  // The budget allocation keeps one rung of each head's ladder.
  for (double target : {1.0, 0.5, 0.05}) {
    const auto chosen = allocateBudget(p, *bank, target, kN);
    FUZZ_CHECK(static_cast<int64_t>(chosen.size()) == heads);
    for (size_t hd = 0; hd < chosen.size(); ++hd)
      FUZZ_CHECK(std::any_of(p.heads[hd].begin(), p.heads[hd].end(),
                             [&](const ProfileStep& s) { return s.masks == chosen[hd]; }));
  }
  // A plan by the budgeted rule, all alpha 1: every head ends on one of its rungs.
  const std::vector<double> alpha(static_cast<size_t>(heads * K), 1.0);
  const AttentionPlan plan = AttentionPlan::fromAlpha(alpha, p.numLayers, p.numHeads, *bank, PruningRule::budgetRule(0.5, kN), &p);
  plan.validate();
  // The ladder of each head's trained set: one mask fewer per rung, nested, down to one mask.
  for (size_t hd = 0; hd < p.heads.size() && hd < 16; ++hd) {
    const auto& top = p.heads[hd][0].masks;
    const auto ladder = PruningProfile::ladder(top, std::vector<double>(static_cast<size_t>(K), 1.0), *bank, kN);
    FUZZ_CHECK(ladder.size() == top.size() && ladder[0] == top);
    for (size_t s = 1; s < ladder.size(); ++s)
      FUZZ_CHECK(ladder[s].size() + 1 == ladder[s - 1].size() &&
                 std::includes(ladder[s - 1].begin(), ladder[s - 1].end(), ladder[s].begin(), ladder[s].end()));
  }
}

// ---- run.json ----

void checkRun(const DistillConfig& c, const std::string& input) {
  try {
    c.validate();
  } catch (const std::exception& e) {
    attnx_fuzz::bug("accepted run.json does not validate", e.what());
  }
  const std::string text = c.toJsonText();
  std::optional<DistillConfig> back;
  try {
    back = DistillConfig::fromJsonText(text, "rewritten");
  } catch (const std::exception& e) {
    attnx_fuzz::bug("saved run.json does not load", e.what());
  }
  FUZZ_CHECK_MSG(back->toJsonText() == text, text);
  // applyFields with the same keys (no format/version) over the defaults gives the same settings.
  nlohmann::ordered_json fields = nlohmann::ordered_json::parse(input);
  fields.erase("format");
  fields.erase("version");
  DistillConfig applied;
  applied.applyFields(fields, "fields");
  FUZZ_CHECK(applied.toJsonText() == text);
}

template <class Documented, class Parse, class Check>
void run(const std::string& text, const std::string& origin, Parse parse, Check check) {
  std::optional<decltype(parse(text, origin))> value;
  try {
    value = parse(text, origin);
  } catch (const Documented& e) {
    attnx_fuzz::checkRefusal(e, origin);
  } catch (const std::exception& e) {
    attnx_fuzz::undocumented(typeid(e).name(), e.what());
  } catch (...) {
    attnx_fuzz::undocumented("(not a std::exception)", "");
  }
  if (!value) return;
  try {
    check(*value);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checking an accepted %s threw %s: %s\n", origin.c_str(), typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      run<PlanError>(text, "fuzz/plan.json", AttentionPlan::fromJsonText, checkPlan);
      break;
    case 1:
      run<PlanError>(text, "fuzz/pruning_profile.json", PruningProfile::fromJsonText, checkProfile);
      break;
    default:
      run<std::runtime_error>(text, "fuzz/run.json", DistillConfig::fromJsonText,
                              [&](const DistillConfig& c) { checkRun(c, text); });
      break;
  }
  return 0;
}
