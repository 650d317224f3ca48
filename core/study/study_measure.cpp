// A study's measurements; see study_measure.h.
#include "core/study/study_measure.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "core/bench/attention_bench.h"
#include "core/bench/model_bench.h"
#include "core/bench/tracking_allocator.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/generation.h"
#include "core/eval/run_artifacts.h"

namespace attnx {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string decodeIds(const BpeTokenizer& tokenizer, const std::vector<int64_t>& ids) {
  return tokenizer.decode(std::vector<int>(ids.begin(), ids.end()));
}

double rounded(double v, int digits = 5) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::abs(v)))));
  return std::round(v * scale) / scale;
}

// Median time (ms) of one forward and the most tensor bytes it held.
std::pair<double, int64_t> timeForward(Gpt2& model, const AttentionKernel* kernel, const torch::Tensor& ids, int repeats) {
  torch::NoGradGuard noGrad;
  TrackingAllocatorScope tracking;
  const auto t = timeCall([&] { model->forward(ids, nullptr, kernel); }, 1, repeats);
  return {t.medianMs, t.peakBytes};
}

// A plan the study saved, with what it needs to run.
struct SavedPlan {
  MaskBank bank;
  AttentionPlan plan;
  PlanCombine combine = PlanCombine::SoftMask;
  bool normalise = false;
};

SavedPlan loadSaved(const StudyResults& results, const json& entry) {
  SavedPlan s;
  const auto planPath = results.absolute(entry.at("plan").get<std::string>());
  s.plan = AttentionPlan::load(planPath);
  if (entry.contains("run")) {
    const auto run = RunArtifacts::load(results.absolute(entry["run"].get<std::string>()));
    s.bank = run.bank;
    s.combine = run.combine();
    s.normalise = run.config.normaliseBranches;
  } else {
    // Baselines keep their bank beside the plan: NAME.json and NAME.bank.json.
    s.bank = MaskBank::load(planPath.substr(0, planPath.size() - 5) + ".bank.json");
  }
  return s;
}

// Copies of the entries at length n of one learned config and seed in one variant, by target (copies:
// StudyResults::set may reallocate the document under pointers into it).
std::vector<json> learnedSeries(const json& doc, const std::string& family, uint64_t seed, const std::string& variant,
                                int64_t n) {
  std::vector<json> out;
  for (const auto& e : doc["plans"])
    if (e.value("kind", "") == "learned" && e.value("family", "") == family && e.value("seed", uint64_t{0}) == seed &&
        e.value("variant", "") == variant && e.value("n", int64_t{0}) == n)
      out.push_back(e);
  return out;
}

// The entry whose `key` is nearest `value` (series not empty).
const json& nearest(const std::vector<json>& series, const char* key, double value) {
  size_t best = 0;
  for (size_t i = 1; i < series.size(); ++i)
    if (std::abs(series[i][key].get<double>() - value) < std::abs(series[best][key].get<double>() - value)) best = i;
  return series[best];
}

std::vector<std::vector<double>> matrix(const torch::Tensor& m) {
  const auto c = m.to(torch::kFloat64).contiguous();
  std::vector<std::vector<double>> out(static_cast<size_t>(c.size(0)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) out[i].push_back(rounded(c[i][j].item<double>(), 3));
  return out;
}

}  // namespace

StudyMeasure::StudyMeasure(Gpt2 model, const TokenCorpus& test, int64_t windows, const std::atomic<bool>* stop)
    : model_(std::move(model)), test_(test), windows_(windows), stop_(stop) {}

const TeacherReference& StudyMeasure::reference(int64_t n) {
  auto& slot = references_[n];
  if (!slot) {
    std::vector<std::vector<int64_t>> windows;
    for (int64_t w = 0; w < windows_ && (w + 1) * n <= test_.size(); ++w)
      windows.emplace_back(test_.ids().begin() + w * n, test_.ids().begin() + (w + 1) * n);
    if (windows.empty()) throw StudyError("the test text is shorter than one window of " + std::to_string(n) + " tokens");
    slot = std::make_unique<TeacherReference>(model_, std::move(windows), 4);
    const auto ids = torch::tensor(std::vector<int64_t>(test_.ids().begin(), test_.ids().begin() + n)).view({1, n});
    teacherTiming_[n] = timeForward(model_, nullptr, ids, 3);
  }
  return *slot;
}

