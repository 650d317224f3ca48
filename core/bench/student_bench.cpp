#include "core/bench/student_bench.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

#include "core/bench/model_bench.h"
#include "core/bench/tracking_allocator.h"

namespace attnx {

std::vector<StudentBenchRow> benchTeacherAndStudent(Gpt2& model, const AttentionKernel& student,
                                                    const std::vector<int64_t>& seqLens, int warmup, int repeats,
                                                    uint64_t seed,
                                                    const std::function<void(const std::string&)>& progress) {
  torch::NoGradGuard noGrad;
  TrackingAllocatorScope tracking;
  model->eval();
  const auto& cfg = model->config();
  const auto device = model->wte->weight.device();
  std::vector<StudentBenchRow> rows;
  for (int64_t n : seqLens) {
    torch::manual_seed(seed);
    const auto ids = torch::randint(cfg.vocabSize, {1, n}, torch::TensorOptions(torch::kLong).device(device));
    for (const bool isStudent : {false, true}) {
      StudentBenchRow row;
      row.model = isStudent ? "student" : "teacher";
      row.n = n;
      if (progress) progress(row.model + " n=" + std::to_string(n));
      if (n > cfg.contextLength) {
        row.skipped = true;
        row.note = "longer than the model's context of " + std::to_string(cfg.contextLength);
        rows.push_back(row);
        continue;
      }
      auto call = [&] { isStudent ? model->forward(ids, nullptr, &student) : model->forward(ids); };
      for (int i = 0; i < warmup; ++i) call();
      std::vector<double> ms;
      for (int i = 0; i < repeats; ++i) {
        const auto before = trackedTensorMemory().currentBytes;
        resetTrackedPeak();
        const auto t0 = std::chrono::steady_clock::now();
        call();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        row.peakBytes = std::max(row.peakBytes, trackedTensorMemory().peakBytes - before);
      }
      row.timeMs = median(ms);
      row.tokensPerSecond = n / (row.timeMs / 1e3);
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace attnx
