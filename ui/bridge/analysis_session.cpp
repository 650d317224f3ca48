// AnalysisSession: core's RunSession with Qt strings and printable token labels.
#include "ui/bridge/analysis_session.h"

#include <stdexcept>

namespace attnx::ui {

namespace {

QString qs(const std::string& s) { return QString::fromUtf8(QByteArray::fromStdString(s)); }

}  // namespace

AnalysisSession::AnalysisSession() = default;
AnalysisSession::~AnalysisSession() = default;

QString AnalysisSession::loadRun(const QString& runDir, const QString& teacherOverride,
                                 std::shared_ptr<attnx::Teacher> teacher, const std::optional<attnx::PruningRule>& rule) {
  try {
    auto run = RunSession::open(runDir.toStdString(), teacherOverride.toStdString(), std::move(teacher), rule);
    const auto& i = run->info();
    RunSummary sum;
    sum.runDir = runDir;
    sum.teacherDir = qs(i.teacherDir);
    sum.teacherNote = qs(i.teacherNote);
    sum.bankName = qs(i.bankName);
    for (const auto& m : i.maskNames) sum.maskNames << qs(m);
    sum.combine = qs(i.combine);
    sum.prunedDescription = qs(i.prunedSource);
    sum.prunedRule = i.prunedRule;
    sum.prunedDensity = i.prunedDensity;
    sum.teacherOverride = teacherOverride;
    sum.layers = static_cast<int>(i.layers);
    sum.heads = static_cast<int>(i.heads);
    sum.headDim = static_cast<int>(i.headDim);
    sum.context = static_cast<int>(i.context);
    sum.vocab = static_cast<int>(i.vocab);
    sum.trainedSeqLen = static_cast<int>(i.trainedSeqLen);
    sum.steps = i.steps;
    sum.teacherParameterBytes = i.teacherParameterBytes;
    sum.studentExtraBytes = i.studentExtraBytes;
    run_ = std::move(run);
    summary_ = sum;
  } catch (const std::exception& e) {
    run_.reset();
    summary_ = {};
    return qs(e.what());
  }
  return {};
}

bool AnalysisSession::isLoaded() const { return run_ != nullptr; }
RunSummary AnalysisSession::summary() const { return summary_; }
std::shared_ptr<const RunSession> AnalysisSession::core() const { return run_; }

QString AnalysisSession::tokenLabel(int id) const {
  QString t = qs(run_->tokenText(id));
  t.replace(QLatin1Char('\n'), QStringLiteral("\u23CE"));
  t.replace(QLatin1Char('\t'), QStringLiteral("\u21E5"));
  return t;
}

QString AnalysisSession::decode(const std::vector<int>& ids) const { return qs(run_->decode(ids)); }

EncodedPrompt AnalysisSession::encode(const QString& prompt) const {
  if (!isLoaded()) throw std::logic_error("no run loaded");
  if (prompt.trimmed().isEmpty()) throw std::invalid_argument("The prompt is empty: type some text to analyse.");
  EncodedPrompt e;
  e.ids = run_->encode(prompt.toStdString());
  e.originalTokens = static_cast<int>(e.ids.size());
  const auto context = static_cast<size_t>(summary_.context);
  if (e.ids.size() > context) e.ids.resize(context);
  for (int id : e.ids) e.tokenLabels << tokenLabel(id);
  return e;
}

static attnx::SessionStudent coreKind(StudentKind k) {
  return k == StudentKind::Soft ? attnx::SessionStudent::Soft : attnx::SessionStudent::Pruned;
}

std::shared_ptr<const AttentionMapSet> AnalysisSession::attentionMaps(const QString& prompt, StudentKind student,
                                                                      const std::atomic<bool>* cancelled) const {
  auto set = std::make_shared<AttentionMapSet>();
  set->prompt = encode(prompt);
  set->student = student;
  auto maps = run_->attentionMaps(set->prompt.ids, coreKind(student), cancelled);
  if (!maps) return nullptr;
  auto& m = *maps;  // made for this request only: moved, not copied
  set->layers = m.layers;
  set->heads = m.heads;
  set->n = m.n;
  set->teacher = std::move(m.teacher);
  set->studentMaps = std::move(m.studentMaps);
  set->headKl = std::move(m.headKl);
  set->delimiterShare = m.delimiterShare;
  for (const auto& r : m.teacherRoles)
    set->teacherRoles.push_back({qs(r.kind), r.previousToken, r.sink, r.self, r.delimiter, r.local});
  return set;
}

std::vector<int> AnalysisSession::generate(const std::vector<int>& prompt, const StudentKind* student,
                                           const SamplingOptions& s, const std::function<bool(int)>& onToken) const {
  SamplingOptions o = s;
  o.stopOnEos = true;
  if (!student) return run_->generate(prompt, nullptr, o, onToken);
  const auto kind = coreKind(*student);
  return run_->generate(prompt, &kind, o, onToken);
}

std::vector<TokenComparison> AnalysisSession::compare(const std::vector<int>& prompt, const std::vector<int>& completion,
                                                      StudentKind student) const {
  std::vector<TokenComparison> out;
  if (completion.empty() || prompt.empty()) return out;
  auto labels = [this](const std::vector<attnx::TokenCandidate>& top) {
    std::vector<TopCandidate> c;
    for (const auto& t : top) c.push_back({tokenLabel(t.id), t.probability});
    return c;
  };
  for (const auto& c : run_->compare(prompt, completion, coreKind(student)))
    out.push_back({c.kl, labels(c.teacherTop), labels(c.studentTop)});
  return out;
}

ForwardMemory AnalysisSession::measureForward(const StudentKind* student, int n) const {
  if (!student) return run_->measureForward(nullptr, n);
  const auto kind = coreKind(*student);
  return run_->measureForward(&kind, n);
}

AnalysisSession::AnalyticCost AnalysisSession::analyticCost(int n) const { return run_->analyticCost(n); }

}  // namespace attnx::ui
