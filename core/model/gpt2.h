// The reference GPT-2 (Radford et al. 2019), Hugging Face layout: modules are registered under the
// checkpoint's own names (wte, wpe, h.N.ln_1, h.N.attn.c_attn, ..., ln_f), so loading is a walk over
// named_parameters(). Linear weights are stored [out, in]; the checkpoint's Conv1D [in, out] is
// transposed once by the loader. The LM head is tied to wte unless a separate lm_head is loaded.
#pragma once

#include <limits>
#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "core/model/attention_kernel.h"
#include "core/model/gpt2_config.h"

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

class Gpt2AttentionImpl : public torch::nn::Module {
 public:
  explicit Gpt2AttentionImpl(const Gpt2Config& cfg);
  // x: (B, T, C) -> (B, T, C)
  torch::Tensor forward(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel, KvCache* cache);
  // Attention probabilities (B, H, T, T) of a full causal pass, for heatmaps.
  torch::Tensor probabilities(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel);

  torch::nn::Linear c_attn{nullptr}, c_proj{nullptr};

 private:
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> splitHeads(const torch::Tensor& x);
  int64_t numHeads_;
};
TORCH_MODULE(Gpt2Attention);

class Gpt2MlpImpl : public torch::nn::Module {
 public:
  explicit Gpt2MlpImpl(const Gpt2Config& cfg);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(Gpt2Mlp);

class Gpt2BlockImpl : public torch::nn::Module {
 public:
  explicit Gpt2BlockImpl(const Gpt2Config& cfg);
  torch::Tensor forward(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel, KvCache* cache);
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Gpt2Attention attn{nullptr};
  Gpt2Mlp mlp{nullptr};
};
TORCH_MODULE(Gpt2Block);

class Gpt2Impl : public torch::nn::Module {
 public:
  explicit Gpt2Impl(const Gpt2Config& cfg);

  const Gpt2Config& config() const { return config_; }

  // ids: (B, T) int64. Positions start at cache->length() when a cache is given (else 0).
  // kernel: the attention to use (nullptr: dense causal, i.e. GPT-2 itself).
  // Returns the final hidden states after ln_f, (B, T, C).
  torch::Tensor hidden(const torch::Tensor& ids, KvCache* cache = nullptr, const AttentionKernel* kernel = nullptr);
  // Hidden states (B, T, C) -> logits (B, T, V).
  torch::Tensor logits(const torch::Tensor& hidden);
  torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr, const AttentionKernel* kernel = nullptr) {
    return logits(hidden(ids, cache, kernel));
  }
  // Attention probabilities of every layer, each (B, H, T, T), for one full causal pass.
  std::vector<torch::Tensor> attentionMaps(const torch::Tensor& ids, const AttentionKernel* kernel = nullptr);

  // A separate output projection, used only when a checkpoint holds an lm_head that differs from wte.
  void untieLmHead(const torch::Tensor& weight);
  bool lmHeadTied() const { return !lm_head.defined(); }
  const torch::Tensor& lmHeadWeight() const { return lm_head.defined() ? lm_head : wte->weight; }

  // Random GPT-2 initialisation (normal 0.02, residual projections scaled by 1/sqrt(2·layers)).
  void initWeights(uint64_t seed);

  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};

 private:
  torch::Tensor embed(const torch::Tensor& ids, int64_t offset);
  Gpt2Config config_;
  torch::Tensor lm_head;  // undefined when tied
};
TORCH_MODULE(Gpt2);

}  // namespace attnx
