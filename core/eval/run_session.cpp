// RunSession: a run's teacher and students, opened once, answering every reader the same way.
#include "core/eval/run_session.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include <torch/torch.h>

#include "core/bench/memory_probe.h"
#include "core/bench/tracking_allocator.h"
#include "core/eval/generation.h"
#include "core/eval/head_profile.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/run_student.h"
#include "core/eval/teacher.h"

namespace attnx {

SessionStudent sessionStudentFromName(const std::string& name) {
  if (name == "soft") return SessionStudent::Soft;
  if (name == "pruned") return SessionStudent::Pruned;
  throw std::invalid_argument("unknown student \"" + name + "\" (known: soft, pruned)");
}

struct RunSession::State {
  std::shared_ptr<Teacher> teacher;
  RunArtifacts run;
  RunStudent soft, pruned;
  RunSessionInfo info;
  std::mutex measureMutex;

  const AttentionKernel* kernel(SessionStudent s) const {
    return (s == SessionStudent::Soft ? soft : pruned).kernel.get();
  }
  const AttentionKernel* kernelOrTeacher(const SessionStudent* s) const { return s ? kernel(*s) : nullptr; }
  Gpt2& model() const { return teacher->model; }

  // Refuses what the model cannot run: an empty or over-long sequence, an id outside the vocabulary.
  void checkIds(const std::vector<int>& ids, const char* what) const {
    const auto& cfg = model()->config();
    if (ids.empty()) throw std::invalid_argument(std::string(what) + " is empty");
    if (static_cast<int64_t>(ids.size()) > cfg.contextLength)
      throw std::invalid_argument(std::string(what) + " has " + std::to_string(ids.size()) + " tokens; the model's context is " +
                                  std::to_string(cfg.contextLength));
    for (int id : ids)
      if (id < 0 || id >= cfg.vocabSize)
        throw std::invalid_argument(std::string(what) + ": token id " + std::to_string(id) + " is outside the vocabulary (" +
                                    std::to_string(cfg.vocabSize) + " tokens)");
  }
};

RunSession::RunSession(std::unique_ptr<State> s) : s_(std::move(s)) {}
RunSession::~RunSession() = default;

std::shared_ptr<RunSession> RunSession::open(const std::string& runDir, const std::string& teacherDir,
                                             std::shared_ptr<Teacher> loaded, const std::optional<PruningRule>& rule) {
  if (runDir.empty()) throw std::runtime_error("no run folder given (make one with attnx-cli distill)");
  auto st = std::make_unique<State>();
  st->run = RunArtifacts::load(runDir);
  std::optional<std::string> wanted;
  std::string teacherNote;
  if (!teacherDir.empty()) {
    wanted = teacherDir;
  } else if (!st->run.config.teacherDir.empty()) {
    // A run made on another machine (a committed study, a cluster's run folder) names a teacher folder
    // that is not here: use the default model instead, and say so; makeRunStudent still refuses a
    // teacher of another shape, and --teacher / the model panel names the right one.
    std::error_code ec;
    if (std::filesystem::exists(st->run.config.teacherDir, ec)) wanted = st->run.config.teacherDir;
    else teacherNote = "the run's teacher " + st->run.config.teacherDir + " is not on this machine: using the default model";
  }
  st->teacher = Teacher::reuseOrLoad(loaded, wanted);
  if (!teacherNote.empty()) teacherNote += " (" + st->teacher->dir + ")";
  // Prompts are text: a session needs a tokenizer whose every token the model knows.
  const auto& tokenizer = st->teacher->requireTokenizer();
  if (tokenizer.vocabSize() > st->teacher->model->config().vocabSize)
    throw std::runtime_error(st->teacher->dir + ": the tokenizer has " + std::to_string(tokenizer.vocabSize()) +
                             " tokens but the model only " + std::to_string(st->teacher->model->config().vocabSize));
  const auto& cfg = st->teacher->model->config();
  // The run's shape is checked against the model by makeRunStudent (naming the run and --teacher).
  try {
    st->soft = makeRunStudent(st->run, cfg, RunStudentKind::Soft);
  } catch (const std::exception& e) {
    // Most likely the stand-in teacher does not fit: name the missing one first.
    if (!teacherNote.empty()) throw std::runtime_error(teacherNote + "; " + e.what());
    throw;
  }
  // Density rules measure at the run's training length, as every command's --prune-* options do.
  std::optional<PruningRule> pruneRule;
  if (rule) pruneRule = rule->atLength(std::max<int64_t>(1, st->run.config.seqLen));
  st->pruned = makeRunStudent(st->run, cfg, RunStudentKind::Compiled, pruneRule);

  auto& i = st->info;
  i.runDir = runDir;
  i.teacherDir = st->teacher->dir;
  i.teacherNote = teacherNote;
  i.bankName = st->run.bank.name;
  for (const auto& m : st->run.bank.masks) i.maskNames.push_back(m.name);
  i.combine = st->run.config.combine;
  i.prunedSource = st->pruned.planSource;
  i.prunedRule = pruneRule;
  i.prunedDensity = st->pruned.plan.meanDensity(st->run.bank, std::max<int64_t>(1, st->run.config.seqLen));
  i.gated = st->soft.gated;
  i.layers = cfg.numLayers;
  i.heads = cfg.numHeads;
  i.headDim = cfg.headDim();
  i.context = cfg.contextLength;
  i.vocab = cfg.vocabSize;
  i.trainedSeqLen = st->run.config.seqLen;
  i.steps = st->run.step;
  i.teacherParameterBytes = st->teacher->parameterBytes();
  i.studentExtraBytes = static_cast<int64_t>(st->run.alpha.size() * sizeof(float));
  return std::shared_ptr<RunSession>(new RunSession(std::move(st)));
}

const RunSessionInfo& RunSession::info() const { return s_->info; }
std::shared_ptr<Teacher> RunSession::teacher() const { return s_->teacher; }

std::vector<int> RunSession::encode(const std::string& text) const { return s_->teacher->tokenizer->encode(text); }
std::string RunSession::tokenText(int id) const { return s_->teacher->tokenizer->tokenBytes(id); }
std::string RunSession::decode(const std::vector<int>& ids) const { return s_->teacher->tokenizer->decode(ids); }

std::unique_ptr<AttentionMaps> RunSession::attentionMaps(const std::vector<int>& ids, SessionStudent student,
                                                               const std::atomic<bool>* cancelled) const {
  s_->checkIds(ids, "the prompt");
  auto set = std::make_unique<AttentionMaps>();
  set->ids = ids;
  set->student = student;
  const auto& cfg = s_->model()->config();
  set->layers = static_cast<int>(cfg.numLayers);
  set->heads = static_cast<int>(cfg.numHeads);
  set->n = static_cast<int>(ids.size());
  auto stop = [cancelled] { return cancelled && cancelled->load(); };

  torch::NoGradGuard noGrad;
  const auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);  // (1, n)
  const auto teacher = s_->model()->attentionMaps(input);  // L x (1, H, n, n)
  if (stop()) return nullptr;
  const auto studentMaps = s_->model()->attentionMaps(input, s_->kernel(student));
  if (stop()) return nullptr;

