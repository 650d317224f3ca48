// Deterministic window sampling (see window_sampler.h).
#include "core/data/window_sampler.h"

#include <stdexcept>
#include <string>

#include "core/data/token_corpus.h"

namespace attnx {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Independent stream per (seed, step, index): each coordinate is folded in through the finalizer,
// so neighbouring steps or indices give unrelated states (no shared lattice structure).
uint64_t streamState(uint64_t seed, uint64_t step, uint64_t index) {
  uint64_t h = mix64(seed ^ 0x6174746E78ULL);  // "attnx"
  h = mix64(h ^ mix64(step + 0x9E3779B97F4A7C15ULL));
  h = mix64(h ^ mix64(index + 0xD1B54A32D192ED03ULL));
  return h;
}

std::vector<int64_t> slice(const std::vector<int32_t>& ids, int64_t start, int64_t len) {
  return std::vector<int64_t>(ids.begin() + start, ids.begin() + start + len);
}

}  // namespace

uint64_t splitmix64Next(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  return mix64(state);
}

uint64_t uniformBelow(uint64_t& state, uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("uniformBelow: bound must be >= 1");
  // Reject the lowest (2^64 mod bound) values so that every residue is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = splitmix64Next(state);
    if (r >= threshold) return r % bound;
  }
}

WindowSampler::WindowSampler(const TokenCorpus& corpus, int64_t windowLen, uint64_t seed)
    : corpus_(&corpus), windowLen_(windowLen), seed_(seed) {
  if (windowLen < 1)
    throw std::invalid_argument("WindowSampler: window length must be >= 1, got " + std::to_string(windowLen));
  if (corpus.size() < windowLen)
    throw std::runtime_error("WindowSampler: the corpus has " + std::to_string(corpus.size()) +
                             " tokens, fewer than one window of " + std::to_string(windowLen));
}

std::vector<int64_t> WindowSampler::batchStarts(int64_t batchSize, int64_t step) const {
  if (batchSize < 0) throw std::invalid_argument("WindowSampler::batch: negative batch size");
  if (step < 0) throw std::invalid_argument("WindowSampler::batch: negative step");
  const auto choices = uint64_t(corpus_->size() - windowLen_) + 1;
  std::vector<int64_t> starts(static_cast<size_t>(batchSize));
  for (int64_t i = 0; i < batchSize; ++i) {
    uint64_t state = streamState(seed_, uint64_t(step), uint64_t(i));
    starts[size_t(i)] = int64_t(uniformBelow(state, choices));
  }
  return starts;
}

std::vector<std::vector<int64_t>> WindowSampler::batch(int64_t batchSize, int64_t step) const {
  std::vector<std::vector<int64_t>> out;
  out.reserve(size_t(batchSize < 0 ? 0 : batchSize));
  for (int64_t start : batchStarts(batchSize, step)) out.push_back(slice(corpus_->ids(), start, windowLen_));
  return out;
}

std::vector<std::vector<int64_t>> WindowSampler::evalWindows(int64_t windowLen, int64_t maxWindows) const {
  if (windowLen < 1)
    throw std::invalid_argument("WindowSampler::evalWindows: window length must be >= 1, got " +
                                std::to_string(windowLen));
  if (maxWindows < 0) throw std::invalid_argument("WindowSampler::evalWindows: negative maxWindows");
  if (corpus_->size() < windowLen)
    throw std::runtime_error("WindowSampler::evalWindows: the corpus has " + std::to_string(corpus_->size()) +
                             " tokens, fewer than one window of " + std::to_string(windowLen));
  int64_t count = corpus_->size() / windowLen;
  if (maxWindows > 0 && maxWindows < count) count = maxWindows;
  std::vector<std::vector<int64_t>> out;
  out.reserve(size_t(count));
  for (int64_t k = 0; k < count; ++k) out.push_back(slice(corpus_->ids(), k * windowLen, windowLen));
  return out;
}

}  // namespace attnx
