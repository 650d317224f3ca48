// attnx-cli eval --run RUN --data PATH [--threshold t | --top-k k | --target-density r | --budget r | --plan FILE]
// [--finetune-steps N] [--student compiled|masked]: the student of a run against its teacher on held-out
// text, soft and pruned (the pruned plan through the compiled block-sparse kernel by default).
#include <cstdio>
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "core/data/window_sampler.h"
#include "core/eval/attention_plan.h"
#include "core/eval/run_student.h"
#include "core/eval/student_eval.h"
#include "core/train/distill_trainer.h"
#include "core/train/plan_finetuner.h"

namespace attnx::cli {
namespace {

nlohmann::json resultJson(const StudentEvalResult& r) {
  return {{"kl_per_token", r.klPerToken}, {"teacher_perplexity", r.teacherPerplexity},
          {"student_perplexity", r.studentPerplexity}, {"top1_agreement", r.top1Agreement}, {"tokens", r.tokens}};
}

}  // namespace

Runner addEvalCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("eval", "Evaluate a run's student against its teacher on held-out text");
  struct Args {
    StudentOptions s;
    std::string data, planFile;
    int64_t windows = 16, seqLen = 0;
    PlanFinetuneConfig finetune = [] {
      PlanFinetuneConfig c;
      c.steps = 0;  // off unless asked for
      return c;
    }();
  };
  auto a = std::make_shared<Args>();
  addStudentOptions(sub, a->s, /*runRequired=*/true, /*allowSoft=*/false, /*shortNames=*/true);
  auto* planOpt = sub->add_option("--plan", a->planFile, "Evaluate this plan file (made for the run's bank) as the pruned student");
  for (auto* o : a->s.prune.options()) planOpt->excludes(o);
  sub->add_option("--finetune-steps", a->finetune.steps,
                  "Fine-tune the pruned plan's weights this many steps on the run's training text (through the "
                  "compiled kernel) before evaluating; saved with the plan")
      ->capture_default_str()->check(NonNegative);
  sub->add_option("--finetune-lr", a->finetune.learningRate, "Learning rate of --finetune-steps")
      ->capture_default_str()->check(Positive);
  sub->add_option("--data", a->data, "Held-out text: a .txt file or a folder of them")->required();
  sub->add_option("--windows", a->windows, "Held-out windows to evaluate")->capture_default_str()->check(Positive);
  sub->add_option("--seq-len", a->seqLen, "Window length (default: the run's)")->check(CLI::Range(2, 1 << 20));
  sub->add_option("--teacher,--model", g.modelDir, "Teacher folder (default: the run's)");
  addJsonFlag(sub, g);

