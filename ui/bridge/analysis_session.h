// The views' handle on a distillation run: a Qt-facing adapter over core's RunSession (one owner of
// a run for attnx-cli and the desktop alike: the same students, maps, KL and comparisons). It turns
// token ids into printable labels and std strings into QStrings; the numbers are RunSession's.
// Every compute method is synchronous and thread-safe for concurrent callers: the views call them
// on worker threads.
#pragma once

#include <QString>
#include <QStringList>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/eval/run_session.h"

namespace attnx::ui {

// Which student the attention maps and completions use.
enum class StudentKind {
  Soft,    // every mask of the learned bank with its learned coefficient
  Pruned,  // the run's default plan (plan.json, else the learned alpha at threshold 0.05), compiled
};

struct RunSummary {
  QString runDir, teacherDir, bankName;
  QString teacherNote;       // "" or why the teacher is not the one run.json names
  QStringList maskNames;
  QString combine;           // "soft-mask" | "branch-mixture"
  QString prunedDescription; // "plan.json (top-1)", "the learned alpha pruned (threshold 0.05)", ...
  std::optional<attnx::PruningRule> prunedRule;  // the rule the session was opened with; none: the run's default
  double prunedDensity = 0;  // the pruned plan's mean density at trainedSeqLen
  QString teacherOverride;   // as given to loadRun
  int layers = 0, heads = 0, headDim = 0, context = 0, vocab = 0, trainedSeqLen = 0;
  qint64 steps = 0;          // optimiser steps recorded in the run (0 when unknown)
  qint64 teacherParameterBytes = 0, studentExtraBytes = 0;
};

// A prompt as the model sees it.
struct EncodedPrompt {
  std::vector<int> ids;       // at most the context length
  QStringList tokenLabels;    // one printable label per id
  int originalTokens = 0;     // before truncation
  bool truncated() const { return originalTokens > static_cast<int>(ids.size()); }
};

// What one teacher head does on a prompt (core/eval/head_profile.h): its kind and the shares of its
// attention behind it, averaged over the query rows from the 17th token on.
struct HeadRole {
  QString kind;  // "previous-token", "sink", "self", "delimiter", "local" or "broad"
  double previousToken = 0, sink = 0, self = 0, delimiter = 0, local = 0;
};

// Attention maps of every layer and head for one prompt, teacher and student. Immutable once made.
struct AttentionMapSet {
  EncodedPrompt prompt;
  StudentKind student = StudentKind::Soft;
  int layers = 0, heads = 0, n = 0;
  std::vector<float> teacher, studentMaps;  // (L, H, n, n) row-major each: query row, key column
  std::vector<double> headKl;               // (L, H): mean over queries of KL(teacher row || student row), nats
  std::vector<HeadRole> teacherRoles;       // (L, H); empty when the prompt is too short to tell (<= 16 tokens)
  double delimiterShare = 0;                // of the prompt's tokens: punctuation and line breaks
  static constexpr int kRoleLocalWidth = 16;  // "local": within this many tokens
  const float* teacherHead(int layer, int head) const { return teacher.data() + offset(layer, head); }
  const float* studentHead(int layer, int head) const { return studentMaps.data() + offset(layer, head); }
  size_t offset(int layer, int head) const {
    return (static_cast<size_t>(layer) * heads + head) * static_cast<size_t>(n) * n;
  }
};

// Decoding options: core's value type, filled by the Completions view's form.
using SamplingOptions = attnx::SamplingOptions;

struct TopCandidate {
  QString label;
  double probability = 0;
};

// The next-token distributions of teacher and student at one position of a completion.
struct TokenComparison {
  double kl = 0;                      // KL(teacher || student), nats
  std::vector<TopCandidate> teacherTop, studentTop;  // five each, most likely first
};

// Peak memory of one forward pass, measured around it (core's value type).
using ForwardMemory = attnx::ForwardMemory;

class AnalysisSession {
 public:
  AnalysisSession();
  ~AnalysisSession();
  AnalysisSession(const AnalysisSession&) = delete;
  AnalysisSession& operator=(const AnalysisSession&) = delete;

  // Loads run.json, learned_bank.json, plan.json (optional) of a run folder made by attnx-cli
  // distill, and its teacher (teacherOverride when not empty). Returns "" on success, else a
  // message for the user; a failed load leaves the session empty.
  // `teacher` (the model panel's, say) is used instead of a second copy when it is the run's teacher.
  // `rule` prunes the learned alpha into the pruned student (RunSession::open); none: the run's plan.
  QString loadRun(const QString& runDir, const QString& teacherOverride = {},
                  std::shared_ptr<attnx::Teacher> teacher = nullptr,
                  const std::optional<attnx::PruningRule>& rule = std::nullopt);
  bool isLoaded() const;
  RunSummary summary() const;

  // Tokenizes; keeps the first `context` tokens. Throws std::invalid_argument for an empty prompt.
  EncodedPrompt encode(const QString& prompt) const;
  QString tokenLabel(int id) const;   // printable: newlines and tabs shown as symbols
  QString decode(const std::vector<int>& ids) const;

  // Attention maps for a prompt. `cancelled` is polled between layers and models; a cancelled
  // request returns nullptr. Throws std::invalid_argument for an empty prompt.
  std::shared_ptr<const AttentionMapSet> attentionMaps(const QString& prompt, StudentKind student,
                                                       const std::atomic<bool>* cancelled = nullptr) const;

  // Generates a continuation of `prompt` with the teacher (student == nullptr) or a student;
  // onToken(id) is called for every new token and may return false to stop.
  std::vector<int> generate(const std::vector<int>& prompt, const StudentKind* student, const SamplingOptions& s,
                            const std::function<bool(int)>& onToken) const;

  // For each new token t of `completion`: the teacher's and the student's next-token distributions
  // given prompt + completion[0..t-1] compared (KL and top-5).
  std::vector<TokenComparison> compare(const std::vector<int>& prompt, const std::vector<int>& completion,
                                       StudentKind student) const;

  // Resident memory around one forward pass of n tokens (teacher or student). Serialised: two
  // measurements at once would see each other's memory.
  ForwardMemory measureForward(const StudentKind* student, int n) const;

  // Analytic attention cost at length n (core/eval/attention_plan.h): dense and the student.
  using AnalyticCost = attnx::AttentionCost;
  AnalyticCost analyticCost(int n) const;

  // The core session behind this one (nullptr before a run is loaded): its teacher is shared with
  // the other panels, and tests compare it with attnx-cli.
  std::shared_ptr<const attnx::RunSession> core() const;

 private:
  std::shared_ptr<const attnx::RunSession> run_;
  RunSummary summary_;
};

}  // namespace attnx::ui
