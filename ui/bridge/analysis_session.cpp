// AnalysisSession: a distillation run's teacher and students behind a torch-free API.
#include "ui/bridge/analysis_session.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/bench/memory_probe.h"
#include "core/bench/tracking_allocator.h"
#include "core/eval/attention_plan.h"
#include "core/eval/generation.h"
#include "core/eval/head_profile.h"
#include "core/io/bpe_tokenizer.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"
#include "core/model/mask_mixture_attention.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/run_student.h"
#include "core/train/distill_config.h"
#include "core/train/distill_trainer.h"

namespace attnx::ui {
namespace fs = std::filesystem;

namespace {

// Smallest probability used inside log() for KL: a pruned student gives exactly 0 to pairs the
// teacher attends, and the KL of such a row would be infinite; with the floor it is large and finite.
constexpr double kProbabilityFloor = 1e-10;

}  // namespace

struct AnalysisSession::State {
  Gpt2 model{nullptr};
  DistillConfig config;
  MaskBank bank;
  std::vector<double> alpha;
  AttentionPlan soft, pruned;
  std::optional<BpeTokenizer> tokenizer;
  // soft: every learned alpha, dense-masked. pruned: the plan through the compiled block-sparse kernel,
  // as attnx-cli runs it (same numbers as its dense-masked twin; heatmaps from the same layouts).
  std::unique_ptr<AttentionKernel> softKernel, prunedKernel;
  RunSummary summary;
  std::mutex measureMutex;

