#include "app/cli/run_prompt_options.h"

#include <cstdio>
#include <stdexcept>

namespace attnx::cli {

void RunPromptOptions::add(CLI::App* sub, const std::string& promptHelp) {
  sub->add_option("--run", run, "Run folder made by attnx-cli distill")->required();
  sub->add_option("--teacher,--model", teacher, "Teacher GPT-2 folder (default: the run's own)");
  auto* promptOpt = sub->add_option("--prompt", prompt, promptHelp);
  promptIdsOpt = sub->add_option("--prompt-ids", promptIds, "Prompt as token ids, comma-separated");
  promptOpt->excludes(promptIdsOpt);
  prune.add(sub, /*shortNames=*/false);
  sub->callback([promptOpt, ids = promptIdsOpt] {
    if (promptOpt->count() + ids->count() == 0) throw CLI::RequiredError("--prompt or --prompt-ids");
  });
}

std::shared_ptr<RunSession> RunPromptOptions::open(const GlobalOptions& g, const std::string& command) const {
  // The session runs on the CPU, as the desktop's views do (the compiled student is a CPU kernel).
  if (g.device != "cpu") throw std::runtime_error("--device " + g.device + ": " + command + " runs on the CPU");
  selectDevice(g);  // --threads
  auto session = RunSession::open(run, teacher, nullptr, prune.rule(/*densityLength: the run's, set by open*/ 1));
  if (!session->info().teacherNote.empty()) std::fprintf(stderr, "%s: %s\n", command.c_str(), session->info().teacherNote.c_str());
  return session;
}

std::vector<int> RunPromptOptions::tokens(const RunSession& session) const {
  const auto ids = promptIsText() ? session.encode(prompt) : parseTokenIds(promptIds, "--prompt-ids");
  if (ids.empty()) throw CLI::ValidationError("--prompt", "the prompt has no tokens");
  return ids;
}

std::vector<int> parseTokenIds(const std::string& text, const std::string& option) {
  std::vector<int> out;
  for (int64_t id : parseIdList(text, option)) out.push_back(static_cast<int>(id));
  return out;
}

}  // namespace attnx::cli