void StudyMeasure::plan(json& e, const AttentionKernel& student, const AttentionPlan& plan, const MaskBank& bank,
                        PlanCombine combine, int64_t n) {
  const auto& ref = reference(n);
  const auto r = ref.evaluate(student);
  const auto& cfg = model_->config();
  const auto ids = torch::tensor(std::vector<int64_t>(test_.ids().begin(), test_.ids().begin() + n)).view({1, n});
  const auto [ms, peak] = timeForward(model_, &student, ids, 3);
  e["n"] = n;
  e["windows"] = ref.windows();
  e["density"] = plan.meanDensity(bank, n);
  e["kl_per_token"] = r.klPerToken;
  e["student_perplexity"] = r.studentPerplexity;
  e["teacher_perplexity"] = r.teacherPerplexity;
  e["top1_agreement"] = r.top1Agreement;
  e["attention_flops"] = plan.attentionFlops(bank, combine, cfg.headDim(), n);
  e["dense_attention_flops"] = AttentionPlan::denseAttentionFlops(cfg.numLayers, cfg.numHeads, cfg.headDim(), n);
  e["model_ms"] = rounded(ms, 4);
  e["peak_bytes"] = peak;
  e["teacher_model_ms"] = rounded(teacherTiming_[n].first, 4);
  e["teacher_peak_bytes"] = teacherTiming_[n].second;
  json heads = json::array();
  for (double d : plan.headDensities(bank, n)) heads.push_back(rounded(d, 4));
  e["head_density"] = heads;
  e["active_masks"] = plan.activeCount();
  if (plan.finetuneSteps > 0) e["finetune_steps"] = plan.finetuneSteps;
}