  return [&g, a] {
    const auto run = RunArtifacts::load(a->s.run);
    const auto& config = run.config;
    const auto teacherOpts = withRunTeacher(g, run);
    auto model = loadModel(teacherOpts);
    const auto& cfg = model->config();
    const auto& bank = run.bank;
    const int64_t L = cfg.numLayers, H = cfg.numHeads;
    const auto tok = loadTokenizer(teacherOpts);
    const int64_t seqLen = a->seqLen > 0 ? a->seqLen : config.seqLen;
    const auto corpus = loadCorpus(a->data, tok);
    const auto windows = WindowSampler(corpus, seqLen, config.seed).evalWindows(seqLen, a->windows);
    const auto options = mixtureOptionsOf(config);
    const auto device = model->wte->weight.device();
    const auto combine = run.combine();

    // The soft student (every mask, learned α; a gated run: its gate) and the pruned plan: the rule
    // given, else the run's plan.json, else threshold 0.05. A gated run's plans use its static α, the
    // mean gate (learned_bank.json), also evaluated as "static".
    const auto softStudent = makeRunStudent(run, cfg, RunStudentKind::Soft, std::nullopt, device);
    const auto soft = evaluateStudent(model, *softStudent.kernel, windows, config.batchSize);
    std::optional<StudentEvalResult> staticResult;
    if (config.gate)
      staticResult = evaluateStudent(model, *fixedAlphaStudent(bank, options, run.alpha, L, H, device), windows,
                                     config.batchSize);
    const auto rule = a->s.rule(seqLen);
    auto prunedStudent = !a->planFile.empty()
                             ? makePlanStudent(run, cfg, a->s.kind(), AttentionPlan::load(a->planFile), a->planFile, device)
                             : makeRunStudent(run, cfg, a->s.kind(), rule, device);
    std::optional<PlanFinetuneResult> tuned;
    if (a->finetune.steps > 0) {
      // The run's training text, windows drawn with another seed than the distillation's.
      const auto train = loadCorpus(config.dataPath, tok);
      const WindowSampler sampler(train, config.seqLen, config.seed + 1);
      const auto batchSize = config.batchSize;
      tuned = finetunePlan(model, prunedStudent.plan, bank, combine, options.normaliseBranches,
                           [&](int64_t step) { return sampler.batch(batchSize, step); }, a->finetune,
                           [](int64_t step, double kl) { std::fprintf(stderr, "fine-tune step %lld: KL %.5f\r", static_cast<long long>(step), kl); });
      std::fprintf(stderr, "\n");
      prunedStudent = makePlanStudent(run, cfg, a->s.kind(), tuned->plan, prunedStudent.planSource, device);
    }
    const auto pruned = evaluateStudent(model, *prunedStudent.kernel, windows, config.batchSize);
    const auto& softPlan = softStudent.plan;
    const auto& plan = prunedStudent.plan;
    const bool savePlan = rule || tuned;
    if (savePlan) plan.save(run.path(RunArtifacts::kPlanFile));

    const double denseFlops = AttentionPlan::denseAttentionFlops(L, H, cfg.headDim(), seqLen);
    nlohmann::json j = {{"run", a->s.run}, {"seq_len", seqLen}, {"windows", windows.size()}, {"soft", resultJson(soft)},
                        {"soft_density", softPlan.meanDensity(bank, seqLen)},
                        {"dense_attention_flops", denseFlops},
                        {"soft_attention_flops", softPlan.attentionFlops(bank, combine, cfg.headDim(), seqLen)},
                        {"gated", config.gate}};
    if (staticResult) {
      j["static"] = resultJson(*staticResult);
      j["alpha_source"] = run.alphaSource.empty() ? "mean gate" : run.alphaSource;
    }
    j["pruned"] = resultJson(pruned);
    j["student"] = a->s.student;
    j["model"] = prunedStudent.describe(bank, seqLen);
    j["plan_from"] = prunedStudent.planSource;
    j["rule"] = plan.rule.text();
    j["pruned_density"] = plan.meanDensity(bank, seqLen);
    j["pruned_attention_flops"] = plan.attentionFlops(bank, combine, cfg.headDim(), seqLen);
    j["active_masks"] = plan.activeCount();
    if (savePlan) j["plan"] = run.path(RunArtifacts::kPlanFile);
    if (tuned) j["finetune"] = {{"steps", a->finetune.steps}, {"first_kl", tuned->firstKl}, {"last_kl", tuned->lastKl},
                                {"seconds", tuned->seconds}};
    j["head_density"] = plan.headDensities(bank, seqLen);
    if (g.json) {
      printJson(j);
      return 0;
    }
    std::printf("run %s, %zu windows of %lld tokens\n", a->s.run.c_str(), windows.size(), static_cast<long long>(seqLen));
    std::printf("pruned: %s\n", j["model"].get<std::string>().c_str());
    std::printf("%-10s %12s %12s %12s %12s %10s %12s\n", "student", "KL/token", "ppl teacher", "ppl student",
                "top-1 agree", "density", "attn GFLOP");
    auto row = [&](const char* name, const StudentEvalResult& r, const AttentionPlan& p) {
      std::printf("%-10s %12.5f %12.3f %12.3f %12.4f %10.4f %12.4f\n", name, r.klPerToken, r.teacherPerplexity,
                  r.studentPerplexity, r.top1Agreement, p.meanDensity(bank, seqLen),
                  p.attentionFlops(bank, combine, cfg.headDim(), seqLen) / 1e9);
    };
    row(config.gate ? "gated" : "soft", soft, softPlan);
    if (staticResult) row("static", *staticResult, softPlan);
    row("pruned", pruned, plan);
    std::printf("dense attention: %.4f GFLOP per window%s\n", denseFlops / 1e9,
                savePlan ? (", plan saved to " + j["plan"].get<std::string>()).c_str() : "");
    return 0;
  };
}

}  // namespace attnx::cli
