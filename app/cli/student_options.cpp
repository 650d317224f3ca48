#include "app/cli/student_options.h"

#include <stdexcept>

namespace attnx::cli {

std::optional<PruningRule> PruningOptions::rule(int64_t densityLength) const {
  if (thresholdOpt && thresholdOpt->count()) return PruningRule::thresholdRule(threshold);
  if (topKOpt && topKOpt->count()) return PruningRule::topKRule(topK);
  if (densityOpt && densityOpt->count()) return PruningRule::targetDensityRule(density, densityLength);
  if (budgetOpt && budgetOpt->count()) return PruningRule::budgetRule(budget, densityLength);
  return std::nullopt;
}

void PruningOptions::add(CLI::App* sub, bool shortNames) {
  auto name = [&](const char* full, const char* shortName) {
    return shortNames ? std::string(shortName) + "," + full : std::string(full);
  };
  const char* fallback = " (default: the run's plan.json, else threshold 0.05)";
  thresholdOpt = sub->add_option(name("--prune-threshold", "--threshold"), threshold,
                                 std::string("Prune: keep masks with alpha >= t") + fallback)
                     ->check(NonNegative);
  topKOpt = sub->add_option(name("--prune-top-k", "--top-k"), topK, std::string("Prune: keep the k largest alpha per head") + fallback)
                ->check(Positive);
  densityOpt = sub->add_option(name("--prune-target-density", "--target-density"), density,
                               std::string("Prune: drop the smallest alpha until the mean density <= r") + fallback)
                   ->check(CLI::Range(0.0, 1.0));
  budgetOpt = sub->add_option(name("--prune-budget", "--budget"), budget,
                              std::string("Prune: spend a mean density r where the run's pruning profile (attnx-cli "
                                          "profile) says it costs least KL") + fallback)
                  ->check(CLI::Range(0.0, 1.0));
  thresholdOpt->excludes(topKOpt)->excludes(densityOpt)->excludes(budgetOpt);
  topKOpt->excludes(densityOpt)->excludes(budgetOpt);
  densityOpt->excludes(budgetOpt);
}

void addStudentOptions(CLI::App* sub, StudentOptions& s, bool runRequired, bool allowSoft, bool shortNames) {
  s.runOpt = sub->add_option("--run", s.run,
                             runRequired ? "Run folder made by attnx-cli distill"
                                         : "Run the student of this run folder (made by attnx-cli distill) instead of "
                                           "the teacher; --model defaults to the run's teacher");
  if (runRequired) s.runOpt->required();
  std::vector<std::string> kinds{"compiled", "masked"};
  if (allowSoft) kinds.push_back("soft");
  const std::string help =
      std::string("With --run: compiled (the pruned plan through the block-sparse kernel, CPU), masked (the same ") +
      "plan with dense masked scores: the same numbers, any device)" +
      (allowSoft ? ", or soft (no pruning: every mask with its learned alpha, or a gated run's gate)" : "");
  auto* studentOpt = sub->add_option("--student", s.student, help)->capture_default_str()->check(CLI::IsMember(kinds));
  s.prune.add(sub, shortNames);
  if (!runRequired) {
    studentOpt->needs(s.runOpt);
    for (auto* o : s.prune.options()) o->needs(s.runOpt);
  }
}

GlobalOptions withRunTeacher(const GlobalOptions& g, const RunArtifacts& run) {
  GlobalOptions out = g;
  if (!out.modelDir && !run.config.teacherDir.empty()) out.modelDir = run.config.teacherDir;
  return out;
}

ChosenModel chooseModel(const GlobalOptions& g, const StudentOptions& s) {
  ChosenModel m;
  m.options = g;
  if (s.hasRun()) {
    m.run = RunArtifacts::load(s.run);
    m.options = withRunTeacher(g, *m.run);
  }
  m.model = loadModel(m.options);
  m.model->eval();
  const auto device = m.model->wte->weight.device();
  if (m.run)
    m.student = makeRunStudent(*m.run, m.model->config(), s.kind(), s.rule(m.run->config.seqLen),
                               device);
  return m;
}

std::string ChosenModel::describe(int64_t n) const {
  return student ? student->describe(run->bank, n) + " of " + run->dir : std::string("teacher");
}

nlohmann::json ChosenModel::json(int64_t n) const {
  if (!student) return {{"model", "teacher"}};
  const auto& p = student->plan;
  const std::string model = student->kind == RunStudentKind::Compiled ? "compiled student"
                            : student->kind == RunStudentKind::Masked ? "dense-masked student"
                                                                      : "soft student";
  return {{"model", model},
          {"student", {{"kind", runStudentKindName(student->kind)}, {"run", run->dir}, {"plan_from", student->planSource},
                       {"active_masks", p.activeCount()}, {"density", p.meanDensity(run->bank, n)}, {"density_n", n},
                       {"gated", student->gated}, {"description", describe(n)}}}};
}

}  // namespace attnx::cli
