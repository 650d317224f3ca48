#include "app/cli/bench_modes.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "core/bench/attention_bench.h"
#include "core/bench/machine_info.h"
#include "core/bench/op_trace.h"
#include "core/bench/sgemm_ceiling.h"
#include "core/bench/student_bench.h"
#include "core/data/window_sampler.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/run_student.h"
#include "core/eval/student_eval.h"
#include "core/io/atomic_file.h"
#include "core/train/distill_trainer.h"

namespace attnx::cli {

namespace {

nlohmann::json machineJson() {
  const auto m = currentMachine();
  return {{"cpu", m.cpuModel}, {"logical_cores", m.logicalCores}, {"load_1min", m.load1}, {"load_5min", m.load5},
          {"load_15min", m.load15}, {"torch", TORCH_VERSION}};
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The plan a --run bench measures: the rule given on the command line, else plan.json, else the
// default threshold (the same choice as score, generate and eval make).
AttentionPlan benchPlan(const RunArtifacts& run, const SparseBenchArgs& a) {
  if (const auto rule = a.pruneRule(run.config.seqLen))
    return run.prune(*rule);
  return run.defaultPlan().plan;
}

// Where benchPlan's plan came from, for the output.
std::string benchPlanSource(const RunArtifacts& run, const SparseBenchArgs& a) {
  if (const auto rule = a.pruneRule(run.config.seqLen)) return "learned alpha pruned: " + rule->text();
  return run.defaultPlan().source;
}

// A run's plan laid over the bench's heads, named after the run folder.
AttentionBenchPlan learnedPlan(const SparseBenchArgs& a) {
  const auto run = RunArtifacts::load(*a.run);
  const auto plan = benchPlan(run, a);
  return flattenPlan("learned:" + std::filesystem::path(*a.run).filename().string(), run.bank, plan, run.combine(),
                     a.heads);
}

// Where the traced pass's time went, per row and phase (stderr: stdout may be the JSON). Spans on
// several threads add up, so a phase run by 2 threads for 10 ms shows 20 ms.
void printTraceTotals(const std::string& path) {
  const auto totals = traceTotals(path);
  std::fprintf(stderr, "bench: where the traced pass's time went (thread-ms, summed over threads):\n");
  std::fprintf(stderr, "bench:   %10s %7s %7s  %s\n", "ms", "spans", "threads", "span");
  int shown = 0;
  for (const auto& t : totals) {
    if (++shown > 40) break;
    std::fprintf(stderr, "bench:   %10.2f %7lld %7d  %s\n", t.totalMs, static_cast<long long>(t.spans), t.threads,
                 t.name.c_str());
  }
}

}  // namespace

int runAttentionOnlyBench(const SparseBenchArgs& a, const GlobalOptions& g) {
  AttentionBenchOptions o;
  o.device = selectDevice(g);  // applies --threads
  o.dtype = a.dtype == "bf16" ? torch::kBFloat16 : a.dtype == "fp16" ? torch::kFloat16 : torch::kFloat32;
  o.densities = a.densities;
  o.maxRowSeconds = a.maxRowSeconds;
  o.seqLens = a.seqLens;
  o.warmup = a.warmup;
  o.repeats = a.repeats;
  o.heads = a.heads;
  o.headDim = a.headDim;
  o.blockSize = a.blockSize;
  o.dense = !a.noDense;
  o.sparseThreads = a.sparseThreads;
  o.backward = a.backward;
  o.maxDenseBytes = static_cast<int64_t>(a.maxDenseGiB * double(int64_t{1} << 30));
  auto plans = builtinBenchPlans(a.heads);
  if (a.run) plans.push_back(learnedPlan(a));
  const auto machineBefore = machineJson();
  // The machine's sgemm rate in the same run, on the threads our kernels use, before and after the rows:
  // the higher of the two is the ceiling (a rate measured while something else ran is too low, and
  // would flatter every row's share of it).
  const int kernelThreads = o.sparseThreads > 0 ? o.sparseThreads : torch::get_num_threads();
  auto measureCeiling = [&](const char* when) {
    std::cerr << "bench: measuring sgemm " << when << " the rows (the machine's ceiling)" << std::endl;
    const auto c = measureSgemmCeiling(kernelThreads, a.blockSize, a.headDim);
    std::cerr << "bench:   sgemm " << c.tileGflops << " GFLOP/s in " << a.blockSize << "-tiles on " << c.threads
              << " threads (" << c.blasTileGflops << " as BLAS calls), " << c.bigGflops << " GFLOP/s for " << c.bigSize << "^3 on the BLAS's threads" << std::endl;
    return c;
  };
  std::optional<SgemmCeiling> ceilingBefore, ceilingAfter, ceiling;
  if (!o.device.is_cuda()) ceilingBefore = measureCeiling("before");
  const auto measured = benchAttention(
      o, plans,
      [](int64_t i, int64_t n, const std::string& plan, int64_t len) {
        std::cerr << "bench: [" << i << "/" << n << "] " << plan << " n=" << len << std::endl;
      },
      [](const AttentionBenchRow& r) {  // each result as it comes, so a sweep cut short keeps its numbers
        std::cerr << "bench:   " << r.plan << " n=" << r.n << ": "
                  << (r.skipped ? r.note : std::to_string(r.timeMs) + " ms, " + std::to_string(r.gflops) + " GFLOP/s, peak " +
                                               std::to_string(r.peakBytes) + " bytes")
                  << std::endl;
      });

  if (ceilingBefore) {
    ceilingAfter = measureCeiling("after");
    ceiling = ceilingAfter->gflops() > ceilingBefore->gflops() ? ceilingAfter : ceilingBefore;
  }
  auto rows = measured;
  for (auto& r : rows)
    if (ceiling && !r.skipped) r.sgemmShare = r.gflops / ceiling->gflops();

  if (!a.tracePath.empty()) {
    // One more call of each workload at the first length, under the profiler.
    AttentionBenchOptions t = o;
    t.seqLens = {a.seqLens.front()};
    t.warmup = 0;
    t.repeats = 1;
    const auto events = writeOperatorTrace(a.tracePath, [&] { benchAttention(t, plans); });
    std::cerr << "bench: trace of " << events << " events written to " << a.tracePath << '\n';
    printTraceTotals(a.tracePath);
  }

  nlohmann::json results = nlohmann::json::array();
  std::ostringstream csv;
  csv << "plan,n,time_ms,peak_bytes,flops,gflops,tile_flops,tile_gflops,density,skipped,flop_ratio,speedup_vs_dense,"
         "speedup_vs_fused,sgemm_share,backward_ms,note\n";
  for (const auto& r : rows) {
    // The share of the FLOP saving turned into speed against the fused baseline (1: all of it).
    const double realised = r.speedupVsFused > 0 ? r.speedupVsFused / r.flopRatio : 0;
    results.push_back({{"plan", r.plan}, {"n", r.n}, {"time_ms", r.timeMs}, {"peak_bytes", r.peakBytes},
                       {"flops", r.flops}, {"gflops", r.gflops}, {"tile_flops", r.tileFlops},
                       {"tile_gflops", r.tileGflops}, {"density", r.density}, {"skipped", r.skipped},
                       {"flop_ratio", r.flopRatio}, {"speedup_vs_dense", r.speedupVsDense},
                       {"speedup_vs_fused", r.speedupVsFused}, {"saving_realised_vs_fused", realised},
                       {"sgemm_share", r.sgemmShare}, {"note", r.note}});
    if (r.backwardMs) {
      results.back()["backward_ms"] = *r.backwardMs;
      results.back()["backward_over_forward"] = *r.backwardMs / r.timeMs;
    }
    csv << csvField(r.plan) << ',' << r.n << ',' << r.timeMs << ',' << r.peakBytes << ',' << r.flops << ','
        << r.gflops << ',' << r.tileFlops << ',' << r.tileGflops << ',' << r.density << ','
        << (r.skipped ? "true" : "false") << ',' << r.flopRatio << ',' << r.speedupVsDense << ',' << r.speedupVsFused
        << ',' << r.sgemmShare << ',' << (r.backwardMs ? std::to_string(*r.backwardMs) : std::string()) << ','
        << csvField(r.note) << '\n';
  }
  if (!a.csvPath.empty()) writeFileAtomically(a.csvPath, csv.str());
  auto machine = machineBefore;
  machine["load_1min_after"] = currentMachine().load1;
  if (ceiling) {
    machine["sgemm_gflops"] = ceiling->gflops();
    machine["sgemm_gflops_before"] = ceilingBefore->gflops();  // the ceiling is the higher of these two
    machine["sgemm_gflops_after"] = ceilingAfter->gflops();
    machine["sgemm_tile_gflops"] = ceiling->tileGflops;
    machine["sgemm_tile_blas_gflops"] = ceiling->blasTileGflops;
    machine["sgemm_tile"] = {{"m", ceiling->tile}, {"n", ceiling->tile}, {"k", ceiling->headDim},
                             {"threads", ceiling->threads}};
    machine["sgemm_big_gflops"] = ceiling->bigGflops;
    machine["sgemm_big"] = {{"size", ceiling->bigSize}, {"blas_threads", ceiling->blasThreads}};
  }
  if (g.json) {
    printJson({{"kind", "attention-only"}, {"machine", machine}, {"threads", torch::get_num_threads()},
               {"kernel_threads", kernelThreads},
               {"device", o.device.str()}, {"dtype", a.dtype}, {"heads", a.heads}, {"head_dim", a.headDim},
               {"block_size", a.blockSize}, {"results", results}});
    return 0;
  }
  std::printf("attention only: B=1, H=%lld, d=%lld, block %lld, %s on %s, %d intra-op threads, CPU %s, load %.2f\n",
              static_cast<long long>(a.heads), static_cast<long long>(a.headDim), static_cast<long long>(a.blockSize),
              a.dtype.c_str(), o.device.str().c_str(), torch::get_num_threads(), machine["cpu"].get<std::string>().c_str(),
              machine["load_1min"].get<double>());
  if (ceiling)
    std::printf("sgemm: %.1f GFLOP/s in %lldx%lldx%lld tiles on %d threads (%.1f as BLAS calls), %.1f GFLOP/s for "
                "%lld^3 (BLAS threads %d): ceiling %.1f GFLOP/s (before the rows %.1f, after %.1f)\n",
                ceiling->tileGflops, static_cast<long long>(ceiling->tile), static_cast<long long>(ceiling->tile),
                static_cast<long long>(ceiling->headDim), ceiling->threads, ceiling->blasTileGflops, ceiling->bigGflops,
                static_cast<long long>(ceiling->bigSize), ceiling->blasThreads, ceiling->gflops(), ceilingBefore->gflops(),
                ceilingAfter->gflops());
  std::printf("%-22s %7s %11s %10s %9s %9s %7s %8s %7s %9s %9s  %s\n", "plan", "n", "time ms", "peak MiB", "GFLOP",
              "GFLOP/s", "%sgemm", "density", "FLOP x", "vs dense", "vs fused", "note");
  auto ratio = [](double x) {  // "12.3x", or "-" where the baseline did not run
    char text[32] = "-";
    if (x > 0) std::snprintf(text, sizeof text, "%.1fx", x);
    return std::string(text);
  };
  for (const auto& r : rows) {
    if (r.skipped) {
      std::printf("%-22s %7lld %11s %10s %9s %9s %7s %8s %7s %9s %9s  %s\n", r.plan.c_str(), static_cast<long long>(r.n),
                  "-", "-", "-", "-", "-", "-", "-", "-", "-", r.note.c_str());
      continue;
    }
    std::printf("%-22s %7lld %11.2f %10.2f %9.3f %9.2f %6.1f%% %8.4f %7s %9s %9s  %s\n", r.plan.c_str(),
                static_cast<long long>(r.n), r.timeMs, r.peakBytes / 1048576.0, r.flops / 1e9, r.gflops,
                100 * r.sgemmShare, r.density, ratio(r.flopRatio).c_str(), ratio(r.speedupVsDense).c_str(),
                ratio(r.speedupVsFused).c_str(), r.note.c_str());
  }
  if (a.backward) {
    std::printf("\n%-22s %7s %11s %12s %10s\n", "backward", "n", "forward ms", "backward ms", "bwd / fwd");
    for (const auto& r : rows)
      if (r.backwardMs)
        std::printf("%-22s %7lld %11.2f %12.2f %9.2fx\n", r.plan.c_str(), static_cast<long long>(r.n), r.timeMs,
                    *r.backwardMs, *r.backwardMs / r.timeMs);
  }
  return 0;
}

int runStudentBench(const SparseBenchArgs& a, const GlobalOptions& g) {
  const auto run = RunArtifacts::load(*a.run);
  GlobalOptions teacherOpts = g;
  if (!teacherOpts.modelDir && !run.config.teacherDir.empty()) teacherOpts.modelDir = run.config.teacherDir;
  auto model = loadModel(teacherOpts);
  const auto& cfg = model->config();
  if (run.numLayers != cfg.numLayers || run.numHeads != cfg.numHeads)
    throw std::runtime_error(*a.run + ": the run is for " + std::to_string(run.numLayers) + " layers x " +
                             std::to_string(run.numHeads) + " heads, the teacher has " + std::to_string(cfg.numLayers) +
                             " x " + std::to_string(cfg.numHeads));
  const auto plan = benchPlan(run, a);
  const auto options = mixtureOptionsOf(run.config);
  CompiledPlanAttention student(plan, run.bank, run.combine(), options.normaliseBranches, a.blockSize);
  const auto rows = benchTeacherAndStudent(model, student, a.seqLens, a.warmup, a.repeats, 0,
                                           [](const std::string& s) { std::cerr << "bench: " << s << std::endl; });
  nlohmann::json j = {{"kind", "student"}, {"run", *a.run}, {"machine", machineJson()},
                      {"threads", torch::get_num_threads()}, {"plan_rule", plan.rule.text()},
                      {"plan_from", benchPlanSource(run, a)},
                      {"active_masks", plan.activeCount()}};
  nlohmann::json results = nlohmann::json::array();
  for (const auto& r : rows)
    results.push_back({{"model", r.model}, {"n", r.n}, {"time_ms", r.timeMs}, {"tokens_per_s", r.tokensPerSecond},
                       {"peak_bytes", r.peakBytes}, {"density", r.model == "student" ? plan.meanDensity(run.bank, r.n) : 1.0},
                       {"skipped", r.skipped}, {"note", r.note}});
  j["results"] = results;

  // Quality from the same run: the compiled student against the teacher, and its dense-masked twin
  // (the same plan through MaskMixtureAttention) whose perplexity it must equal.
  std::optional<StudentEvalResult> compiled, twin;
  if (!a.data.empty()) {
    const auto tok = loadTokenizer(teacherOpts);
    const auto corpus = loadCorpus(a.data, tok);
    const int64_t seqLen = std::min<int64_t>(run.config.seqLen, cfg.contextLength);
    const auto windows = WindowSampler(corpus, seqLen, run.config.seed).evalWindows(seqLen, a.windows);
    compiled = evaluateStudent(model, student, windows, run.config.batchSize);
    twin = evaluateStudent(model,
                           *fixedAlphaStudent(run.bank, options, plan.alphaTensorValues(), cfg.numLayers, cfg.numHeads,
                                              model->wte->weight.device()),
                           windows, run.config.batchSize);
    j["quality"] = {{"windows", windows.size()}, {"seq_len", seqLen}, {"kl_per_token", compiled->klPerToken},
                    {"teacher_perplexity", compiled->teacherPerplexity},
                    {"student_perplexity", compiled->studentPerplexity},
                    {"dense_masked_student_perplexity", twin->studentPerplexity},
                    {"top1_agreement", compiled->top1Agreement}};
  }
  if (!a.tracePath.empty()) {
    const int64_t n = std::min<int64_t>(a.seqLens.front(), cfg.contextLength);
    const auto ids = torch::randint(cfg.vocabSize, {1, n}, torch::TensorOptions(torch::kLong).device(model->wte->weight.device()));
    torch::NoGradGuard ng;
    writeOperatorTrace(a.tracePath, [&] {
      model->forward(ids);
      model->forward(ids, nullptr, &student);
    });
  }
  if (g.json) {
    printJson(j);
    return 0;
  }
  std::printf("run %s: %lld active masks (%s), %d threads\n", a.run->c_str(), static_cast<long long>(plan.activeCount()),
              j["plan_from"].get<std::string>().c_str(), torch::get_num_threads());
  std::printf("%-8s %6s %12s %12s %12s  %s\n", "model", "n", "forward ms", "tokens/s", "peak MiB", "note");
  for (const auto& r : rows)
    std::printf("%-8s %6lld %12.2f %12.1f %12.2f  %s\n", r.model.c_str(), static_cast<long long>(r.n), r.timeMs,
                r.tokensPerSecond, r.peakBytes / 1048576.0, r.note.c_str());
  if (compiled)
    std::printf("KL %.5f nats/token, perplexity teacher %.3f, compiled student %.3f (dense-masked twin %.3f), top-1 %.4f\n",
                compiled->klPerToken, compiled->teacherPerplexity, compiled->studentPerplexity, twin->studentPerplexity,
                compiled->top1Agreement);
  return 0;
}

}  // namespace attnx::cli