  // What each teacher head does on this prompt, when it is long enough to say (the profile skips the
  // first rows, which see too few keys).
  HeadProfileOptions roleOptions;
  roleOptions.localWidth = AttentionMaps::kRoleLocalWidth;
  if (set->n > roleOptions.firstQuery) {
    std::vector<int64_t> isDelimiter;
    for (int id : ids) isDelimiter.push_back(isDelimiterText(tokenText(id)) ? 1 : 0);
    set->delimiterShare = std::accumulate(isDelimiter.begin(), isDelimiter.end(), 0.0) / set->n;
    const auto keys = torch::tensor(isDelimiter).to(torch::kBool).unsqueeze(0);
    for (const auto& p : profileHeads(teacher, roleOptions, keys))
      set->teacherRoles.push_back({p.kind, p.previousToken, p.sink, p.self, p.delimiter, p.local});
  }

  const size_t perLayer = static_cast<size_t>(set->heads) * set->n * set->n;
  set->teacher.resize(perLayer * set->layers);
  set->studentMaps.resize(perLayer * set->layers);
  set->headKl.resize(static_cast<size_t>(set->layers) * set->heads);
  const double floor = AttentionMaps::kProbabilityFloor;
  for (int l = 0; l < set->layers; ++l) {
    const auto t = teacher[l].squeeze(0).to(torch::kFloat32).contiguous();      // (H, n, n)
    const auto s = studentMaps[l].squeeze(0).to(torch::kFloat32).contiguous();  // (H, n, n)
    std::memcpy(set->teacher.data() + perLayer * l, t.data_ptr<float>(), perLayer * sizeof(float));
    std::memcpy(set->studentMaps.data() + perLayer * l, s.data_ptr<float>(), perLayer * sizeof(float));
    const auto t64 = t.to(torch::kFloat64);
    // A branch-mixture student's row is sum_k alpha_k softmax_k: it sums to sum_k alpha_k, not 1 (the
    // maps keep that scale, it is what multiplies V). KL compares where the two attend, so the
    // student's row is normalised first; unnormalised, the "KL" of a row with sum(alpha) > 1 goes negative.
    const auto s64 = s.to(torch::kFloat64);
    const auto q = s64 / s64.sum(-1, /*keepdim=*/true).clamp_min(floor);
    // sum_j p_T log(p_T / q_S) per query row; terms with p_T = 0 contribute 0.
    const auto terms = torch::where(t64 > 0, t64 * (t64.clamp_min(floor).log() - q.clamp_min(floor).log()),
                                    torch::zeros_like(t64));
    const auto kl = terms.sum(-1).mean(-1);  // (H)
    for (int h = 0; h < set->heads; ++h) set->headKl[static_cast<size_t>(l) * set->heads + h] = kl[h].item<double>();
  }
  return set;
}

