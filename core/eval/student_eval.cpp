// Teacher-vs-student quality metrics; see student_eval.h.
#include "core/eval/student_eval.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace attnx {

StudentEvalResult evaluateStudent(Gpt2& model, const AttentionKernel& student,
                                  const std::vector<std::vector<int64_t>>& windows, int64_t batchSize) {
  const auto& cfg = model->config();
  if (windows.empty()) throw std::invalid_argument("evaluateStudent: no windows");
  if (batchSize < 1) throw std::invalid_argument("evaluateStudent: batchSize must be >= 1, got " + std::to_string(batchSize));
  for (size_t w = 0; w < windows.size(); ++w) {
    const auto& ids = windows[w];
    if (ids.empty()) throw std::invalid_argument("evaluateStudent: window " + std::to_string(w) + " is empty");
    if (static_cast<int64_t>(ids.size()) > cfg.contextLength)
      throw std::invalid_argument("evaluateStudent: window " + std::to_string(w) + " has " + std::to_string(ids.size()) +
                                  " tokens, more than the context (" + std::to_string(cfg.contextLength) + ")");
    for (int64_t id : ids)
      if (id < 0 || id >= cfg.vocabSize)
        throw std::invalid_argument("evaluateStudent: window " + std::to_string(w) + " holds token " + std::to_string(id) +
                                    ", outside the vocabulary (0.." + std::to_string(cfg.vocabSize - 1) + ")");
  }

  torch::NoGradGuard noGrad;
  const auto device = model->wte->weight.device();
  double klSum = 0, teacherNll = 0, studentNll = 0;
  int64_t agree = 0, positions = 0, predictions = 0;

  for (size_t start = 0; start < windows.size();) {
    // A batch: consecutive windows of the same length, at most batchSize of them.
    const size_t length = windows[start].size();
    size_t end = start + 1;
    while (end < windows.size() && static_cast<int64_t>(end - start) < batchSize && windows[end].size() == length) ++end;
    const int64_t B = static_cast<int64_t>(end - start), T = static_cast<int64_t>(length);
    std::vector<int64_t> flat;
    flat.reserve(static_cast<size_t>(B * T));
    for (size_t w = start; w < end; ++w) flat.insert(flat.end(), windows[w].begin(), windows[w].end());
    const auto ids = torch::tensor(flat, torch::kInt64).view({B, T}).to(device);  // (B, T)

    const auto teacherLp = torch::log_softmax(model->forward(ids).to(torch::kFloat64), -1);                     // (B, T, V)
    const auto studentLp = torch::log_softmax(model->forward(ids, nullptr, &student).to(torch::kFloat64), -1);  // (B, T, V)

    klSum += (teacherLp.exp() * (teacherLp - studentLp)).sum().item<double>();
    agree += teacherLp.argmax(-1).eq(studentLp.argmax(-1)).sum().item<int64_t>();
    positions += B * T;
    if (T >= 2) {
      const auto targets = ids.slice(1, 1, T).unsqueeze(-1);  // (B, T-1, 1)
      teacherNll -= teacherLp.slice(1, 0, T - 1).gather(-1, targets).sum().item<double>();
      studentNll -= studentLp.slice(1, 0, T - 1).gather(-1, targets).sum().item<double>();
      predictions += B * (T - 1);
    }
    start = end;
  }

  StudentEvalResult r;
  r.tokens = positions;
  r.klPerToken = klSum / static_cast<double>(positions);
  r.top1Agreement = static_cast<double>(agree) / static_cast<double>(positions);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.teacherPerplexity = predictions > 0 ? std::exp(teacherNll / static_cast<double>(predictions)) : nan;
  r.studentPerplexity = predictions > 0 ? std::exp(studentNll / static_cast<double>(predictions)) : nan;
  return r;
}

}  // namespace attnx
