// Each subcommand registers itself on the app and returns the function that runs it.
#pragma once

#include <functional>

#include "app/cli/cli_common.h"

namespace attnx::cli {

using Runner = std::function<int()>;

Runner addTokenizeCommand(CLI::App& app, GlobalOptions& g);
Runner addScoreCommand(CLI::App& app, GlobalOptions& g);
Runner addGenerateCommand(CLI::App& app, GlobalOptions& g);
Runner addBenchCommand(CLI::App& app, GlobalOptions& g);
Runner addMasksCommand(CLI::App& app, GlobalOptions& g);
Runner addDistillCommand(CLI::App& app, GlobalOptions& g);
Runner addEvalCommand(CLI::App& app, GlobalOptions& g);
Runner addPretrainCommand(CLI::App& app, GlobalOptions& g);
Runner addConvertCommand(CLI::App& app, GlobalOptions& g);
Runner addHeadsCommand(CLI::App& app, GlobalOptions& g);
Runner addProfileCommand(CLI::App& app, GlobalOptions& g);
Runner addStudyCommand(CLI::App& app, GlobalOptions& g);
Runner addAttentionCommand(CLI::App& app, GlobalOptions& g);
Runner addCompareCommand(CLI::App& app, GlobalOptions& g);

}  // namespace attnx::cli