std::vector<int> RunSession::generate(const std::vector<int>& prompt, const SessionStudent* student,
                                      SamplingOptions options, const std::function<bool(int)>& onToken) const {
  s_->checkIds(prompt, "the prompt");
  // Never run past the context: the prompt plus every new token must fit.
  const int64_t room = s_->model()->config().contextLength - static_cast<int64_t>(prompt.size());
  options.maxNewTokens = std::max<int64_t>(0, std::min(options.maxNewTokens, room));
  if (options.maxNewTokens == 0) return {};
  options.validate();
  const std::vector<int64_t> p(prompt.begin(), prompt.end());
  const auto r = attnx::generate(s_->model(), p, options, s_->kernelOrTeacher(student),
                                 [&](int64_t t) { return onToken ? onToken(static_cast<int>(t)) : true; });
  return std::vector<int>(r.tokens.begin(), r.tokens.end());
}

std::vector<NextTokenComparison> RunSession::compare(const std::vector<int>& prompt, const std::vector<int>& completion,
                                                     SessionStudent student) const {
  std::vector<NextTokenComparison> out;
  if (completion.empty()) return out;
  s_->checkIds(prompt, "the prompt");
  std::vector<int> all(prompt.begin(), prompt.end());
  all.insert(all.end(), completion.begin(), completion.end() - 1);  // the last token predicts nothing shown
  s_->checkIds(all, "the prompt and completion");
  s_->checkIds(completion, "the completion");
  torch::NoGradGuard noGrad;
  const auto ids = torch::tensor(std::vector<int64_t>(all.begin(), all.end()), torch::kInt64).unsqueeze(0);  // (1, T)
  const int64_t first = static_cast<int64_t>(prompt.size()) - 1;  // position predicting completion[0]
  const auto count = static_cast<int64_t>(completion.size());
  auto logprobs = [&](const AttentionKernel* kernel) {
    return torch::log_softmax(s_->model()->forward(ids, nullptr, kernel).to(torch::kFloat64), -1)
        .squeeze(0).slice(0, first, first + count);  // (count, V)
  };
  const auto lt = logprobs(nullptr), ls = logprobs(s_->kernel(student));
  const auto kl = (lt.exp() * (lt - ls)).sum(-1);  // (count)
  const auto topT = lt.topk(NextTokenComparison::kTop, -1), topS = ls.topk(NextTokenComparison::kTop, -1);
  auto candidates = [](const std::tuple<torch::Tensor, torch::Tensor>& top, int64_t row) {
    std::vector<TokenCandidate> c;
    const auto values = std::get<0>(top)[row], indices = std::get<1>(top)[row];
    for (int k = 0; k < NextTokenComparison::kTop; ++k)
      c.push_back({static_cast<int>(indices[k].item<int64_t>()), std::exp(values[k].item<double>())});
    return c;
  };
  for (int64_t t = 0; t < count; ++t) {
    const int token = completion[static_cast<size_t>(t)];
    out.push_back({token, kl[t].item<double>(), lt[t][token].item<double>(), ls[t][token].item<double>(),
                   candidates(topT, t), candidates(topS, t)});
  }
  return out;
}

