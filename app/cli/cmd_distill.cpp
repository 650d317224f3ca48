// attnx-cli distill: train a mask-mixture student from its GPT-2 teacher, headless.
// Progress on stderr; the run folder gets run.json, metrics.csv, learned_bank.json, student.safetensors.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "app/cli/dist_options.h"
#include "core/io/model_locator.h"
#include "core/train/distill_setup.h"
#include "core/train/distill_trainer.h"

namespace attnx::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void onInterrupt(int) { g_stop.store(true); }

std::string formatDuration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  return buf;
}

}  // namespace

Runner addDistillCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("distill", "Distil a mask-mixture student from a GPT-2 teacher");
  struct Args { DistillConfig c; std::string out; bool resume = false; DistOptions dist; };
  auto a = std::make_shared<Args>();
  auto& c = a->c;
  sub->add_option("--teacher,--model", g.modelDir, "Teacher GPT-2 folder (default: the embedded model)");
  sub->add_option("--bank", c.bankPath, "Mask bank JSON (e.g. resources/banks/local-sinks.json)");
  sub->add_option("--data", c.dataPath, "Training text: a .txt file or a folder of them");
  sub->add_option("--val-data", c.validationPath, "Held-out text for validation KL");
  sub->add_option("--out", a->out, "Run folder to create (or resume with --resume)")->required();
  sub->add_flag("--resume", a->resume, "Continue the run in --out from its last checkpoint (settings from its run.json)");
  sub->add_option("--steps", c.steps, "Optimiser steps")->capture_default_str()->check(Positive);
  sub->add_option("--batch-size", c.batchSize, "Windows per step")->capture_default_str()->check(Positive);
  sub->add_option("--seq-len", c.seqLen, "Tokens per window")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  sub->add_option("--lr", c.learningRate, "Peak learning rate (AdamW)")->capture_default_str()->check(Positive);
  sub->add_option("--warmup", c.warmupSteps, "Linear warm-up steps")->capture_default_str()->check(NonNegative);
  sub->add_option("--min-lr-ratio", c.minLrRatio, "Cosine floor as a fraction of --lr")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sub->add_option("--weight-decay", c.weightDecay, "AdamW decoupled weight decay")->capture_default_str()->check(NonNegative);
  sub->add_option("--grad-clip", c.gradClip, "Max global gradient norm (0: off)")->capture_default_str()->check(NonNegative);
  sub->add_option("--temperature", c.temperature, "Distillation temperature τ")->capture_default_str()->check(Positive);
  sub->add_option("--lambda-l1", c.lambdaL1, "L1 penalty λ₁ on the coefficients")->capture_default_str()->check(NonNegative);
  sub->add_flag("--l1-density-weighted", c.l1DensityWeighted, "Weight each mask's L1 term by its density (prefer cheap masks)");
  sub->add_option("--lambda-hidden", c.lambdaHidden, "Weight of the final-hidden-state MSE")->capture_default_str()->check(NonNegative);
  sub->add_option("--combine", c.combine, "soft-mask or branch-mixture")->capture_default_str()->check(CLI::IsMember({"soft-mask", "branch-mixture"}));
  sub->add_option("--granularity", c.granularity, "Coefficients per model, layer or layer-head")->capture_default_str()->check(CLI::IsMember({"model", "layer", "layer-head"}));
  sub->add_option("--parametrisation", c.parametrisation, "softplus, sigmoid or clamped")->capture_default_str()->check(CLI::IsMember({"softplus", "sigmoid", "clamped"}));
  sub->add_flag("--normalise-branches", c.normaliseBranches, "Branch mixture: divide α by its sum over masks");
  sub->add_option("--init", c.initialCoefficient, "Initial α of every coefficient (with --gate: the gate's start, in (0, 1))")->capture_default_str()->check(NonNegative);
  sub->add_flag("--gate", c.gate, "Per-token gating network: α = sigmoid(W_g q_i + b_g) per layer and head, read from "
                                  "each head's query vector (replaces the static coefficients; L1 acts on the mean gate)");
  sub->add_flag("--train-all-weights", c.trainAllWeights, "Also train GPT-2's weights (default: frozen)");
  sub->add_option("--seed", c.seed, "Seed of the batch sampler")->capture_default_str();
  sub->add_option("--validate-every", c.validateEvery, "Validation every N steps (0: never)")->capture_default_str()->check(NonNegative);
  sub->add_option("--validation-windows", c.validationWindows, "Windows of held-out text per validation")->capture_default_str()->check(Positive);
  sub->add_option("--checkpoint-every", c.checkpointEvery, "Checkpoint every N steps (0: at the end only)")->capture_default_str()->check(NonNegative);
  addDistOptions(sub, a->dist);
  addJsonFlag(sub, g);

  return [&g, a, sub] {
    namespace fs = std::filesystem;
    DistillConfig c = a->c;
    // Joined first, so that a rank that refuses the run below (a folder already in use) ends the
    // others' wait at once instead of at the rendezvous timeout.
    const DistJob job = joinIfLaunched(g, a->dist, "distill");
    const bool writer = job.rank() == 0;  // rank 0 owns the run folder and the terminal
    if (!writer) {
      // The run rank 0 set up or resumed, read from rank 0 (its run folder may be on another machine).
    } else if (a->resume) {
      // The run keeps its own settings (run.json); only how long it runs and how often it checks
      // itself may change. Anything else given with --resume is refused, never silently ignored.
      const std::vector<std::string> mayChange = {"--steps", "--checkpoint-every", "--validate-every", "--validation-windows",
                                                  "--dist-backend", "--dist-timeout"};
      for (const CLI::Option* o : sub->get_options()) {
        const std::string name = o->get_name(false, true).substr(0, o->get_name(false, true).find(','));
        if (o->count() == 0 || name == "--out" || name == "--resume" || name == "--json" || name == "--help") continue;
        if (std::find(mayChange.begin(), mayChange.end(), name) == mayChange.end())
          throw std::runtime_error(name + " cannot change when resuming: the run keeps the settings in its run.json "
                                   "(with --resume only --steps, --checkpoint-every, --validate-every, "
                                   "--validation-windows and the --dist-* options may be given)");
      }
      const auto runJson = (fs::path(a->out) / "run.json").string();
      std::ifstream in(runJson);
      if (!in) throw std::runtime_error(runJson + ": cannot open (is --out a run folder?)");
      std::stringstream ss;
      ss << in.rdbuf();
      const DistillConfig given = c;
      c = DistillConfig::fromJsonText(ss.str(), runJson);
      if (sub->get_option("--steps")->count()) c.steps = given.steps;  // extends (or ends) the run
      if (sub->get_option("--checkpoint-every")->count()) c.checkpointEvery = given.checkpointEvery;
      if (sub->get_option("--validate-every")->count()) c.validateEvery = given.validateEvery;
      if (sub->get_option("--validation-windows")->count()) c.validationWindows = given.validationWindows;
    } else {
      if (c.bankPath.empty()) throw CLI::RequiredError("--bank");
      if (c.dataPath.empty()) throw CLI::RequiredError("--data");
      requireNoRunIn(a->out, distillRunFiles());
      c.teacherDir = resolveModelDir(g.modelDir);
      c.bankPath = fs::absolute(c.bankPath).string();
      c.dataPath = fs::absolute(c.dataPath).string();
      if (!c.validationPath.empty()) c.validationPath = fs::absolute(c.validationPath).string();
    }
    c.worldSize = job.worldSize();  // recorded in run.json; a resume may change them
    c.distBackend = job.backend();
    if (job.group) c = DistillConfig::fromJsonText(job.group->shareFromRankZero("run.json", c.toJsonText()), "rank 0's run.json");
    c.validate();  // batch_size must divide by world_size
    auto t0 = std::chrono::steady_clock::now();
    DistillSetupOptions setup;
    setup.device = job.device;
    setup.say = [writer](const std::string& line) { if (writer) std::cerr << "distill: " << line << '\n'; };
    auto in = prepareDistill(c, std::move(setup));
    if (writer)
      std::cerr << "distill: data ready in "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";

    // Ranks other than 0 keep nothing on disk ("" run folder); they start from rank 0's state.
    DistillTrainer trainer(c, in.teacher->model, std::move(in.bank), std::move(in.batches), std::move(in.validation),
                           writer ? a->out : std::string(), a->resume ? RunFolder::Resume : RunFolder::New);
    if (job.group) trainer.setProcessGroup(job.group);
    if (a->resume && writer) std::cerr << "distill: resuming after step " << trainer.resumeIfPossible() << '\n';

    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    std::signal(SIGHUP, onInterrupt);  // a closed terminal or ssh session: checkpoint and stop like Ctrl-C
    const int64_t total = c.steps;
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    StepMetrics final;
    DistStepTimes distTimes(job);
    DistillCallbacks cb;
    cb.onMessage = [writer](const std::string& m) { if (writer) std::cerr << "distill: " << m << '\n'; };
    cb.onStep = [&](const StepMetrics& m) {
      final = m;
      const std::string reduce = distTimes.add(m.allReduceSeconds, m.peerWaitSeconds);
      if (!writer) return;
      const auto now = std::chrono::steady_clock::now();
      if (m.step != total && m.validationKl < 0 && now - last < std::chrono::milliseconds(500)) return;
      last = now;
      const double eta = m.elapsedSeconds / m.step * (total - m.step);
      std::fprintf(stderr, "step %lld/%lld  loss %.4f  KL %.4f  L1 %.3f  lr %.3g  %.0f tok/s%s  ETA %s%s\n",
                   static_cast<long long>(m.step), static_cast<long long>(total), m.loss, m.kl, m.l1, m.learningRate,
                   m.tokensPerSecond, reduce.c_str(), formatDuration(eta).c_str(),
                   m.validationKl >= 0 ? ("  val KL " + std::to_string(m.validationKl)).c_str() : "");
    };
    const int64_t startStep = trainer.step();
    job.runReportingFailure([&] { trainer.run(cb, &g_stop); });
    const bool stopped = job.stoppedEarly(trainer.step(), c.steps, g_stop.load());
    if (!writer) return stopped ? 130 : 0;
    const int64_t stepsRun = trainer.step() - startStep;
    if (g.json) {
      nlohmann::json j = {{"run", a->out}, {"step", trainer.step()}, {"loss", final.loss}, {"kl", final.kl},
                          {"l1", final.l1}, {"validation_kl", final.validationKl}, {"alpha", final.alpha},
                          {"stopped", stopped}};
      distTimes.report(stepsRun, &j);
      printJson(j);
    } else {
      std::printf("run %s: %lld steps, final KL %.4f, L1 %.3f\n", a->out.c_str(),
                  static_cast<long long>(trainer.step()), final.kl, final.l1);
      distTimes.report(stepsRun, nullptr);
    }
    return stopped ? 130 : 0;
  };
}

}  // namespace attnx::cli
