// attnx-cli pretrain: train a small GPT-2 (GPT-2's tokenizer and vocabulary) from scratch on text.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "app/cli/dist_options.h"
#include "core/data/window_sampler.h"
#include "core/io/model_locator.h"
#include "core/train/pretrainer.h"

namespace attnx::cli {
namespace {
std::atomic<bool> g_stopPretrain{false};
extern "C" void onPretrainInterrupt(int) { g_stopPretrain.store(true); }
}  // namespace

Runner addPretrainCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("pretrain", "Train a small GPT-2 from scratch (GPT-2's tokenizer and vocabulary)");
  struct Args { PretrainConfig c; std::string out, tokenizer; bool resume = false; DistOptions dist; };
  auto a = std::make_shared<Args>();
  auto& c = a->c;
  sub->add_option("--data", c.dataPath, "Training text: a .txt file or a folder of them");
  sub->add_option("--val-data", c.validationPath, "Held-out text for validation loss");
  sub->add_option("--out", a->out, "Output folder (model/ is a GPT-2 folder attnx and attnx-cli open)")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Folder with vocab.json and merges.txt (default: the fetched GPT-2 tokenizer)");
  sub->add_flag("--resume", a->resume, "Continue the run in --out (settings from its pretrain.json)");
  sub->add_option("--layers", c.layers, "Transformer blocks")->capture_default_str()->check(Positive);
  sub->add_option("--heads", c.heads, "Attention heads")->capture_default_str()->check(Positive);
  sub->add_option("--width", c.width, "Embedding width")->capture_default_str()->check(Positive);
  sub->add_option("--context", c.context, "Context length (positions)")->capture_default_str()->check(Positive);
  auto* stepsOption = sub->add_option("--steps", c.steps, "Optimiser steps (with --resume: the new total)")
                          ->capture_default_str()->check(Positive);
  sub->add_option("--batch-size", c.batchSize, "Windows per step")->capture_default_str()->check(Positive);
  sub->add_option("--seq-len", c.seqLen, "Tokens per window")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  sub->add_option("--lr", c.learningRate, "Peak learning rate (AdamW)")->capture_default_str()->check(Positive);
  sub->add_option("--weight-decay", c.weightDecay, "AdamW decay on matrices")->capture_default_str()->check(NonNegative);
  sub->add_option("--warmup", c.warmupSteps, "Warm-up steps")->capture_default_str()->check(NonNegative);
  sub->add_option("--min-lr-ratio", c.minLrRatio, "Cosine floor as a fraction of --lr")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sub->add_option("--grad-clip", c.gradClip, "Max gradient norm (0: off)")->capture_default_str()->check(NonNegative);
  sub->add_option("--seed", c.seed, "Seed of the initial weights and the batch sampler")->capture_default_str();
  sub->add_option("--validate-every", c.validateEvery, "Validation every N steps")->capture_default_str()->check(NonNegative);
  sub->add_option("--validation-windows", c.validationWindows, "Held-out windows per validation")->capture_default_str()->check(Positive);
  sub->add_option("--checkpoint-every", c.checkpointEvery, "Checkpoint every N steps")->capture_default_str()->check(NonNegative);
  addDistOptions(sub, a->dist);
  addJsonFlag(sub, g);