ForwardMemory RunSession::measureForward(const SessionStudent* student, int n) const {
  std::lock_guard<std::mutex> lock(s_->measureMutex);
  ForwardMemory m;
  const auto& cfg = s_->model()->config();
  m.n = std::max(1, std::min(n, static_cast<int>(cfg.contextLength)));
  torch::NoGradGuard noGrad;
  // Token ids cycling through the vocabulary: memory does not depend on which tokens they are.
  const auto ids = torch::arange(m.n, torch::kInt64).remainder(cfg.vocabSize).unsqueeze(0);
  resetPeakResident();
  m.rssBeforeBytes = residentMemory().currentBytes;
  {
    // A tensor another thread allocates meanwhile would count too; the views' workers take turns
    // (measureMutex), so in practice the peak is this forward's.
    TrackingAllocatorScope tracking;
    resetTrackedPeak();
    const int64_t before = trackedTensorMemory().currentBytes;
    const auto start = std::chrono::steady_clock::now();
    auto logits = s_->model()->forward(ids, nullptr, s_->kernelOrTeacher(student));
    m.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    m.tensorPeakBytes = trackedTensorMemory().peakBytes - before;
    logits.reset();
  }
  m.rssPeakBytes = residentMemory().peakBytes;
  return m;
}

AttentionCost RunSession::analyticCost(int n) const {
  AttentionCost c;
  const auto& cfg = s_->model()->config();
  const auto& bank = s_->run.bank;
  const auto combine = s_->run.combine();
  c.denseFlops = AttentionPlan::denseAttentionFlops(cfg.numLayers, cfg.numHeads, cfg.headDim(), n);
  c.denseBytes = AttentionPlan::denseAttentionBytes(cfg.numLayers, cfg.numHeads, n);
  c.softFlops = s_->soft.plan.attentionFlops(bank, combine, cfg.headDim(), n);
  c.softBytes = s_->soft.plan.attentionBytes(bank, combine, n);
  c.prunedFlops = s_->pruned.plan.attentionFlops(bank, combine, cfg.headDim(), n);
  c.prunedBytes = s_->pruned.plan.attentionBytes(bank, combine, n);
  c.softDensity = s_->soft.plan.meanDensity(bank, n);
  c.prunedDensity = s_->pruned.plan.meanDensity(bank, n);
  return c;
}

}  // namespace attnx
