// attnx-cli: the headless twin of the desktop app. Wiring only; the work is in core/.
// Exit status: 0 success, 1 the work failed (bad model file, ...), 2 a wrong argument.
#include <iostream>
#include <map>

#include "app/cli/commands.h"
#include "core/io/model_locator.h"
#include "core/util/allocator_tuning.h"

#ifdef ATTNX_CLI_FIGURES
namespace attnx::cli {
Runner addFiguresCommand(CLI::App& app, GlobalOptions& g);  // cmd_figures.cpp: only in builds with the Qt UI
}
#endif

int main(int argc, char** argv) {
  using namespace attnx::cli;
  attnx::tuneAllocatorForTensors(argv);
  CLI::App app{"attnx-cli: explore and distil sparse attention for GPT-2-family models, headless"};
  // The version, and which default model and tokenizer a command without --model would use: the
  // quickest check that an installed package finds its files.
  app.set_version_flag("--version", [] {
    std::string text = std::string("attnx-cli ") + ATTNX_VERSION, dir;
    try {
      dir = attnx::defaultModelDir();
      text += "\ndefault model: " + dir;
    } catch (const std::exception& e) {
      text += std::string("\ndefault model: none (") + e.what() + ")";
    }
    try {
      text += "\ntokenizer: " + attnx::tokenizerDirFor(dir);
    } catch (const std::exception& e) {
      text += std::string("\ntokenizer: none (") + e.what() + ")";
    }
    return text;
  });
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand

  GlobalOptions g;
  app.add_option("--device", g.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", g.threads, "CPU threads for LibTorch (default: all cores; at most 1024)")->check(CLI::Range(0, 1024));

  std::map<CLI::App*, Runner> runners;
  auto add = [&](Runner (*adder)(CLI::App&, GlobalOptions&)) {
    const auto before = app.get_subcommands({}).size();
    Runner r = adder(app, g);
    runners[app.get_subcommands({}).at(before)] = std::move(r);
  };
  add(addTokenizeCommand);
  add(addScoreCommand);
  add(addGenerateCommand);
  add(addBenchCommand);
  add(addMasksCommand);
  add(addDistillCommand);
  add(addEvalCommand);
  add(addPretrainCommand);
  add(addConvertCommand);
  add(addHeadsCommand);
  add(addProfileCommand);
  add(addStudyCommand);
  add(addAttentionCommand);
  add(addCompareCommand);
#ifdef ATTNX_CLI_FIGURES
  add(addFiguresCommand);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, then status 2, whatever CLI11's own code for the error.
    std::cerr << "attnx-cli: error: " << e.what() << " (see attnx-cli --help)\n";
    return 2;
  }

  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const CLI::ParseError& e) {
      std::cerr << "attnx-cli " << sub->get_name() << ": error: " << e.what() << '\n';
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "attnx-cli " << sub->get_name() << ": " << e.what() << '\n';
      return 1;
    }
  }
  return 2;
}
