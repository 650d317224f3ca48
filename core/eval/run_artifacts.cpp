#include "core/eval/run_artifacts.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

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
  nlohmann::json learned;
  try {
    learned = nlohmann::json::parse(readRunFile(learnedPath));
    if (learned.value("format", "") != "attnx-learned-bank")
      throw std::runtime_error(learnedPath + ": not an attnx learned bank");
    r.bank = MaskBank::fromJson(learned.at("bank"), learnedPath);
    r.step = learned.value("step", static_cast<int64_t>(0));
    r.alphaSource = learned.value("alpha_source", std::string());
    const auto& alpha = learned.at("alpha");
    r.numLayers = static_cast<int64_t>(alpha.size());
    for (const auto& layer : alpha) {
      r.numHeads = static_cast<int64_t>(layer.size());
      for (const auto& head : layer)
        for (const auto& v : head) r.alpha.push_back(v.get<double>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(learnedPath + ": not a valid learned bank (" + e.what() + ")");
  }
  const auto K = static_cast<int64_t>(r.bank.masks.size());
  if (r.numLayers < 1 || static_cast<int64_t>(r.alpha.size()) != r.numLayers * r.numHeads * K)
    throw std::runtime_error(learnedPath + ": alpha is not layers x heads x " + std::to_string(K) + " masks");
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