  const AttentionKernel* kernel(StudentKind k) const {
    return k == StudentKind::Soft ? softKernel.get() : prunedKernel.get();
  }
};

AnalysisSession::AnalysisSession() : s_(std::make_unique<State>()) {}
AnalysisSession::~AnalysisSession() = default;

QString AnalysisSession::loadRun(const QString& runDirQ, const QString& teacherOverride) {
  auto st = std::make_unique<State>();
  try {
    const std::string runDir = runDirQ.toStdString();
    if (runDir.empty()) throw std::runtime_error("no run folder given (make one with attnx-cli distill)");
    // run.json, learned_bank.json and plan.json are read and checked as every other run reader does.
    auto run = RunArtifacts::load(runDir);
    const PlanCombine combine = run.combine();  // before run.config is moved from
    // The same pruned student as attnx-cli's (RunArtifacts::defaultPlan), before run's bank and alpha
    // are moved from.
    auto chosen = run.defaultPlan();
    st->config = std::move(run.config);
    st->bank = std::move(run.bank);
    st->alpha = std::move(run.alpha);
    const auto learnedPath = (fs::path(runDir) / "learned_bank.json").string();

    std::optional<std::string> teacher;
    if (!teacherOverride.isEmpty()) teacher = teacherOverride.toStdString();
    else if (!st->config.teacherDir.empty()) teacher = st->config.teacherDir;
    const auto teacherDir = resolveModelDir(teacher);
    st->model = loadGpt2(teacherDir);
    st->model->eval();
    st->tokenizer = BpeTokenizer::fromFolder(tokenizerDirFor(teacherDir));
    const auto& cfg = st->model->config();
    const int64_t L = cfg.numLayers, H = cfg.numHeads, K = static_cast<int64_t>(st->bank.masks.size());
    if (static_cast<int64_t>(st->alpha.size()) != L * H * K)
      throw std::runtime_error(learnedPath + ": alpha has " + std::to_string(st->alpha.size()) + " values, expected " +
                               std::to_string(L * H * K) + " for this teacher and bank (wrong --teacher?)");
    if (st->tokenizer->vocabSize() > cfg.vocabSize)
      throw std::runtime_error(teacherDir + ": the tokenizer has " + std::to_string(st->tokenizer->vocabSize()) +
                               " tokens but the model only " + std::to_string(cfg.vocabSize));

    st->soft = AttentionPlan::fromAlpha(st->alpha, L, H, st->bank, PruningRule::thresholdRule(0));
    const auto planPath = (fs::path(runDir) / "plan.json").string();
    QString prunedText;
    st->pruned = std::move(chosen.plan);
    if (st->pruned.numLayers != L || st->pruned.numHeads != H)
      throw std::runtime_error(planPath + ": the plan is for another model shape");
    prunedText = QString::fromStdString(chosen.source);
    const auto options = mixtureOptionsOf(st->config);
    st->softKernel = fixedAlphaStudent(st->bank, options, st->alpha, L, H);
    st->prunedKernel = std::make_unique<CompiledPlanAttention>(st->pruned, st->bank, combine,
                                                               options.normaliseBranches);

    auto& sum = st->summary;
    sum.runDir = runDirQ;
    sum.teacherDir = QString::fromStdString(teacherDir);
    sum.bankName = QString::fromStdString(st->bank.name);
    for (const auto& m : st->bank.masks) sum.maskNames << QString::fromStdString(m.name);
    sum.combine = QString::fromStdString(st->config.combine);
    sum.prunedDescription = prunedText;
    sum.layers = static_cast<int>(L);
    sum.heads = static_cast<int>(H);
    sum.headDim = static_cast<int>(cfg.headDim());
    sum.context = static_cast<int>(cfg.contextLength);
    sum.vocab = static_cast<int>(cfg.vocabSize);
    sum.trainedSeqLen = static_cast<int>(st->config.seqLen);
    sum.steps = run.step;
    for (const auto& p : st->model->parameters()) sum.teacherParameterBytes += p.numel() * p.element_size();
    sum.studentExtraBytes = static_cast<qint64>(st->alpha.size() * sizeof(float));
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  s_ = std::move(st);
  return {};
}

bool AnalysisSession::isLoaded() const { return !s_->model.is_empty(); }
RunSummary AnalysisSession::summary() const { return s_->summary; }

QString AnalysisSession::tokenLabel(int id) const {
  QString t = QString::fromUtf8(QByteArray::fromStdString(s_->tokenizer->tokenBytes(id)));
  t.replace(QLatin1Char('\n'), QStringLiteral("\u23CE"));
  t.replace(QLatin1Char('\t'), QStringLiteral("\u21E5"));
  return t;
}

QString AnalysisSession::decode(const std::vector<int>& ids) const {
  return QString::fromUtf8(QByteArray::fromStdString(s_->tokenizer->decode(ids)));
}

EncodedPrompt AnalysisSession::encode(const QString& prompt) const {
  if (!isLoaded()) throw std::logic_error("no run loaded");
  if (prompt.trimmed().isEmpty()) throw std::invalid_argument("The prompt is empty: type some text to analyse.");
  EncodedPrompt e;
  e.ids = s_->tokenizer->encode(prompt.toStdString());
  e.originalTokens = static_cast<int>(e.ids.size());
  const auto context = static_cast<size_t>(s_->model->config().contextLength);
  if (e.ids.size() > context) e.ids.resize(context);
  for (int id : e.ids) e.tokenLabels << tokenLabel(id);
  return e;
}

std::shared_ptr<const AttentionMapSet> AnalysisSession::attentionMaps(const QString& prompt, StudentKind student,
                                                                      const std::atomic<bool>* cancelled) const {
  auto set = std::make_shared<AttentionMapSet>();
  set->prompt = encode(prompt);
  set->student = student;
  const auto& cfg = s_->model->config();
  set->layers = static_cast<int>(cfg.numLayers);
  set->heads = static_cast<int>(cfg.numHeads);
  set->n = static_cast<int>(set->prompt.ids.size());
  auto stop = [cancelled] { return cancelled && cancelled->load(); };

  torch::NoGradGuard noGrad;
  std::vector<int64_t> ids64(set->prompt.ids.begin(), set->prompt.ids.end());
  const auto ids = torch::tensor(ids64, torch::kInt64).unsqueeze(0);  // (1, n)
  const auto teacher = s_->model->attentionMaps(ids);                  // L x (1, H, n, n)
  if (stop()) return nullptr;
  const auto studentMaps = s_->model->attentionMaps(ids, s_->kernel(student));
  if (stop()) return nullptr;

  // What each teacher head does on this prompt, when it is long enough to say (the profile skips the
  // first rows, which see too few keys).
  HeadProfileOptions roleOptions;
  roleOptions.localWidth = AttentionMapSet::kRoleLocalWidth;
  if (set->n > roleOptions.firstQuery) {
    std::vector<uint8_t> isDelimiter;
    for (int id : set->prompt.ids) isDelimiter.push_back(isDelimiterText(s_->tokenizer->tokenBytes(id)) ? 1 : 0);
    set->delimiterShare = std::accumulate(isDelimiter.begin(), isDelimiter.end(), 0.0) / set->n;
    const auto keys = torch::tensor(std::vector<int64_t>(isDelimiter.begin(), isDelimiter.end())).to(torch::kBool).unsqueeze(0);
    for (const auto& p : profileHeads(teacher, roleOptions, keys))
      set->teacherRoles.push_back({QString::fromStdString(p.kind), p.previousToken, p.sink, p.self, p.delimiter, p.local});
  }

  const size_t perLayer = static_cast<size_t>(set->heads) * set->n * set->n;
  set->teacher.resize(perLayer * set->layers);
  set->studentMaps.resize(perLayer * set->layers);
  set->headKl.resize(static_cast<size_t>(set->layers) * set->heads);
  for (int l = 0; l < set->layers; ++l) {
    const auto t = teacher[l].squeeze(0).to(torch::kFloat32).contiguous();      // (H, n, n)
    const auto s = studentMaps[l].squeeze(0).to(torch::kFloat32).contiguous();  // (H, n, n)
    std::memcpy(set->teacher.data() + perLayer * l, t.data_ptr<float>(), perLayer * sizeof(float));
    std::memcpy(set->studentMaps.data() + perLayer * l, s.data_ptr<float>(), perLayer * sizeof(float));
    const auto t64 = t.to(torch::kFloat64), s64 = s.to(torch::kFloat64);
    // sum_j p_T log(p_T / p_S) per query row; terms with p_T = 0 contribute 0.
    const auto terms = torch::where(t64 > 0, t64 * (t64.clamp_min(kProbabilityFloor).log() - s64.clamp_min(kProbabilityFloor).log()),
                                    torch::zeros_like(t64));
    const auto kl = terms.sum(-1).mean(-1);  // (H)
    for (int h = 0; h < set->heads; ++h) set->headKl[static_cast<size_t>(l) * set->heads + h] = kl[h].item<double>();
  }
  return set;
}

std::vector<int> AnalysisSession::generate(const std::vector<int>& prompt, const StudentKind* student,
                                           const SamplingSettings& s, const std::function<bool(int)>& onToken) const {
  SamplingOptions o;
  o.greedy = s.greedy;
  o.temperature = s.temperature;
  o.topK = s.topK;
  o.topP = s.topP;
  o.repetitionPenalty = s.repetitionPenalty;
  o.seed = s.seed;
  o.stopOnEos = true;
  // Never run past the context: the prompt plus every new token must fit.
  const int room = static_cast<int>(s_->model->config().contextLength) - static_cast<int>(prompt.size());
  o.maxNewTokens = std::max(0, std::min(s.maxNewTokens, room));
  if (o.maxNewTokens == 0) return {};
  o.validate();
  std::vector<int64_t> p(prompt.begin(), prompt.end());
  const auto r = attnx::generate(s_->model, p, o, student ? s_->kernel(*student) : nullptr,
                                 [&](int64_t t) { return onToken ? onToken(static_cast<int>(t)) : true; });
  return std::vector<int>(r.tokens.begin(), r.tokens.end());
}

std::vector<TokenComparison> AnalysisSession::compare(const std::vector<int>& prompt, const std::vector<int>& completion,
                                                      StudentKind student) const {
  std::vector<TokenComparison> out;
  if (completion.empty() || prompt.empty()) return out;
  torch::NoGradGuard noGrad;
  std::vector<int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), completion.begin(), completion.end() - 1);  // the last token predicts nothing shown
  const auto ids = torch::tensor(all, torch::kInt64).unsqueeze(0);   // (1, T)
  const int64_t first = static_cast<int64_t>(prompt.size()) - 1;      // position predicting completion[0]
  const auto count = static_cast<int64_t>(completion.size());
  const auto lt = torch::log_softmax(s_->model->forward(ids).to(torch::kFloat64), -1).squeeze(0).slice(0, first, first + count);
  const auto ls = torch::log_softmax(s_->model->forward(ids, nullptr, s_->kernel(student)).to(torch::kFloat64), -1)
                      .squeeze(0).slice(0, first, first + count);  // (count, V)
  const auto kl = (lt.exp() * (lt - ls)).sum(-1);                  // (count)
  const auto topT = lt.topk(5, -1), topS = ls.topk(5, -1);
  auto candidates = [this](const std::tuple<torch::Tensor, torch::Tensor>& top, int64_t row) {
    std::vector<TopCandidate> c;
    const auto values = std::get<0>(top)[row], indices = std::get<1>(top)[row];
    for (int k = 0; k < 5; ++k)
      c.push_back({tokenLabel(static_cast<int>(indices[k].item<int64_t>())), std::exp(values[k].item<double>())});
    return c;
  };
  for (int64_t t = 0; t < count; ++t) out.push_back({kl[t].item<double>(), candidates(topT, t), candidates(topS, t)});
  return out;
}

