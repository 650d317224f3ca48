// The figures of the views, made without a window: `attnx-cli figures` calls this. Plain C++
// types only, so the CLI's translation unit needs no Qt of its own. Creates an offscreen
// QApplication when none exists (QT_QPA_PLATFORM=offscreen unless a display is set).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/eval/attention_plan.h"

namespace attnx::ui {

struct FiguresJob {
  std::string runDir, outDir;
  std::string prompt;      // "" = a default sentence
  std::string teacher;     // "" = the run's teacher
  std::string benchJson;   // optional: output of attnx-cli bench --attention-only --json to plot
  int layer = 0, head = 0;
  bool pruned = false;     // the pruned plan instead of the soft student
  std::optional<attnx::PruningRule> pruneRule;  // the pruned plan's rule; none: the run's plan
  int width = 1200, height = 800;
  double dpi = 96;
};

// Returns the files written. Throws std::runtime_error with a message for the user.
std::vector<std::string> writeFiguresHeadless(const FiguresJob& job);

// The prompt used when none is given.
const char* defaultFiguresPrompt();

}  // namespace attnx::ui
