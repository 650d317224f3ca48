// --run, --student and the pruning options shared by score, generate and eval: which model runs
// (the teacher, or a run's student through the compiled or the dense-masked kernel).
#pragma once

#include <optional>
#include <string>

#include "app/cli/cli_common.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/run_student.h"

namespace attnx::cli {

// --prune-threshold, --prune-top-k, --prune-target-density, --prune-budget: the four pruning rules
// (core/eval/attention_plan.h), at most one of them; none means the run's default plan.
struct PruningOptions {
  double threshold = 0;
  int64_t topK = 1;
  double density = 1;
  double budget = 1;
  CLI::Option* thresholdOpt = nullptr;
  CLI::Option* topKOpt = nullptr;
  CLI::Option* densityOpt = nullptr;
  CLI::Option* budgetOpt = nullptr;

  // shortNames: also --threshold, --top-k, --target-density, --budget (eval's older names).
  void add(CLI::App* sub, bool shortNames);
  std::vector<CLI::Option*> options() const { return {thresholdOpt, topKOpt, densityOpt, budgetOpt}; }
  // The rule given on the command line, if any; densityLength: n of the density rules.
  std::optional<PruningRule> rule(int64_t densityLength) const;
};

struct StudentOptions {
  std::string run;                // --run ("" with score and generate: the teacher)
  std::string student = "compiled";
  PruningOptions prune;
  CLI::Option* runOpt = nullptr;

  bool hasRun() const { return runOpt && runOpt->count() > 0; }
  std::optional<PruningRule> rule(int64_t densityLength) const { return prune.rule(densityLength); }
  RunStudentKind kind() const { return runStudentKindFromName(student); }
};

// Adds --run (required when runRequired), --student (the choices listed) and the pruning options
// --prune-threshold, --prune-top-k, --prune-target-density, --prune-budget (eval also keeps its shorter
// --threshold, --top-k, --target-density, --budget: pass shortNames).
void addStudentOptions(CLI::App* sub, StudentOptions& s, bool runRequired, bool allowSoft, bool shortNames);

// The global options with --model defaulting to the run's teacher.
GlobalOptions withRunTeacher(const GlobalOptions& g, const RunArtifacts& run);

// What score and generate run: the teacher, or with --run the run's student on the run's teacher.
struct ChosenModel {
  GlobalOptions options;  // --model defaulting to the run's teacher: load the tokenizer with these
  Gpt2 model{nullptr};
  std::optional<RunArtifacts> run;
  std::optional<RunStudent> student;

  const AttentionKernel* kernel() const { return student ? student->kernel.get() : nullptr; }
  // "teacher" or the student's description with its density at length n.
  std::string describe(int64_t n) const;
  // {"model": "teacher" | "compiled student" | ..., "student": {...}} fields to merge into the output.
  nlohmann::json json(int64_t n) const;
};

// Loads the model (and the run and its student with --run). Pruning rules measure target density at
// the run's training length.
ChosenModel chooseModel(const GlobalOptions& g, const StudentOptions& s);

}  // namespace attnx::cli
