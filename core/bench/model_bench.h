// Whole-model benchmarks: forward throughput across sequence lengths and generation speed with
// and without the KV cache. Times are medians of repeated runs after a warm-up.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/model/gpt2.h"

namespace attnx {

struct ModelBenchOptions {
  std::vector<int64_t> seqLens{128, 512, 1024};
  int warmup = 1;
  int repeats = 5;             // forward passes per length
  int64_t generateTokens = 256;  // 0 skips the generation benchmark
  int64_t promptTokens = 16;
  int generateRepeats = 3;
  uint64_t seed = 0;
};

struct ForwardBenchRow {
  int64_t seqLen = 0;
  double medianSeconds = 0, minSeconds = 0;
  double tokensPerSecond = 0;  // seqLen / median
  int64_t peakResidentBytes = 0;
};

struct GenerateBenchRow {
  std::string model = "teacher";  // "teacher", or the student's name
  bool kvCache = false;
  bool boundedCache = false;      // the cache dropped keys beyond the student's reach
  int64_t peakCacheKeys = 0;      // most keys one layer's cache held
  int64_t newTokens = 0;
  double medianSeconds = 0;
  double tokensPerSecond = 0;
  int64_t peakResidentBytes = 0;
};

struct ModelBenchResult {
  std::vector<ForwardBenchRow> forward;
  std::vector<GenerateBenchRow> generate;
  int64_t parameters = 0;
  int threads = 0;
  std::string device;
};

// A compiled student to decode with beside the teacher (its bounded and its full KV cache).
struct BenchStudent {
  std::string name;
  const AttentionKernel* kernel = nullptr;
};

ModelBenchResult benchModel(Gpt2& model, const ModelBenchOptions& options,
                            const std::function<void(const std::string&)>& progress = {},
                            const BenchStudent& student = {});

// Median of a non-empty sample.
double median(std::vector<double> values);

// `call` run warmup times, then timed `repeats` times: the median in ms and the most tensor bytes one
// call held above what was live before it. On the CPU the bytes count only while a
// TrackingAllocatorScope is installed; on a CUDA device they come from the caching allocator, and
// each timed call is bracketed by device synchronisations (kernels run asynchronously).
struct CallTiming {
  double medianMs = 0;
  int64_t peakBytes = 0;
};
CallTiming timeCall(const std::function<void()>& call, int warmup, int repeats,
                    const torch::Device& device = torch::kCPU);

}  // namespace attnx
