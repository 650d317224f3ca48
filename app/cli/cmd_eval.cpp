// attnx-cli eval --run RUN --data PATH [--threshold t | --top-k k | --target-density r]:
// the student of a run against its teacher on held-out text, soft and pruned.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <torch/torch.h>

#include "app/cli/commands.h"
#include "core/data/window_sampler.h"
#include "core/eval/attention_plan.h"
#include "core/eval/student_eval.h"
#include "core/io/safetensors.h"
#include "core/train/distill_trainer.h"

namespace attnx::cli {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (is --run a run folder made by attnx-cli distill?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A kernel whose α are fixed values (L·H·K, row-major): ClampedRaw coefficients with θ = α.
MaskMixtureAttention fixedStudent(const MaskBank& bank, MixtureOptions options, const std::vector<double>& alpha,
                                  int64_t L, int64_t H, const torch::Device& device) {
  options.param = MixtureOptions::Parametrisation::ClampedRaw;
  options.granularity = MixtureOptions::Granularity::PerLayerHead;
  options.initialCoefficient = 0;
  const auto K = static_cast<int64_t>(bank.masks.size());
  MaskMixtureCoefficients c(L, H, K, options);
  {
    torch::NoGradGuard g;
    c->theta.copy_(torch::tensor(alpha, torch::kFloat64).view({L, H, K}));
  }
  c->to(device);
  return MaskMixtureAttention(bank, options, c, L, H);
}

// The gating network of a gated run, read from its student checkpoint.
MaskMixtureGate loadGate(const std::string& runDir, int64_t L, int64_t H, int64_t K, int64_t headDim,
                         const torch::Device& device) {
  const auto path = (std::filesystem::path(runDir) / "student.safetensors").string();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": missing (a gated run keeps its gate there)");
  const auto file = SafetensorsFile::open(path);
  MaskMixtureGate gate(L, H, K, headDim, 0.5);
  {
    torch::NoGradGuard g;
    gate->weight.copy_(readCheckpointTensor(file, "gate.weight", gate->weight));
    gate->bias.copy_(readCheckpointTensor(file, "gate.bias", gate->bias));
  }
  gate->to(device);
  return gate;
}

nlohmann::json resultJson(const StudentEvalResult& r) {
  return {{"kl_per_token", r.klPerToken}, {"teacher_perplexity", r.teacherPerplexity},
          {"student_perplexity", r.studentPerplexity}, {"top1_agreement", r.top1Agreement}, {"tokens", r.tokens}};
}

}  // namespace

