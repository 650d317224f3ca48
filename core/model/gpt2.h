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
#include "core/model/kv_cache.h"

namespace attnx {

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