void StudyMeasure::extras(StudyResults& results, const StudyConfig& config, const std::vector<int64_t>& lengths,
                          const BpeTokenizer& tokenizer) {
  const auto& doc = results.doc();
  const auto& cfg = model_->config();
  const int64_t nRef = lengths.front();
  const bool tuned = config.finetuneSteps > 0;
  const std::string variant = tuned ? "budget+finetune" : "budget";
  std::vector<json> learned, windows;
  if (!config.learned.empty())
    learned = learnedSeries(doc, config.learned.front().name, config.learned.front().seeds.front(), variant, nRef);
  for (const auto& e : doc["plans"])
    if (e.value("family", "") == "window-sinks" && e.value("n", int64_t{0}) == nRef) windows.push_back(e);

  // Attention alone: all L x H heads as one layer, so a row is the attention of the whole model.
  {
    AttentionBenchOptions o;
    o.heads = cfg.numLayers * cfg.numHeads;
    o.headDim = cfg.headDim();
    o.seqLens = config.timingLengths;
    o.repeats = config.timingRepeats;
    std::vector<AttentionBenchPlan> plans;
    for (const auto* list : {&learned, &windows})
      for (const auto& e : *list) {
        const auto s = loadSaved(results, e);
        const std::string name = e.value("kind", "") == "learned" ? "learned " + e["target"].dump()
                                                                   : e["variant"].get<std::string>();
        plans.push_back(flattenPlan(name, s.bank, s.plan, s.combine, o.heads));
      }
    json rows = json::array();
    for (const auto& r : benchAttention(o, plans)) {
      if (stop_ && stop_->load()) throw std::runtime_error("cancelled");
      rows.push_back({{"plan", r.plan}, {"n", r.n}, {"time_ms", rounded(r.timeMs, 4)}, {"peak_bytes", r.peakBytes},
                      {"flops", r.flops}, {"density", rounded(r.density, 4)}, {"skipped", r.skipped}, {"note", r.note}});
    }
    results.set("attention_timing", rows);
  }
  if (learned.empty()) return;

  // Heatmaps: the learned plan nearest density 0.25, its three heads that differ most from the teacher.
  const json focus = nearest(learned, "target", 0.25);
  const auto saved = loadSaved(results, focus);
  const CompiledPlanAttention student(saved.plan, saved.bank, saved.combine, saved.normalise);
  {
    // 64 tokens of running text (past a book's title page when the text is long enough).
    const int64_t T = std::min<int64_t>(64, test_.size()), at = std::clamp<int64_t>(test_.size() - T, 0, 1000);
    std::vector<int64_t> prompt(test_.ids().begin() + at, test_.ids().begin() + at + T);
    torch::NoGradGuard g;
    const auto ids = torch::tensor(prompt).view({1, T});
    const auto teacherMaps = model_->attentionMaps(ids);
    const auto studentMaps = model_->attentionMaps(ids, &student);
    std::vector<std::tuple<double, int64_t, int64_t>> kl;
    for (int64_t l = 0; l < cfg.numLayers; ++l)
      for (int64_t h = 0; h < cfg.numHeads; ++h) {
        const auto pT = teacherMaps[l][0][h].to(torch::kFloat64), pS = studentMaps[l][0][h].to(torch::kFloat64);
        const double v = (pT * (pT.clamp_min(1e-30).log() - pS.clamp_min(1e-10).log())).sum(-1).mean().item<double>();
        kl.emplace_back(v, l, h);
      }
    std::sort(kl.begin(), kl.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    json tokens = json::array();
    for (auto id : prompt) tokens.push_back(tokenizer.decode({static_cast<int>(id)}));
    json heads = json::array();
    for (size_t i = 0; i < std::min<size_t>(3, kl.size()); ++i) {
      const auto [v, l, h] = kl[i];
      json masks = json::array();
      for (const auto& a : saved.plan.active(l, h)) masks.push_back(saved.plan.maskNames[static_cast<size_t>(a.maskIndex)]);
      heads.push_back({{"layer", l}, {"head", h}, {"attention_kl", rounded(v, 4)}, {"masks", masks},
                       {"teacher", matrix(teacherMaps[l][0][h])}, {"student", matrix(studentMaps[l][0][h])}});
    }
    results.set("heatmaps", {{"plan", focus["id"]}, {"density", focus["density"]}, {"tokens", tokens}, {"heads", heads}});
  }

  // Completions: one prompt, one seed, the same sampling for the teacher and each plan.
  {
    const int64_t P = std::min<int64_t>(24, test_.size()), at = std::clamp<int64_t>(test_.size() - P, 0, 2000);
    std::vector<int64_t> prompt(test_.ids().begin() + at, test_.ids().begin() + at + P);
    SamplingOptions s;
    s.greedy = false;
    s.temperature = 0.8;
    s.topK = 40;
    s.seed = 1;
    s.maxNewTokens = 40;
    json rows = json::array();
    auto complete = [&](const std::string& name, const AttentionKernel* kernel, const json& density) {
      const auto r = generate(model_, prompt, s, kernel);
      rows.push_back({{"model", name}, {"density", density}, {"text", decodeIds(tokenizer, r.tokens)}});
    };
    complete("teacher (GPT-2, dense)", nullptr, 1.0);
    std::vector<json> shown{focus};
    if (const auto& low = nearest(learned, "target", 0.0); low["id"] != focus["id"]) shown.push_back(low);
    // The window baseline of the density nearest the focus plan's.
    if (!windows.empty()) shown.push_back(nearest(windows, "density", focus["density"].get<double>()));
    for (const auto& e : shown) {
      const auto p = loadSaved(results, e);
      const CompiledPlanAttention k(p.plan, p.bank, p.combine, p.normalise);
      complete(e["kind"] == "learned" ? "learned, " + e["variant"].get<std::string>() + ", target " + e["target"].dump()
                                      : "baseline, " + e["variant"].get<std::string>(),
               &k, e["density"]);
    }
    results.set("completions", {{"prompt", decodeIds(tokenizer, prompt)}, {"sampling", "temperature 0.8, top-k 40, seed 1"},
                                {"new_tokens", s.maxNewTokens}, {"rows", rows}});
  }
}

}  // namespace attnx
