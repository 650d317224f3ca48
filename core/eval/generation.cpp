#include "core/eval/generation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>

#include <torch/torch.h>

namespace attnx {

torch::Tensor penalizeRepeats(const torch::Tensor& logits, const std::vector<int64_t>& context, double penalty) {
  if (penalty == 1.0 || context.empty()) return logits;
  const auto ids = torch::tensor(context, torch::kLong).to(logits.device());
  const auto seen = logits.index_select(0, ids);  // a repeated id reads, and then writes, the same value
  auto out = logits.clone();
  out.index_put_({ids}, torch::where(seen > 0, seen / penalty, seen * penalty));
  return out;
}

int64_t pickToken(const torch::Tensor& logits, const SamplingOptions& options, double uniform) {
  auto row = logits.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* z = row.data_ptr<double>();
  const int64_t V = row.numel();
  if (options.greedy) return static_cast<int64_t>(std::max_element(z, z + V) - z);

  // Candidates sorted by logit, highest first (ties by id, for determinism).
  std::vector<int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  const int64_t keep = options.topK > 0 ? std::min(options.topK, V) : V;
  auto byLogit = [&](int64_t a, int64_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
  order.resize(keep);

  std::vector<double> p(keep);
  const double zmax = z[order[0]];
  double sum = 0;
  for (int64_t i = 0; i < keep; ++i) sum += p[i] = std::exp((z[order[i]] - zmax) / options.temperature);
  for (auto& x : p) x /= sum;

  // Nucleus: the smallest prefix whose mass reaches top-p (always at least one token).
  int64_t n = keep;
  if (options.topP < 1.0) {
    double mass = 0;
    for (n = 0; n < keep;) {
      mass += p[n++];
      if (mass >= options.topP) break;
    }
    const double kept = std::accumulate(p.begin(), p.begin() + n, 0.0);
    for (int64_t i = 0; i < n; ++i) p[i] /= kept;
  }
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc += p[i];
    if (uniform < acc) return order[i];
  }
  return order[n - 1];  // rounding left a sliver above the last bucket
}

GenerationResult generate(Gpt2& model, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                          const AttentionKernel* kernel, const TokenCallback& onToken) {
  options.validate();
  if (prompt.empty()) throw std::invalid_argument("the prompt is empty: give at least one token");
  torch::NoGradGuard noGrad;  // thread-local: generation may run on a worker thread
  const auto& cfg = model->config();
  const auto device = model->wte->weight.device();
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  std::vector<int64_t> context = prompt;
  // A prompt longer than the context keeps its last tokens (one position left for the next token).
  const auto window = cfg.contextLength;
  auto tail = [&](int64_t n) {
    const int64_t start = std::max<int64_t>(0, static_cast<int64_t>(context.size()) - n);
    return torch::tensor(std::vector<int64_t>(context.begin() + start, context.end()), torch::kLong)
        .unsqueeze(0).to(device);
  };

  GenerationResult result;
  KvCache cache;
  bool useCache = options.useKvCache;
  // Keys beyond the kernel's reach are never attended again: drop them after each forward.
  std::optional<KeyReach> reach;
  if (useCache && options.boundKvCache && kernel) reach = kernel->keyReach();
  if (reach) cache.limitCapacity(reach->sinks + reach->window);
  torch::Tensor next;  // logits for the next token, (V)
  for (int64_t step = 0; step < options.maxNewTokens; ++step) {
    // Past the context length every step recomputes the last `window` tokens, exactly as without
    // a cache (GPT-2's learned positions cannot be shifted inside a cache).
    if (useCache && cache.length() + 1 > window) useCache = false;
    if (!useCache) {
      next = model->forward(tail(window), nullptr, kernel)[0][-1];
    } else if (cache.length() == 0) {
      next = model->forward(tail(window), &cache, kernel)[0][-1];
    } else {
      next = model->forward(tail(1), &cache, kernel)[0][-1];
    }
    if (useCache && reach) cache.dropUnreachable(*reach);
    next = penalizeRepeats(next, context, options.repetitionPenalty);
    const int64_t token = pickToken(next, options, options.greedy ? 0.0 : unit(rng));
    result.tokens.push_back(token);
    context.push_back(token);
    if (onToken && !onToken(token)) break;
    if (options.stopOnEos && token == cfg.eosTokenId) {
      result.stoppedOnEos = true;
      break;
    }
  }
  result.cache.peakKeys = cache.peakKeys();
  result.cache.peakBytes = cache.peakBytes();
  result.cache.droppedKeys = cache.droppedKeys();
  if (reach) {
    result.cache.bounded = true;
    result.cache.sinks = reach->sinks;
    result.cache.window = reach->window;
  }
  return result;
}

}  // namespace attnx
