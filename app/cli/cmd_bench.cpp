// attnx-cli bench: model throughput (forward at several lengths, generation with/without KV cache).
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "app/cli/bench_modes.h"
#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "core/bench/attention_bench.h"
#include "core/bench/op_trace.h"
#include "core/bench/distill_bench.h"
#include "core/bench/model_bench.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/masks/mask_bank.h"
#include "core/io/gpt2_checkpoint.h"

namespace attnx::cli {

Runner addBenchCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("bench", "Benchmark forward and generation speed and memory");
  struct Args {
    ModelBenchOptions o;
    std::string seq = "128,512,1024";
    std::string preset, stepBank, combine = "soft-mask";
    int64_t batch = 4;
    SparseBenchArgs sparse;
    PruningOptions prune;  // --prune-*: the --run plan's rule
    bool attentionOnly = false;
    bool generateStudent = false;
    std::string run;
  };
  auto a = std::make_shared<Args>();
  sub->add_option("--seq", a->seq, "Sequence lengths, comma-separated")->capture_default_str();
  sub->add_option("--repeats", a->o.repeats, "Timed forward passes per length (median reported)")
      ->capture_default_str()->check(Positive);
  sub->add_option("--generate", a->o.generateTokens, "New tokens in the generation benchmark (0: skip)")
      ->capture_default_str()->check(NonNegative);
  sub->add_option("--generate-repeats", a->o.generateRepeats, "Timed generations per mode")
      ->capture_default_str()->check(Positive);
  sub->add_flag("--generate-student", a->generateStudent,
                "Also generate with a compiled student: window 256 + 4 sinks on every layer and head, with its "
                "bounded KV cache and with the full one");
  auto* presetOpt = sub->add_option("--random", a->preset,
                                    "Benchmark a randomly initialised model of this shape instead of a checkpoint "
                                    "(gpt2, distilgpt2, gpt2-medium, gpt2-large, gpt2-xl, tiny)");
  auto* stepOpt = sub->add_option("--distill-step", a->stepBank,
                                  "Instead: time one distillation step with this bank against a dense training step "
                                  "(each length of --seq, batch --batch)");
  sub->add_option("--batch", a->batch, "Batch size for --distill-step")->capture_default_str()->check(Positive);
  sub->add_option("--combine", a->combine, "soft-mask or branch-mixture, for --distill-step")
      ->capture_default_str()->check(CLI::IsMember({"soft-mask", "branch-mixture"}));
  // Sparse attention: attention alone, or a run's compiled student against its teacher.
  sub->add_flag("--attention-only", a->attentionOnly,
                "Instead: attention alone (B=1, --heads, --head-dim), dense vs compiled block-sparse plans; "
                "--seq default 512,...,16384");
  auto* runOpt = sub->add_option("--run", a->run,
                                 "With --attention-only: add the run's plan (plan.json, else its learned bank pruned). "
                                 "Alone: teacher vs compiled student of the run (--seq default 256,512,1024)");
  sub->add_option("--heads", a->sparse.heads, "Attention-only: heads")->capture_default_str()->check(Positive);
  sub->add_option("--head-dim", a->sparse.headDim, "Attention-only: head dimension")
      ->capture_default_str()->check(Positive);
  sub->add_option("--block-size", a->sparse.blockSize, "Block size of compiled layouts")
      ->capture_default_str()->check(Positive);
  sub->add_option("--warmup", a->sparse.warmup, "Untimed calls before timing (attention-only, --run)")
      ->capture_default_str()->check(NonNegative);
  sub->add_option("--max-dense-bytes", a->sparse.maxDenseGiB,
                  "Attention-only: GiB dense scores may take; beyond, dense runs in query-row chunks")
      ->capture_default_str()->check(Positive);
  sub->add_flag("--no-dense", a->sparse.noDense, "Attention-only: compiled plans only");
  sub->add_flag("--backward", a->sparse.backward,
                "Attention-only: also time each compiled plan's backward (gradients to q, k, v and its weights)");
  sub->add_option("--sparse-threads", a->sparse.sparseThreads,
                  "Attention-only: intra-op threads for the compiled kernel (0: LibTorch's setting; at most 1024)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  sub->add_option("--dtype", a->sparse.dtype,
                  "Attention-only: q, k, v type for dense and SDPA (the compiled kernels compute in fp32)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  sub->add_option("--densities", a->sparse.densities,
                  "Attention-only: also window + 4 sinks plans sized at each n to these densities (e.g. 0.5,0.125)")
      ->delimiter(',')->check(CLI::Range(0.0, 1.0));
  sub->add_option("--max-row-seconds", a->sparse.maxRowSeconds,
                  "Attention-only: skip a row predicted (from the previous length, as n^2) to take longer (0: no limit)")
      ->capture_default_str()->check(NonNegative);
  sub->add_option("--csv", a->sparse.csvPath, "Attention-only: also write the rows to this CSV file");
  sub->add_option("--trace", a->sparse.tracePath,
                  "Write a per-operator Chrome trace (LibTorch profiler) of one pass at the first --seq length");
  sub->add_option("--data", a->sparse.data, "--run: held-out text for KL and perplexity");
  sub->add_option("--windows", a->sparse.windows, "--run: held-out windows")->capture_default_str()->check(Positive);
  // The same pruning options as score, generate and eval: a rule given overrides the run's plan.json.
  a->prune.add(sub, /*shortNames=*/false);
  auto* seqOpt = sub->get_option("--seq");
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  return [&g, a, presetOpt, stepOpt, runOpt, seqOpt] {
    if (a->attentionOnly || runOpt->count()) {
      a->sparse.repeats = a->o.repeats;
      if (runOpt->count()) a->sparse.run = a->run;
      a->sparse.prune = a->prune.rule(/*densityLength: the run's, set where it is known*/ 1);
      const char* defaults = a->attentionOnly ? "512,1024,2048,4096,8192,16384" : "256,512,1024";
      a->sparse.seqLens = parseIdList(seqOpt->count() ? a->seq : std::string(defaults), "--seq");
      for (auto n : a->sparse.seqLens)
        if (n < 1) throw CLI::ValidationError("--seq", "lengths must be >= 1");
      return a->attentionOnly ? runAttentionOnlyBench(a->sparse, g) : runStudentBench(a->sparse, g);
    }
    a->o.seqLens = parseIdList(a->seq, "--seq");
    for (auto n : a->o.seqLens)
      if (n < 1) throw CLI::ValidationError("--seq", "lengths must be >= 1");
    const auto device = selectDevice(g);
    Gpt2 model{nullptr};
    std::string source;
    if (presetOpt->count()) {
      model = Gpt2(Gpt2Config::preset(a->preset));
      model->initWeights(a->o.seed);
      model->to(device);
      source = "random " + a->preset;
    } else {
      model = loadModel(g);
      source = g.modelDir.value_or("default model");
    }
    if (stepOpt->count()) {
      const auto bank = MaskBank::load(a->stepBank);
      MixtureOptions options;
      options.combine = a->combine == "branch-mixture" ? MixtureOptions::Combine::BranchMixture
                                                       : MixtureOptions::Combine::SoftMask;
      nlohmann::json rows = nlohmann::json::array();
      if (!g.json)
        std::printf("%-8s %6s %4s %14s %16s %8s\n", "n", "batch", "K", "dense step ms", "distill step ms", "ratio");
      for (int64_t n : a->o.seqLens) {
        const auto r = benchDistillStep(model, bank, options, a->batch, n, a->o.repeats, a->o.seed);
        const double tokens = static_cast<double>(r.batchSize * n);
        rows.push_back({{"seq_len", n}, {"batch", r.batchSize}, {"masks", r.numMasks}, {"dense_step_s", r.denseSeconds},
                        {"distill_step_s", r.studentSeconds}, {"ratio", r.ratio()},
                        {"dense_tokens_per_s", tokens / r.denseSeconds},
                        {"distill_tokens_per_s", tokens / r.studentSeconds}});
        if (!g.json)
          std::printf("%-8lld %6lld %4lld %14.1f %16.1f %8.2f\n", static_cast<long long>(n),
                      static_cast<long long>(r.batchSize), static_cast<long long>(r.numMasks), r.denseSeconds * 1e3,
                      r.studentSeconds * 1e3, r.ratio());
      }
      if (g.json)
        printJson({{"model", source}, {"combine", a->combine}, {"device", device.str()},
                   {"threads", torch::get_num_threads()}, {"distill_step", rows}});
      return 0;
    }
    auto progress = [](const std::string& s) { std::cerr << "bench: " << s << '\n'; };
    // The student of --generate-student: the attention-only bench's window256+sinks4 plan on every layer.
    std::unique_ptr<CompiledPlanAttention> student;
    BenchStudent benchStudent;
    if (a->generateStudent) {
      const auto& cfg = model->config();
      const auto window = builtinBenchPlans(cfg.numHeads).front();
      const auto masks = static_cast<int64_t>(window.bank.masks.size());
      const auto plan = AttentionPlan::fromAlpha(std::vector<double>(cfg.numLayers * cfg.numHeads * masks, 1.0),
                                                 cfg.numLayers, cfg.numHeads, window.bank, PruningRule::thresholdRule(0));
      student = std::make_unique<CompiledPlanAttention>(plan, window.bank, PlanCombine::SoftMask);
      benchStudent = {"student " + window.name, student.get()};
    }
    const auto r = benchModel(model, a->o, progress, benchStudent);
    if (!a->sparse.tracePath.empty()) {
      torch::NoGradGuard noGrad;
      const auto ids = torch::randint(model->config().vocabSize, {1, a->o.seqLens.front()},
                                      torch::TensorOptions(torch::kLong).device(device));
      writeOperatorTrace(a->sparse.tracePath, [&] { model->forward(ids); });
    }
    const double MiB = 1024.0 * 1024.0;
    if (g.json) {
      nlohmann::json fwd = nlohmann::json::array(), gen = nlohmann::json::array();
      for (const auto& f : r.forward)
        fwd.push_back({{"seq_len", f.seqLen}, {"median_s", f.medianSeconds}, {"min_s", f.minSeconds},
                       {"tokens_per_s", f.tokensPerSecond}, {"peak_rss_bytes", f.peakResidentBytes}});
      for (const auto& x : r.generate)
        gen.push_back({{"model", x.model}, {"kv_cache", x.kvCache}, {"bounded_cache", x.boundedCache},
                       {"peak_cache_keys", x.peakCacheKeys}, {"new_tokens", x.newTokens}, {"median_s", x.medianSeconds},
                       {"tokens_per_s", x.tokensPerSecond}, {"peak_rss_bytes", x.peakResidentBytes}});
      printJson({{"model", source}, {"parameters", r.parameters}, {"threads", r.threads}, {"device", r.device},
                 {"forward", fwd}, {"generate", gen}});
      return 0;
    }
    std::printf("model: %s, %.1fM parameters, device %s, %d threads\n", source.c_str(), r.parameters / 1e6,
                r.device.c_str(), r.threads);
    std::printf("%-28s %12s %14s %14s\n", "forward (batch 1)", "median ms", "tokens/s", "peak RSS MiB");
    for (const auto& f : r.forward)
      std::printf("n = %-24lld %12.1f %14.1f %14.1f\n", static_cast<long long>(f.seqLen), f.medianSeconds * 1e3,
                  f.tokensPerSecond, f.peakResidentBytes / MiB);
    for (const auto& x : r.generate) {
      const std::string mode = x.model + ", " + (x.kvCache ? (x.boundedCache ? "bounded KV cache" : "KV cache") : "no cache");
      std::printf("generate %lld, %-40s %12.1f %14.1f %14.1f  (cache peak %lld keys)\n", static_cast<long long>(x.newTokens),
                  mode.c_str(), x.medianSeconds * 1e3, x.tokensPerSecond, x.peakResidentBytes / MiB,
                  static_cast<long long>(x.peakCacheKeys));
    }
    if (r.generate.size() >= 2)
      std::printf("KV cache speed-up: %.1fx\n", r.generate[0].tokensPerSecond / r.generate[1].tokensPerSecond);
    return 0;
  };
}

}  // namespace attnx::cli
