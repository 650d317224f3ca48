// attnx-cli study CONFIG.json --out DIR [--report-only]: learned plans beside fixed baselines of the same
// densities, measured by the same code (core/study), written as DIR/study.json, study.csv, report.html.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "core/io/model_locator.h"
#include "core/study/study_report.h"
#include "core/study/study_runner.h"

namespace attnx::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void onStudyInterrupt(int) { g_stop.store(true); }

}  // namespace

Runner addStudyCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("study", "Run a study: learned plans and fixed baselines at equal densities, side by side "
                                          "(study.json, study.csv, report.html)");
  struct Args { std::string config, out; bool reportOnly = false; };
  auto a = std::make_shared<Args>();
  sub->add_option("config", a->config, "Study config (JSON; see docs/study/config.json)")->required();
  sub->add_option("--out", a->out, "Study folder: created, or resumed where an earlier run of the same config stopped")
      ->required();
  sub->add_flag("--report-only", a->reportOnly, "Only render report.html again from DIR/study.json (nothing is recomputed)");
  return [&g, a] {
    if (a->reportOnly) {
      const auto path = writeStudyReport(a->out);
      std::printf("%s\n", path.c_str());
      return 0;
    }
    // Everything about the config is checked before anything loads or runs.
    const auto config = StudyConfig::load(a->config);
    GlobalOptions opts = g;
    if (!config.teacherDir.empty()) opts.modelDir = config.teacherDir;
    if (opts.device != "cpu") throw CLI::ValidationError("--device", "a study runs on the CPU (the compiled kernel is CPU-only)");
    StudyInputs in;
    in.teacher = loadModel(opts);
    in.teacherDir = resolveModelDir(opts.modelDir);
    const auto tok = loadTokenizer(opts);
    std::cerr << "study: tokenizing the texts\n";
    const auto train = loadCorpus(config.trainData, tok), profile = loadCorpus(config.profileData, tok),
               test = loadCorpus(config.testData, tok);
    in.tokenizer = &tok;
    in.train = &train;
    in.profile = &profile;
    in.test = &test;
    std::signal(SIGINT, onStudyInterrupt);
    std::signal(SIGTERM, onStudyInterrupt);
    std::signal(SIGHUP, onStudyInterrupt);
    StudyCallbacks cb;
    cb.onMessage = [](const std::string& m) { std::cerr << "study: " << m << '\n'; };
    try {
      runStudy(config, in, a->out, cb, &g_stop);
    } catch (const std::runtime_error& e) {
      if (!g_stop.load()) throw;
      std::cerr << "study: stopped; finished work is kept in " << a->out << " (run the same command to resume)\n";
      return 130;
    }
    const auto report = writeStudyReport(a->out);
    if (g.json) printJson({{"study", a->out + "/study.json"}, {"csv", a->out + "/study.csv"}, {"report", report}});
    else std::printf("%s/study.json\n%s/study.csv\n%s\n", a->out.c_str(), a->out.c_str(), report.c_str());
    return 0;
  };
}

}  // namespace attnx::cli
