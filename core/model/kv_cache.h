// The keys and values a GPT-2 keeps between decoding steps (Gpt2::forward with a cache).
#pragma once

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/model/attention_kernel.h"

namespace attnx {

// Keys and values of every layer for incremental decoding, preallocated to a capacity so that
// appending a token copies one row, not the whole cache.
//
// Bounded: a student whose attention only reaches sinks and a window (AttentionKernel::keyReach)
// needs no older keys, so dropUnreachable() evicts them. Positions stay absolute (GPT-2's learned
// position embeddings and the masks need them): length() still counts every token seen, and the
// rows held are positions 0 .. sinks-1 followed by the last ones; keyPositions() says which.
class KvCache {
 public:
  // Tokens seen so far, i.e. the position of the next one.
  int64_t length() const { return length_; }
  // Rows held per layer: length() minus the dropped keys.
  int64_t heldKeys() const { return length_ - dropped_; }
  int64_t droppedKeys() const { return dropped_; }
  int64_t capacity() const { return capacity_; }
  void clear();
  // Appends (B,H,T,d) keys/values of `layer` and returns views (B,H,heldKeys()+T,d) of all held ones.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  // Absolute positions of the rows append() returns when `added` new tokens follow the held ones.
  std::vector<int64_t> keyPositions(int64_t added) const;
  // Called once per forward, after every layer appended, to advance the length.
  void commit(int64_t added) { length_ += added; }

  // Drops every key no query at position length() or later can attend under `reach`: keeps positions
  // j < reach.sinks and j > length() - reach.window. Each call must use the same reach.
  void dropUnreachable(const KeyReach& reach);
  // Growth never goes beyond max(rows needed, `rows`): a bounded cache sets sinks + window, so that
  // decoding allocates that much and no more (appending T > 1 tokens still grows as needed).
  void limitCapacity(int64_t rows) { capacityLimit_ = rows; }

  // Bytes of the key and value tensors allocated now, all layers, and the most at any time.
  int64_t bytes() const;
  int64_t peakBytes() const { return peakBytes_; }
  // The most rows a layer's keys held during a forward (held keys plus the appended ones).
  int64_t peakKeys() const { return peakKeys_; }

 private:
  std::vector<torch::Tensor> keys_, values_;  // per layer, (B, H, capacity, d)
  int64_t length_ = 0, capacity_ = 0;
  int64_t sinks_ = 0, dropped_ = 0;  // rows 0..sinks_-1 hold positions 0..sinks_-1, row r >= sinks_ position r + dropped_
  int64_t capacityLimit_ = std::numeric_limits<int64_t>::max();
  int64_t peakBytes_ = 0, peakKeys_ = 0;
};

}  // namespace attnx