  return [&g, a, stepsOption] {
    namespace fs = std::filesystem;
    PretrainConfig c = a->c;
    const DistJob job = joinIfLaunched(g, a->dist, "pretrain");
    const bool writer = job.rank() == 0;  // rank 0 owns the output folder and the terminal
    if (!writer) {
      // The run rank 0 set up or resumed, read from rank 0 below.
    } else if (a->resume) {
      const auto path = (fs::path(a->out) / "pretrain.json").string();
      std::ifstream in(path);
      if (!in) throw std::runtime_error(path + ": cannot open (is --out a pretraining folder?)");
      std::stringstream ss;
      ss << in.rdbuf();
      const int64_t steps = c.steps;
      c = PretrainConfig::fromJsonText(ss.str(), path);
      // An explicit --steps extends (or shortens) the run; the cosine schedule follows the new end.
      if (stepsOption->count() > 0) c.steps = steps;
    } else {
      if (c.dataPath.empty()) throw CLI::RequiredError("--data");
      c.dataPath = fs::absolute(c.dataPath).string();
      if (!c.validationPath.empty()) c.validationPath = fs::absolute(c.validationPath).string();
      c.tokenizerDir = fs::absolute(a->tokenizer.empty() ? tokenizerDirFor(a->out) : a->tokenizer).string();
    }
    c.worldSize = job.worldSize();
    c.distBackend = job.backend();
    if (job.group)
      c = PretrainConfig::fromJsonText(job.group->shareFromRankZero("pretrain.json", c.toJsonText()), "rank 0's pretrain.json");
    c.validate();
    const auto device = job.device;
    const auto tok = BpeTokenizer::fromFolder(c.tokenizerDir);
    auto corpus = std::make_shared<TokenCorpus>(loadCorpus(c.dataPath, tok));
    auto sampler = std::make_shared<WindowSampler>(*corpus, c.seqLen, c.seed);
    std::vector<std::vector<int64_t>> validation;
    if (!c.validationPath.empty()) {
      const auto val = loadCorpus(c.validationPath, tok);
      validation = WindowSampler(val, c.seqLen, c.seed).evalWindows(c.seqLen, c.validationWindows);
    }
    if (writer) std::cerr << "pretrain: " << corpus->size() << " training tokens, " << validation.size() << " validation windows\n";
    const int64_t batch = c.batchSize;
    Pretrainer trainer(c, [corpus, sampler, batch](int64_t step) { return sampler->batch(batch, step); }, validation,
                       writer ? a->out : std::string(), device, a->resume ? RunFolder::Resume : RunFolder::New);
    if (job.group) trainer.setProcessGroup(job.group);
    if (a->resume && writer) std::cerr << "pretrain: resuming after step " << trainer.resumeIfPossible() << '\n';
    std::signal(SIGINT, onPretrainInterrupt);
    std::signal(SIGTERM, onPretrainInterrupt);
    std::signal(SIGHUP, onPretrainInterrupt);
    PretrainMetrics last;
    DistStepTimes distTimes(job);
    const int64_t startStep = trainer.step();
    auto lastPrint = std::chrono::steady_clock::now() - std::chrono::seconds(60);
    job.runReportingFailure([&] {
      trainer.run(
          [&](const PretrainMetrics& m) {
            last = m;
            const std::string reduce = distTimes.add(m.allReduceSeconds, m.peerWaitSeconds);
            if (!writer) return;
            const auto now = std::chrono::steady_clock::now();
            if (m.validationLoss < 0 && m.step != c.steps && now - lastPrint < std::chrono::seconds(5)) return;
            lastPrint = now;
            const double eta = m.elapsedSeconds / m.step * (c.steps - m.step);
            std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s%s  ETA %.0f min%s\n",
                         static_cast<long long>(m.step), static_cast<long long>(c.steps), m.loss, m.learningRate,
                         m.tokensPerSecond, reduce.c_str(), eta / 60,
                         m.validationLoss >= 0
                             ? ("  val loss " + std::to_string(m.validationLoss) + " (ppl " +
                                std::to_string(std::exp(m.validationLoss)) + ")").c_str()
                             : "");
          },
          [writer](const std::string& msg) { if (writer) std::cerr << "pretrain: " << msg << '\n'; }, &g_stopPretrain);
    });
    const bool stopped = job.stoppedEarly(trainer.step(), c.steps, g_stopPretrain.load());
    if (!writer) return stopped ? 130 : 0;
    const auto modelDir = (fs::path(a->out) / "model").string();
    const int64_t stepsRun = trainer.step() - startStep;
    if (g.json) {
      nlohmann::json j = {{"out", a->out}, {"model", modelDir}, {"step", trainer.step()}, {"loss", last.loss},
                          {"validation_loss", last.validationLoss}};
      distTimes.report(stepsRun, &j);
      printJson(j);
    } else {
      std::printf("model saved in %s after %lld steps (last loss %.4f)\n", modelDir.c_str(),
                  static_cast<long long>(trainer.step()), last.loss);
      distTimes.report(stepsRun, nullptr);
    }
    return stopped ? 130 : 0;
  };
}

}  // namespace attnx::cli
