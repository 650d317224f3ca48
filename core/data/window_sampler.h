// Training and evaluation windows over a TokenCorpus. Training windows are a pure function of
// (seed, step, index in batch), so a run resumed at step s draws exactly the batches an
// uninterrupted run would, on any platform and compiler (no std:: distributions).
#pragma once

#include <cstdint>
#include <vector>

namespace attnx {

class TokenCorpus;

class WindowSampler {
public:
  // Keeps a reference: `corpus` must outlive the sampler. Windows are windowLen tokens; a caller
  // that needs next-token targets asks for windowLen + 1. Throws std::invalid_argument for
  // windowLen < 1 and std::runtime_error if the corpus has fewer than windowLen tokens.
  WindowSampler(const TokenCorpus& corpus, int64_t windowLen, uint64_t seed);

  // batchSize windows, each corpus.ids()[start, start + windowLen) with start uniform on
  // [0, size - windowLen] (unbiased, by rejection), drawn independently (with replacement).
  // Throws std::invalid_argument for batchSize < 0 or step < 0.
  std::vector<std::vector<int64_t>> batch(int64_t batchSize, int64_t step) const;
  // The starts batch() uses, for logging and tests.
  std::vector<int64_t> batchStarts(int64_t batchSize, int64_t step) const;

  // Consecutive non-overlapping windows from the start of the corpus: [0, L), [L, 2L), ...; the
  // tail shorter than L is dropped. At most maxWindows (0 = all). Throws std::invalid_argument for
  // windowLen < 1 or maxWindows < 0, std::runtime_error if the corpus is shorter than windowLen.
  std::vector<std::vector<int64_t>> evalWindows(int64_t windowLen, int64_t maxWindows) const;

  int64_t windowLen() const { return windowLen_; }
  uint64_t seed() const { return seed_; }

private:
  const TokenCorpus* corpus_;
  int64_t windowLen_;
  uint64_t seed_;
};

// The generator, exposed so that tests and other deterministic parts can use the same one.
// splitmix64 (Steele, Lea, Flood 2014): `state` advances by the golden-ratio increment.
uint64_t splitmix64Next(uint64_t& state);
// Uniform on [0, bound) (bound >= 1), unbiased by rejection, drawing from splitmix64Next.
uint64_t uniformBelow(uint64_t& state, uint64_t bound);

}  // namespace attnx