Runner addEvalCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("eval", "Evaluate a run's student against its teacher on held-out text");
  struct Args { std::string run, data; double threshold = -1; int64_t topK = 0; double density = -1; int64_t windows = 16; int64_t seqLen = 0; };
  auto a = std::make_shared<Args>();
  sub->add_option("--run", a->run, "Run folder made by attnx-cli distill")->required();
  sub->add_option("--data", a->data, "Held-out text: a .txt file or a folder of them")->required();
  auto* th = sub->add_option("--threshold", a->threshold, "Prune: keep masks with α ≥ t")->check(CLI::NonNegativeNumber);
  auto* tk = sub->add_option("--top-k", a->topK, "Prune: keep the k largest α per head")->check(CLI::PositiveNumber);
  auto* td = sub->add_option("--target-density", a->density, "Prune: drop the smallest α until the mean density ≤ r")
                 ->check(CLI::Range(0.0, 1.0));
  th->excludes(tk)->excludes(td);
  tk->excludes(td);
  sub->add_option("--windows", a->windows, "Held-out windows to evaluate")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--seq-len", a->seqLen, "Window length (default: the run's)")->check(CLI::Range(2, 1 << 20));
  sub->add_option("--teacher,--model", g.modelDir, "Teacher folder (default: the run's)");
  addJsonFlag(sub, g);

  return [&g, a, th, tk, td] {
    namespace fs = std::filesystem;
    const auto runJson = (fs::path(a->run) / "run.json").string();
    const auto config = DistillConfig::fromJsonText(readFile(runJson), runJson);
    const auto learnedPath = (fs::path(a->run) / "learned_bank.json").string();
    nlohmann::json learned;
    try {
      learned = nlohmann::json::parse(readFile(learnedPath));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(learnedPath + ": not valid JSON (" + e.what() + ")");
    }
    if (learned.value("format", "") != "attnx-learned-bank")
      throw std::runtime_error(learnedPath + ": not an attnx learned bank");
    const auto bank = MaskBank::fromJson(learned.at("bank"), learnedPath);
    std::vector<double> alpha;
    for (const auto& layer : learned.at("alpha"))
      for (const auto& head : layer)
        for (const auto& v : head) alpha.push_back(v.get<double>());

    GlobalOptions teacherOpts = g;
    if (!teacherOpts.modelDir) teacherOpts.modelDir = config.teacherDir;
    auto model = loadModel(teacherOpts);
    const auto& cfg = model->config();
    const int64_t L = cfg.numLayers, H = cfg.numHeads, K = static_cast<int64_t>(bank.masks.size());
    if (static_cast<int64_t>(alpha.size()) != L * H * K)
      throw std::runtime_error(learnedPath + ": α has " + std::to_string(alpha.size()) + " values, expected " +
                               std::to_string(L * H * K) + " for this teacher and bank");
    const auto tok = loadTokenizer(teacherOpts);
    const int64_t seqLen = a->seqLen > 0 ? a->seqLen : config.seqLen;
    const auto corpus = loadCorpus(a->data, tok);
    const auto windows = WindowSampler(corpus, seqLen, config.seed).evalWindows(seqLen, a->windows);
    const auto options = mixtureOptionsOf(config);
    const auto device = model->wte->weight.device();
    const auto combine = options.combine == MixtureOptions::Combine::SoftMask ? PlanCombine::SoftMask : PlanCombine::BranchMixture;

    // The soft student (every mask, learned α; a gated run: its gate) and, with a rule, the pruned plan.
    // A gated run's plans use its static α, the mean gate (learned_bank.json), also evaluated as "static".
    std::optional<StudentEvalResult> staticResult;
    StudentEvalResult soft;
    if (config.gate) {
      const MaskMixtureAttention gated(bank, options, loadGate(a->run, L, H, K, cfg.headDim(), device), L, H);
      soft = evaluateStudent(model, gated, windows, config.batchSize);
      staticResult = evaluateStudent(model, fixedStudent(bank, options, alpha, L, H, device), windows, config.batchSize);
    } else {
      soft = evaluateStudent(model, fixedStudent(bank, options, alpha, L, H, device), windows, config.batchSize);
    }
    const auto softPlan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(0));
    std::optional<AttentionPlan> plan;
    if (th->count()) plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(a->threshold));
    if (tk->count()) plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::topKRule(a->topK));
    if (td->count()) plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::targetDensityRule(a->density, seqLen));
    std::optional<StudentEvalResult> pruned;
    if (plan) {
      pruned = evaluateStudent(model, fixedStudent(bank, options, plan->alphaTensorValues(), L, H, device), windows,
                               config.batchSize);
      plan->save((fs::path(a->run) / "plan.json").string());
    }

    const double denseFlops = AttentionPlan::denseAttentionFlops(L, H, cfg.headDim(), seqLen);
    const AttentionPlan& shown = plan ? *plan : softPlan;
    nlohmann::json j = {{"run", a->run}, {"seq_len", seqLen}, {"windows", windows.size()}, {"soft", resultJson(soft)},
                        {"soft_density", softPlan.meanDensity(bank, seqLen)},
                        {"dense_attention_flops", denseFlops},
                        {"soft_attention_flops", softPlan.attentionFlops(bank, combine, cfg.headDim(), seqLen)},
                        {"gated", config.gate}};
    if (staticResult) {
      j["static"] = resultJson(*staticResult);
      j["alpha_source"] = learned.value("alpha_source", "mean gate");
    }
    if (plan) {
      j["pruned"] = resultJson(*pruned);
      j["rule"] = plan->rule.text();
      j["pruned_density"] = plan->meanDensity(bank, seqLen);
      j["pruned_attention_flops"] = plan->attentionFlops(bank, combine, cfg.headDim(), seqLen);
      j["active_masks"] = plan->activeCount();
      j["plan"] = (fs::path(a->run) / "plan.json").string();
    }
    j["head_density"] = shown.headDensities(bank, seqLen);
    if (g.json) {
      printJson(j);
      return 0;
    }
    std::printf("run %s, %zu windows of %lld tokens\n", a->run.c_str(), windows.size(), static_cast<long long>(seqLen));
    std::printf("%-10s %12s %12s %12s %12s %10s %12s\n", "student", "KL/token", "ppl teacher", "ppl student",
                "top-1 agree", "density", "attn GFLOP");
    auto row = [&](const char* name, const StudentEvalResult& r, const AttentionPlan& p) {
      std::printf("%-10s %12.5f %12.3f %12.3f %12.4f %10.4f %12.4f\n", name, r.klPerToken, r.teacherPerplexity,
                  r.studentPerplexity, r.top1Agreement, p.meanDensity(bank, seqLen),
                  p.attentionFlops(bank, combine, cfg.headDim(), seqLen) / 1e9);
    };
    row(config.gate ? "gated" : "soft", soft, softPlan);
    if (staticResult) row("static", *staticResult, softPlan);
    if (plan) row("pruned", *pruned, *plan);
    std::printf("dense attention: %.4f GFLOP per window%s\n", denseFlops / 1e9,
                plan ? (", plan saved to " + j["plan"].get<std::string>()).c_str() : "");
    return 0;
  };
}

}  // namespace attnx::cli
