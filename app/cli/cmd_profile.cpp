// attnx-cli profile --run RUN [--data PATH] [--windows N]: measures what hardening each head costs
// (RUN/pruning_profile.json), which the budgeted pruning rule (--prune-budget, eval --budget) spends.
#include <cstdio>
#include <iostream>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "core/data/window_sampler.h"
#include "core/eval/pruning_profiler.h"
#include "core/train/distill_trainer.h"

namespace attnx::cli {

Runner addProfileCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand(
      "profile", "Measure the KL each head costs when hardened alone to each rung of its mask ladder (for --prune-budget)");
  struct Args { std::string run, data; int64_t windows = 4; int64_t seqLen = 0; };
  auto a = std::make_shared<Args>();
  sub->add_option("--run", a->run, "Run folder made by attnx-cli distill")->required();
  sub->add_option("--data", a->data, "Held-out text to measure on (default: the run's validation data; keep the test text "
                                     "for evaluation)");
  sub->add_option("--windows", a->windows, "Windows measured")->capture_default_str()->check(Positive);
  sub->add_option("--seq-len", a->seqLen, "Window length (default: the run's)")->check(CLI::Range(2, 1 << 20));
  sub->add_option("--teacher,--model", g.modelDir, "Teacher folder (default: the run's)");
  addJsonFlag(sub, g);
  return [&g, a] {
    const auto run = RunArtifacts::load(a->run);
    const auto teacherOpts = withRunTeacher(g, run);
    auto model = loadModel(teacherOpts);
    model->eval();
    const std::string data = a->data.empty() ? run.config.validationPath : a->data;
    if (data.empty())
      throw CLI::ValidationError("--data", "the run has no validation data: give held-out text (not the test text)");
    const int64_t seqLen = a->seqLen > 0 ? a->seqLen : run.config.seqLen;
    const auto corpus = loadCorpus(data, loadTokenizer(teacherOpts));
    ProfileRequest request;
    request.windows = WindowSampler(corpus, seqLen, run.config.seed).evalWindows(seqLen, a->windows);
    request.batchSize = run.config.batchSize;
    request.dataLabel = data;
    request.progress = [](int64_t done, int64_t total) {
      if (done % 10 == 0 || done == total) std::cerr << "profile: " << done << "/" << total << " rungs\r" << std::flush;
    };
    auto profile = measurePruningProfile(model, run.bank, mixtureOptionsOf(run.config), run.alpha, request);
    profile.runStep = run.step;
    std::cerr << '\n';
    profile.save(run.path(RunArtifacts::kProfileFile));
    if (g.json) {
      printJson(nlohmann::json::parse(profile.toJsonText()));
      return 0;
    }
    std::printf("%s: %lld windows of %lld tokens from %s, base KL %.5f\n", run.path(RunArtifacts::kProfileFile).c_str(),
                static_cast<long long>(profile.windows), static_cast<long long>(profile.n), data.c_str(), profile.baseKl);
    for (int64_t l = 0; l < profile.numLayers; ++l)
      for (int64_t h = 0; h < profile.numHeads; ++h) {
        std::printf("L%lldH%lld", static_cast<long long>(l), static_cast<long long>(h));
        const auto& steps = profile.steps(l, h);
        for (size_t s = 1; s < steps.size(); ++s) {
          // The mask this rung dropped, and what dropping it cost.
          const auto& before = steps[s - 1].masks;
          int dropped = before.back();
          for (int k : before)
            if (std::find(steps[s].masks.begin(), steps[s].masks.end(), k) == steps[s].masks.end()) dropped = k;
          std::printf("  -%s %+.4f", profile.maskNames[static_cast<size_t>(dropped)].c_str(), steps[s].klIncrease);
        }
        std::printf("\n");
      }
    return 0;
  };
}

}  // namespace attnx::cli
