// Teacher-vs-student quality metrics; see student_eval.h.
#include "core/eval/student_eval.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace attnx {

namespace {

void checkWindows(const Gpt2Config& cfg, const std::vector<std::vector<int64_t>>& windows, int64_t batchSize) {
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
}

// Consecutive windows of the same length, at most batchSize of them, as (B, T) ids on `device`.
template <class F>
void forEachBatch(const std::vector<std::vector<int64_t>>& windows, int64_t batchSize, const torch::Device& device, F&& f) {
  for (size_t start = 0; start < windows.size();) {
    const size_t length = windows[start].size();
    size_t end = start + 1;
    while (end < windows.size() && static_cast<int64_t>(end - start) < batchSize && windows[end].size() == length) ++end;
    const int64_t B = static_cast<int64_t>(end - start), T = static_cast<int64_t>(length);
    std::vector<int64_t> flat;
    flat.reserve(static_cast<size_t>(B * T));
    for (size_t w = start; w < end; ++w) flat.insert(flat.end(), windows[w].begin(), windows[w].end());
    f(torch::tensor(flat, torch::kInt64).view({B, T}).to(device));  // (B, T)
    start = end;
  }
}

// Sums over positions of every metric; finish() turns them into a result.
struct MetricSums {
  double klSum = 0, teacherNll = 0, studentNll = 0;
  int64_t agree = 0, positions = 0, predictions = 0;

  // teacherLp, studentLp: (B, T, V) float64 log-probabilities of ids (B, T).
  void add(const torch::Tensor& ids, const torch::Tensor& teacherLp, const torch::Tensor& studentLp) {
    const int64_t B = ids.size(0), T = ids.size(1);
    klSum += (teacherLp.exp() * (teacherLp - studentLp)).sum().item<double>();
    agree += teacherLp.argmax(-1).eq(studentLp.argmax(-1)).sum().item<int64_t>();
    positions += B * T;
    if (T >= 2) {
      const auto targets = ids.slice(1, 1, T).unsqueeze(-1);  // (B, T-1, 1)
      teacherNll -= teacherLp.slice(1, 0, T - 1).gather(-1, targets).sum().item<double>();
      studentNll -= studentLp.slice(1, 0, T - 1).gather(-1, targets).sum().item<double>();
      predictions += B * (T - 1);
    }
  }

  StudentEvalResult finish() const {
    StudentEvalResult r;
    r.tokens = positions;
    r.klPerToken = klSum / static_cast<double>(positions);
    r.top1Agreement = static_cast<double>(agree) / static_cast<double>(positions);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.teacherPerplexity = predictions > 0 ? std::exp(teacherNll / static_cast<double>(predictions)) : nan;
    r.studentPerplexity = predictions > 0 ? std::exp(studentNll / static_cast<double>(predictions)) : nan;
    return r;
  }
};

torch::Tensor logProbs(const torch::Tensor& logits) { return torch::log_softmax(logits.to(torch::kFloat64), -1); }

}  // namespace

StudentEvalResult evaluateStudent(Gpt2& model, const AttentionKernel& student,
                                  const std::vector<std::vector<int64_t>>& windows, int64_t batchSize) {
  checkWindows(model->config(), windows, batchSize);
  torch::NoGradGuard noGrad;
  MetricSums sums;
  forEachBatch(windows, batchSize, model->wte->weight.device(), [&](const torch::Tensor& ids) {
    sums.add(ids, logProbs(model->forward(ids)), logProbs(model->forward(ids, nullptr, &student)));
  });
  return sums.finish();
}

TeacherReference::TeacherReference(Gpt2& model, std::vector<std::vector<int64_t>> windows, int64_t batchSize)
    : model_(model), windowCount_(windows.size()) {
  checkWindows(model->config(), windows, batchSize);
  torch::NoGradGuard noGrad;
  MetricSums sums;
  forEachBatch(windows, batchSize, model->wte->weight.device(), [&](const torch::Tensor& ids) {
    auto lp = torch::log_softmax(model->forward(ids), -1);  // (B, T, V) float32
    auto argmax = lp.argmax(-1);                            // (B, T)
    const int64_t B = ids.size(0), T = ids.size(1);
    sums.positions += B * T;
    sums.agree += B * T;
    if (T >= 2) {
      sums.teacherNll -= lp.slice(1, 0, T - 1).gather(-1, ids.slice(1, 1, T).unsqueeze(-1)).to(torch::kFloat64).sum().item<double>();
      sums.predictions += B * (T - 1);
    }
    batches_.push_back({ids, std::move(lp), std::move(argmax)});
  });
  sums.studentNll = sums.teacherNll;
  teacher_ = sums.finish();
}

StudentEvalResult TeacherReference::evaluate(const AttentionKernel& student) const {
  // In float32 per element (the (B, T, V) tensors dominate the cost), each row's sum accumulated in
  // float64 over rows: the KL per token agrees with evaluateStudent's float64 path to ~1e-6.
  torch::NoGradGuard noGrad;
  MetricSums sums;
  for (const auto& b : batches_) {
    const auto lpS = torch::log_softmax(model_->forward(b.ids, nullptr, &student), -1);  // (B, T, V)
    const int64_t B = b.ids.size(0), T = b.ids.size(1);
    sums.klSum += (b.teacherLp.exp() * (b.teacherLp - lpS)).sum(-1).to(torch::kFloat64).sum().item<double>();
    sums.agree += lpS.argmax(-1).eq(b.teacherArgmax).sum().item<int64_t>();
    sums.positions += B * T;
    if (T >= 2) {
      const auto targets = b.ids.slice(1, 1, T).unsqueeze(-1);
      sums.teacherNll -= b.teacherLp.slice(1, 0, T - 1).gather(-1, targets).to(torch::kFloat64).sum().item<double>();
      sums.studentNll -= lpS.slice(1, 0, T - 1).gather(-1, targets).to(torch::kFloat64).sum().item<double>();
      sums.predictions += B * (T - 1);
    }
  }
  return sums.finish();
}

}  // namespace attnx
