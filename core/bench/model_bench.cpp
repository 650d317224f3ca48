#include "core/bench/model_bench.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <torch/torch.h>

#include "core/bench/memory_probe.h"
#include "core/bench/tracking_allocator.h"
#include "core/eval/generation.h"

namespace attnx {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void synchronize(const torch::Device& device) {
#if defined(ATTNX_HAVE_CUDA)
  if (device.is_cuda()) torch::cuda::synchronize();
#else
  (void)device;
#endif
}

std::vector<int64_t> randomIds(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  std::vector<int64_t> ids(n);
  for (auto& id : ids) id = pick(rng);
  return ids;
}

}  // namespace

CallTiming timeCall(const std::function<void()>& call, int warmup, int repeats, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  const int index = cuda ? std::max<int>(0, device.index()) : 0;
  auto memory = [&] { return cuda ? cudaTensorMemory(index) : trackedTensorMemory(); };
  auto resetPeak = [&] { cuda ? resetCudaPeak(index) : resetTrackedPeak(); };
  for (int i = 0; i < warmup; ++i) call();
  synchronize(device);
  std::vector<double> ms;
  int64_t peak = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto before = memory().currentBytes;
    resetPeak();
    const auto t0 = std::chrono::steady_clock::now();
    call();
    synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    peak = std::max(peak, memory().peakBytes - before);
  }
  return {median(ms), peak};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

ModelBenchResult benchModel(Gpt2& model, const ModelBenchOptions& options,
                            const std::function<void(const std::string&)>& progress, const BenchStudent& student) {
  torch::NoGradGuard noGrad;
  model->eval();
  const auto& cfg = model->config();
  const auto device = model->wte->weight.device();
  auto say = [&](const std::string& s) { if (progress) progress(s); };

  ModelBenchResult result;
  for (const auto& p : model->parameters()) result.parameters += p.numel();
  result.threads = torch::get_num_threads();
  result.device = device.str();

  for (int64_t n : options.seqLens) {
    if (n > cfg.contextLength) {
      say("skipping n = " + std::to_string(n) + ": longer than the context (" + std::to_string(cfg.contextLength) + ")");
      continue;
    }
    auto ids = torch::tensor(randomIds(n, cfg.vocabSize, options.seed + n), torch::kLong).unsqueeze(0).to(device);
    for (int i = 0; i < options.warmup; ++i) model->forward(ids);
    synchronize(device);
    resetPeakResident();
    std::vector<double> times;
    for (int r = 0; r < options.repeats; ++r) {
      const auto t0 = Clock::now();
      model->forward(ids);
      synchronize(device);
      times.push_back(secondsSince(t0));
    }
    ForwardBenchRow row;
    row.seqLen = n;
    row.medianSeconds = median(times);
    row.minSeconds = *std::min_element(times.begin(), times.end());
    row.tokensPerSecond = static_cast<double>(n) / row.medianSeconds;
    row.peakResidentBytes = residentMemory().peakBytes;
    result.forward.push_back(row);
    say("forward n = " + std::to_string(n) + ": " + std::to_string(row.tokensPerSecond) + " tokens/s");
  }

  if (options.generateTokens > 0) {
    const auto prompt = randomIds(options.promptTokens, cfg.vocabSize, options.seed);
    // The teacher with and without its KV cache; then the student with its bounded and its full cache.
    struct Mode {
      const AttentionKernel* kernel;
      bool cache, bound;
    };
    std::vector<Mode> modes{{nullptr, true, false}, {nullptr, false, false}};
    if (student.kernel) modes.insert(modes.end(), {{student.kernel, true, true}, {student.kernel, true, false}});
    if (options.warmup > 0) {  // untimed: the first generation of a process also pays for its allocator's growth
      SamplingOptions s;
      s.greedy = true;
      s.stopOnEos = false;
      s.maxNewTokens = options.generateTokens;
      generate(model, prompt, s);
    }
    for (const auto& mode : modes) {
      SamplingOptions s;
      s.greedy = true;
      s.stopOnEos = false;
      s.maxNewTokens = options.generateTokens;
      s.useKvCache = mode.cache;
      s.boundKvCache = mode.bound;
      resetPeakResident();
      std::vector<double> times;
      GenerationResult last;
      for (int r = 0; r < options.generateRepeats; ++r) {
        const auto t0 = Clock::now();
        last = generate(model, prompt, s, mode.kernel);
        synchronize(device);
        times.push_back(secondsSince(t0));
      }
      GenerateBenchRow row;
      row.model = mode.kernel ? student.name : "teacher";
      row.kvCache = mode.cache;
      row.boundedCache = last.cache.bounded;
      row.peakCacheKeys = last.cache.peakKeys;
      row.newTokens = options.generateTokens;
      row.medianSeconds = median(times);
      row.tokensPerSecond = static_cast<double>(options.generateTokens) / row.medianSeconds;
      row.peakResidentBytes = residentMemory().peakBytes;
      result.generate.push_back(row);
      say("generate, " + row.model + (mode.cache ? (row.boundedCache ? ", bounded KV cache" : ", KV cache") : ", no cache") +
          ": " + std::to_string(row.tokensPerSecond) + " tokens/s");
    }
  }
  return result;
}

}  // namespace attnx
