// A GPT-2 teacher against its compiled student at model level: time per forward, tokens/s and peak
// tensor memory (tracking allocator) at several sequence lengths (GPT-2 stops at its context).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/model/attention_kernel.h"
#include "core/model/gpt2.h"

namespace attnx {

struct StudentBenchRow {
  std::string model;  // "teacher" or "student"
  int64_t n = 0;
  double timeMs = 0;  // median forward of one sequence
  double tokensPerSecond = 0;
  int64_t peakBytes = 0;  // tensor bytes above the model's weights at the peak of one forward
  bool skipped = false;
  std::string note;
};

std::vector<StudentBenchRow> benchTeacherAndStudent(Gpt2& model, const AttentionKernel& student,
                                                    const std::vector<int64_t>& seqLens, int warmup, int repeats,
                                                    uint64_t seed,
                                                    const std::function<void(const std::string&)>& progress = {});

}  // namespace attnx
