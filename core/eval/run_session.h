// One owner of a distillation run for every reader: attnx-cli (attention, compare, ...) and the
// desktop's views open a run folder through RunSession and get the same students, maps, KL and
// comparisons by construction. A session holds one teacher (shared with whoever else loaded the
// same folder), the run's tokenizer and its two students, each built one way (core/eval/run_student.h):
//   soft    every mask with its learned alpha (a gated run: its gate), dense-masked;
//   pruned  the run's default plan (RunArtifacts::defaultPlan) through the compiled block-sparse kernel.
// Torch-free header (pimpl): the desktop's bridge includes it without LibTorch in its widgets.
// Every method is const and safe to call from several threads at once (forward passes only read
// the weights); measureForward serialises itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/eval/attention_plan.h"
#include "core/eval/sampling_options.h"

namespace attnx {

struct Teacher;  // core/eval/teacher.h

enum class SessionStudent { Soft, Pruned };
SessionStudent sessionStudentFromName(const std::string& name);  // "soft" | "pruned"; throws std::invalid_argument

struct RunSessionInfo {
  std::string runDir, teacherDir, bankName;
  std::string teacherNote;    // "" or why the teacher is not the one run.json names (not on this machine)
  std::vector<std::string> maskNames;
  std::string combine;        // "soft-mask" | "branch-mixture"
  std::string prunedSource;   // "plan.json (top-1)", "the learned alpha pruned (threshold 0.05)", ...
  std::optional<PruningRule> prunedRule;  // the rule asked for at open; none: the run's default plan
  double prunedDensity = 0;   // the pruned plan's mean density at trainedSeqLen
  bool gated = false;         // the soft student is a per-token gate
  int64_t layers = 0, heads = 0, headDim = 0, context = 0, vocab = 0, trainedSeqLen = 0;
  int64_t steps = 0;          // optimiser steps behind the learned alpha
  int64_t teacherParameterBytes = 0, studentExtraBytes = 0;
};

// What one teacher head does on a prompt (core/eval/head_profile.h).
struct HeadRoleShares {
  std::string kind;  // "previous-token", "sink", "self", "delimiter", "local" or "broad"
  double previousToken = 0, sink = 0, self = 0, delimiter = 0, local = 0;
};

// Attention of every layer and head for one prompt, teacher beside student. Immutable once made.
struct AttentionMaps {
  std::vector<int> ids;
  SessionStudent student = SessionStudent::Soft;
  int layers = 0, heads = 0, n = 0;
  std::vector<float> teacher, studentMaps;  // (L, H, n, n) row-major each: query row, key column
                                            // (a branch-mixture student's rows sum to sum(alpha))
  // (L, H): mean over the n query rows of KL(teacher row || student row), nats, the student's row
  // normalised to sum 1 (a branch-mixture row sums to sum(alpha); studentMaps keep that scale). A
  // student probability of exactly 0 where the teacher attends is floored at kProbabilityFloor.
  std::vector<double> headKl;
  std::vector<HeadRoleShares> teacherRoles;  // (L, H); empty when n <= 16 (too short to tell)
  double delimiterShare = 0;                 // of the prompt's tokens: punctuation and line breaks
  static constexpr int kRoleLocalWidth = 16;  // "local": within this many tokens
  static constexpr double kProbabilityFloor = 1e-10;
  size_t offset(int layer, int head) const {
    return (static_cast<size_t>(layer) * heads + head) * static_cast<size_t>(n) * n;
  }
};

struct TokenCandidate {
  int id = 0;
  double probability = 0;
};

// The next-token distributions of teacher and student before one token of a completion.
struct NextTokenComparison {
  int token = 0;                                          // the completion's token at this position
  double kl = 0;                                          // KL(teacher || student), nats
  double teacherLogprob = 0, studentLogprob = 0;          // of `token`
  std::vector<TokenCandidate> teacherTop, studentTop;     // kTop each, most likely first
  static constexpr int kTop = 5;
};

// Peak memory of one forward pass, measured around it.
struct ForwardMemory {
  int64_t rssBeforeBytes = 0, rssPeakBytes = 0;  // process resident set before and at the peak
  // Tensor bytes allocated during the forward at their peak (activations, logits), counted exactly
  // by the tracking allocator (core/bench/tracking_allocator.h); weights are not included.
  int64_t tensorPeakBytes = 0;
  double milliseconds = 0;
  int n = 0;
};

// Analytic attention cost at one length (core/eval/attention_plan.h): dense and both students.
struct AttentionCost {
  double denseFlops = 0, denseBytes = 0, softFlops = 0, softBytes = 0, prunedFlops = 0, prunedBytes = 0,
         softDensity = 0, prunedDensity = 0;
};

class RunSession {
 public:
  // Opens a run folder made by attnx-cli distill: run.json, learned_bank.json, plan.json (optional),
  // student.safetensors (a gated run), and its teacher: teacherDir when not empty, else the run's
  // own (the default model when that folder is not on this machine: info().teacherNote says so). `loaded` is used instead of loading again when it is that folder. `rule` prunes the learned
  // alpha into the pruned student (the CLI's --prune-* options, the Attention view's rule; density rules
  // are measured at the run's training length whatever their densityLength); none: the run's default plan. Throws std::runtime_error naming the file and what is wrong (PlanError for a
  // rule the run cannot take, e.g. a budget without a pruning profile).
  static std::shared_ptr<RunSession> open(const std::string& runDir, const std::string& teacherDir = {},
                                          std::shared_ptr<Teacher> loaded = nullptr,
                                          const std::optional<PruningRule>& rule = std::nullopt);
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  const RunSessionInfo& info() const;
  std::shared_ptr<Teacher> teacher() const;

  std::vector<int> encode(const std::string& text) const;  // every token, not truncated
  std::string tokenText(int id) const;                      // the token's bytes
  std::string decode(const std::vector<int>& ids) const;

  // Teacher and student attention for ids (1..context tokens; std::invalid_argument otherwise, and
  // for an id outside the vocabulary). `cancelled` is polled between the two models: a cancelled
  // request returns nullptr.
  std::unique_ptr<AttentionMaps> attentionMaps(const std::vector<int>& ids, SessionStudent student,
                                                     const std::atomic<bool>* cancelled = nullptr) const;

  // A continuation of prompt by the teacher (student == nullptr) or a student, at most up to the
  // context; onToken(id) is called for every new token and may return false to stop.
  std::vector<int> generate(const std::vector<int>& prompt, const SessionStudent* student, SamplingOptions options,
                            const std::function<bool(int)>& onToken = {}) const;

  // For each token t of `completion`: teacher and student next-token distributions given
  // prompt + completion[0..t-1] compared (KL, log-probabilities of the token, top candidates).
  std::vector<NextTokenComparison> compare(const std::vector<int>& prompt, const std::vector<int>& completion,
                                           SessionStudent student) const;

  // Resident and tensor memory around one forward pass of n tokens (teacher or student).
  ForwardMemory measureForward(const SessionStudent* student, int n) const;
  AttentionCost analyticCost(int n) const;

 private:
  struct State;
  explicit RunSession(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace attnx
