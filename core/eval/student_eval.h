// How close a student (GPT-2 with its attention swapped for a kernel) stays to its teacher (the
// same GPT-2 with dense causal attention), on token windows: method.md, "What is measured", quality.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "core/model/attention_kernel.h"
#include "core/model/gpt2.h"

namespace attnx {

struct StudentEvalResult {
  // mean over every position t of every window (all T positions, the last included: each
  // position's next-token distribution is compared) of sum_v p_T(v) (log p_T(v) - log p_S(v)), nats
  double klPerToken = 0.0;
  // exp(mean next-token NLL) over positions 0..T-2 of each window predicting tokens 1..T-1
  double teacherPerplexity = 0.0;
  double studentPerplexity = 0.0;
  // fraction of positions (the same positions as the KL) where argmax p_T = argmax p_S
  double top1Agreement = 0.0;
  // positions counted in klPerToken and top1Agreement (sum of window lengths); the perplexities
  // use tokens - windows.size() predictions
  int64_t tokens = 0;
};

// Teacher: model->forward(ids) (dense causal); student: model->forward(ids, nullptr, &student).
// Both run under NoGradGuard on the device of the model's parameters (the kernel's own tensors
// must be there too). Consecutive windows of equal length are batched, up to batchSize at a time.
// Everything after the logits is computed in float64 from the float32 logits.
// Throws std::invalid_argument for no windows, an empty window, a window longer than the context,
// a token outside the vocabulary, or batchSize < 1. Windows of one token add to the KL and the
// agreement but not to the perplexities; with no prediction at all the perplexities are NaN.
StudentEvalResult evaluateStudent(Gpt2& model, const AttentionKernel& student,
                                  const std::vector<std::vector<int64_t>>& windows, int64_t batchSize = 4);

// The teacher's side of evaluateStudent computed once, so that many students are compared on the same
// windows at the cost of one student pass each (the pruning profile, the study). Keeps the teacher's
// float32 log-probabilities: windows * T * vocabulary * 4 bytes. Same inputs and checks as
// evaluateStudent; the metrics are computed per element in float32 (about 3x faster than the float64
// path), so they agree with evaluateStudent's to about 1e-6 relative.
class TeacherReference {
 public:
  TeacherReference(Gpt2& model, std::vector<std::vector<int64_t>> windows, int64_t batchSize = 4);
  StudentEvalResult evaluate(const AttentionKernel& student) const;
  const StudentEvalResult& teacherOnly() const { return teacher_; }  // perplexity of the teacher; KL 0
  int64_t windows() const { return static_cast<int64_t>(windowCount_); }

 private:
  struct Batch {
    torch::Tensor ids;        // (B, T)
    torch::Tensor teacherLp;      // (B, T, V) float32
    torch::Tensor teacherArgmax;  // (B, T)
  };
  mutable Gpt2 model_;  // forward() is not const
  std::vector<Batch> batches_;
  size_t windowCount_ = 0;
  StudentEvalResult teacher_;
};

}  // namespace attnx
