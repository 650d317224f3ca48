// What the commands answering from a run's RunSession share (attention, compare): --run, --teacher,
// the prompt as text or ids, and opening the session on the CPU, as the desktop's views run it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/cli/cli_common.h"
#include "app/cli/student_options.h"
#include "core/eval/run_session.h"

namespace attnx::cli {

struct RunPromptOptions {
  std::string run, teacher, prompt, promptIds;
  CLI::Option* promptIdsOpt = nullptr;
  PruningOptions prune;  // the pruned student's rule (default: the run's plan)

  // Adds --run (required), --teacher/--model, --prompt and --prompt-ids (one of the two required),
  // and the --prune-* rules of the pruned student.
  void add(CLI::App* sub, const std::string& promptHelp);
  bool promptIsText() const { return !promptIdsOpt || promptIdsOpt->count() == 0; }
  // Applies --threads and opens the run; refuses --device other than cpu naming `command`.
  std::shared_ptr<RunSession> open(const GlobalOptions& g, const std::string& command) const;
  // The prompt's token ids (parsed, or the text encoded); refuses an empty prompt.
  std::vector<int> tokens(const RunSession& session) const;
};

// "1,2,3" as token ids (parseIdList's checks, naming `option`).
std::vector<int> parseTokenIds(const std::string& text, const std::string& option);

}  // namespace attnx::cli
