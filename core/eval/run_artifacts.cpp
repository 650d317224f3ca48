#include "core/eval/run_artifacts.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/util/json_document.h"

namespace attnx {

namespace {

std::string readRunFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (is this a run folder made by attnx-cli distill?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

PlanCombine RunArtifacts::combine() const {
  return config.combine == "branch-mixture" ? PlanCombine::BranchMixture : PlanCombine::SoftMask;
}

AttentionPlan RunArtifacts::planOr(const PruningRule& fallback) const {
  if (plan) return *plan;
  return prune(fallback);
}

RunArtifacts::DefaultPlan RunArtifacts::defaultPlan() const {
  if (plan) return {*plan, std::string(kPlanFile) + " (" + plan->rule.text() + ")"};
  auto pruned = prune(PruningRule::thresholdRule(kDefaultPruneThreshold));
  auto source = "no " + std::string(kPlanFile) + ": the learned alpha pruned at " + pruned.rule.text();
  return {std::move(pruned), std::move(source)};
}

std::string RunArtifacts::path(const std::string& file) const { return (std::filesystem::path(dir) / file).string(); }

AttentionPlan RunArtifacts::prune(const PruningRule& rule) const {
  if (rule.kind == PruningRule::Kind::Budget && !profile)
    throw PlanError(path(kProfileFile) + ": missing: the budgeted rule spends the density where the run's measured "
                    "profile says it costs least; make it with attnx-cli profile --run " + dir);
  if (rule.kind == PruningRule::Kind::Budget && profile->runStep >= 0 && profile->runStep != step)
    throw PlanError(path(kProfileFile) + ": measured at step " + std::to_string(profile->runStep) + ", but the run's alpha are "
                    "from step " + std::to_string(step) + "; measure it again with attnx-cli profile --run " + dir);
  return AttentionPlan::fromAlpha(alpha, numLayers, numHeads, bank, rule, profile ? &*profile : nullptr);
}

RunArtifacts RunArtifacts::load(const std::string& dir) {
  namespace fs = std::filesystem;
  RunArtifacts r;
  r.dir = dir;
  const auto runJson = (fs::path(dir) / "run.json").string();
  r.config = DistillConfig::fromJsonText(readRunFile(runJson), runJson);
  const auto learnedPath = (fs::path(dir) / "learned_bank.json").string();
  const nlohmann::json learned = parseJsonDocument(readRunFile(learnedPath), learnedPath);
  auto fail = [&learnedPath](const std::string& what) { throw std::runtime_error(learnedPath + ": " + what); };
  if (!learned.is_object() || learned.value("format", nlohmann::json()) != "attnx-learned-bank")
    fail("not an attnx learned bank (field \"format\" must be \"attnx-learned-bank\")");
  if (!learned.contains("bank")) fail("field \"bank\" is missing");
  r.bank = MaskBank::fromJson(learned["bank"], learnedPath);
  if (auto it = learned.find("step"); it != learned.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) fail("field \"step\" must be a non-negative integer, got " + jsonBrief(*it));
    r.step = it->get<int64_t>();
  }
  if (auto it = learned.find("alpha_source"); it != learned.end()) {
    if (!it->is_string()) fail("field \"alpha_source\" must be a string, got " + jsonBrief(*it));
    r.alphaSource = it->get<std::string>();
  }
  // alpha[layer][head][mask]: every row as long as the bank, every head list as long as the
  // first, every value a finite number >= 0 (a ragged file would otherwise be read misaligned).
  const auto K = static_cast<int64_t>(r.bank.masks.size());
  const auto alpha = learned.find("alpha");
  if (alpha == learned.end()) fail("field \"alpha\" is missing");
  if (!alpha->is_array() || alpha->empty()) fail("field \"alpha\" must be a non-empty list of layers");
  r.numLayers = static_cast<int64_t>(alpha->size());
  for (int64_t l = 0; l < r.numLayers; ++l) {
    const auto& layer = (*alpha)[static_cast<size_t>(l)];
    const std::string at = "alpha[" + std::to_string(l) + "]";
    if (!layer.is_array() || layer.empty()) fail(at + " must be a non-empty list of heads");
    if (l == 0) r.numHeads = static_cast<int64_t>(layer.size());
    if (static_cast<int64_t>(layer.size()) != r.numHeads)
      fail(at + " has " + std::to_string(layer.size()) + " heads, alpha[0] has " + std::to_string(r.numHeads));
    for (int64_t h = 0; h < r.numHeads; ++h) {
      const auto& row = layer[static_cast<size_t>(h)];
      const std::string atRow = at + "[" + std::to_string(h) + "]";
      if (!row.is_array() || static_cast<int64_t>(row.size()) != K)
        fail(atRow + " must be a list of " + std::to_string(K) + " numbers (one per mask of the bank), got " + jsonBrief(row));
      for (size_t k = 0; k < row.size(); ++k) {
        const auto& v = row[k];
        if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
          fail(atRow + "[" + std::to_string(k) + "] must be a finite number >= 0, got " + jsonBrief(v));
        r.alpha.push_back(v.get<double>());
      }
    }
  }
  if (const auto planPath = r.path(kPlanFile); fs::exists(planPath)) {
    r.plan = AttentionPlan::load(planPath);
    r.plan->checkBank(r.bank);
  }
  if (const auto profilePath = r.path(kProfileFile); fs::exists(profilePath)) {
    r.profile = PruningProfile::load(profilePath);
    try {
      r.profile->checkBank(r.bank);
    } catch (const PlanError& e) {
      throw PlanError(profilePath + ": " + e.what());
    }
  }
  return r;
}

}  // namespace attnx