ForwardMemory AnalysisSession::measureForward(const StudentKind* student, int n) const {
  std::lock_guard<std::mutex> lock(s_->measureMutex);
  ForwardMemory m;
  m.n = std::max(1, std::min(n, static_cast<int>(s_->model->config().contextLength)));
  torch::NoGradGuard noGrad;
  // Token ids cycling through the vocabulary: memory does not depend on which tokens they are.
  const auto ids = torch::arange(m.n, torch::kInt64).remainder(s_->model->config().vocabSize).unsqueeze(0);
  resetPeakResident();
  m.rssBeforeBytes = residentMemory().currentBytes;
  {
    // A tensor another thread allocates meanwhile would count too; the views' workers take turns
    // (measureMutex), so in practice the peak is this forward's.
    TrackingAllocatorScope tracking;
    resetTrackedPeak();
    const int64_t before = trackedTensorMemory().currentBytes;
    const auto start = std::chrono::steady_clock::now();
    auto logits = s_->model->forward(ids, nullptr, student ? s_->kernel(*student) : nullptr);
    m.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    m.tensorPeakBytes = trackedTensorMemory().peakBytes - before;
    logits.reset();
  }
  m.rssPeakBytes = residentMemory().peakBytes;
  return m;
}

AnalysisSession::AnalyticCost AnalysisSession::analyticCost(int n) const {
  AnalyticCost c;
  const auto& cfg = s_->model->config();
  const auto combine = s_->config.combine == "branch-mixture" ? PlanCombine::BranchMixture : PlanCombine::SoftMask;
  c.denseFlops = AttentionPlan::denseAttentionFlops(cfg.numLayers, cfg.numHeads, cfg.headDim(), n);
  c.denseBytes = AttentionPlan::denseAttentionBytes(cfg.numLayers, cfg.numHeads, n);
  c.softFlops = s_->soft.attentionFlops(s_->bank, combine, cfg.headDim(), n);
  c.softBytes = s_->soft.attentionBytes(s_->bank, combine, n);
  c.prunedFlops = s_->pruned.attentionFlops(s_->bank, combine, cfg.headDim(), n);
  c.prunedBytes = s_->pruned.attentionBytes(s_->bank, combine, n);
  c.softDensity = s_->soft.meanDensity(s_->bank, n);
  c.prunedDensity = s_->pruned.meanDensity(s_->bank, n);
  return c;
}

}  // namespace attnx::ui
