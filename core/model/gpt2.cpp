#include "core/model/gpt2.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "core/model/dense_attention.h"

namespace attnx {

// ---- Attention --------------------------------------------------------------------------------

Gpt2AttentionImpl::Gpt2AttentionImpl(const Gpt2Config& cfg) : numHeads_(cfg.numHeads) {
  c_attn = register_module("c_attn", torch::nn::Linear(cfg.embedDim, 3 * cfg.embedDim));
  c_proj = register_module("c_proj", torch::nn::Linear(cfg.embedDim, cfg.embedDim));
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> Gpt2AttentionImpl::splitHeads(const torch::Tensor& x) {
  const auto B = x.size(0), T = x.size(1), C = x.size(2);
  auto qkv = c_attn->forward(x).split(C, /*dim=*/2);  // 3 × (B, T, C)
  auto heads = [&](const torch::Tensor& t) {
    return t.view({B, T, numHeads_, C / numHeads_}).transpose(1, 2);  // (B, H, T, d)
  };
  return {heads(qkv[0]), heads(qkv[1]), heads(qkv[2])};
}

torch::Tensor Gpt2AttentionImpl::forward(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel,
                                         KvCache* cache) {
  const auto B = x.size(0), T = x.size(1), C = x.size(2);
  auto [q, k, v] = splitHeads(x);
  torch::Tensor y;
  if (!cache) {
    y = kernel.forward(q, k, v, layer, 0);  // (B, H, T, d)
  } else if (cache->droppedKeys() == 0) {
    const int64_t offset = cache->length();
    std::tie(k, v) = cache->append(layer, k, v);  // (B, H, offset+T, d)
    y = kernel.forward(q, k, v, layer, offset);
  } else {
    // A bounded cache: the keys held are not a prefix, so the kernel is told their positions.
    std::tie(k, v) = cache->append(layer, k, v);  // (B, H, held+T, d)
    y = kernel.forwardAt(q, k, v, layer, cache->keyPositions(T));
  }
  y = y.transpose(1, 2).contiguous().view({B, T, C});           // (B, T, C)
  return c_proj->forward(y);
}

torch::Tensor Gpt2AttentionImpl::probabilities(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel) {
  auto [q, k, v] = splitHeads(x);
  return kernel.probabilities(q, k, layer, 0);  // (B, H, T, T)
}

// ---- MLP and block ----------------------------------------------------------------------------

Gpt2MlpImpl::Gpt2MlpImpl(const Gpt2Config& cfg) {
  c_fc = register_module("c_fc", torch::nn::Linear(cfg.embedDim, 4 * cfg.embedDim));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * cfg.embedDim, cfg.embedDim));
}

torch::Tensor Gpt2MlpImpl::forward(const torch::Tensor& x) {
  // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), GPT-2's tanh approximation.
  return c_proj->forward(torch::gelu(c_fc->forward(x), "tanh"));
}

Gpt2BlockImpl::Gpt2BlockImpl(const Gpt2Config& cfg) {
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.embedDim}).eps(cfg.layerNormEps)); };
  ln_1 = register_module("ln_1", ln());
  attn = register_module("attn", Gpt2Attention(cfg));
  ln_2 = register_module("ln_2", ln());
  mlp = register_module("mlp", Gpt2Mlp(cfg));
}

torch::Tensor Gpt2BlockImpl::forward(const torch::Tensor& x, int64_t layer, const AttentionKernel& kernel,
                                     KvCache* cache) {
  auto h = x + attn->forward(ln_1->forward(x), layer, kernel, cache);
  return h + mlp->forward(ln_2->forward(h));
}

// ---- The model --------------------------------------------------------------------------------

Gpt2Impl::Gpt2Impl(const Gpt2Config& cfg) : config_(cfg) {
  config_.validate();
  wte = register_module("wte", torch::nn::Embedding(cfg.vocabSize, cfg.embedDim));
  wpe = register_module("wpe", torch::nn::Embedding(cfg.contextLength, cfg.embedDim));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t l = 0; l < cfg.numLayers; ++l) h->push_back(Gpt2Block(cfg));
  ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.embedDim}).eps(cfg.layerNormEps)));
}

torch::Tensor Gpt2Impl::embed(const torch::Tensor& ids, int64_t offset) {
  if (ids.dim() != 2) throw std::invalid_argument("GPT-2 expects token ids of shape (batch, time)");
  const int64_t T = ids.size(1);
  if (offset + T > config_.contextLength)
    throw std::invalid_argument("sequence of " + std::to_string(offset + T) + " tokens exceeds the model's context of " +
                                std::to_string(config_.contextLength) + " positions");
  if (T > 0) {
    const auto lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocabSize)
      throw std::invalid_argument("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary [0, " +
                                  std::to_string(config_.vocabSize) + ")");
  }
  auto pos = torch::arange(offset, offset + T, torch::TensorOptions().dtype(torch::kLong).device(ids.device()));
  return wte->forward(ids) + wpe->forward(pos).unsqueeze(0);  // (B, T, C)
}

torch::Tensor Gpt2Impl::hidden(const torch::Tensor& ids, KvCache* cache, const AttentionKernel* kernel) {
  static const DenseCausalAttention dense;
  const AttentionKernel& k = kernel ? *kernel : dense;
  const int64_t offset = cache ? cache->length() : 0;
  auto x = embed(ids, offset);
  for (int64_t l = 0; l < config_.numLayers; ++l) x = h[l]->as<Gpt2Block>()->forward(x, l, k, cache);
  if (cache) cache->commit(ids.size(1));
  return ln_f->forward(x);
}

torch::Tensor Gpt2Impl::logits(const torch::Tensor& hidden) {
  return torch::matmul(hidden, lmHeadWeight().t());  // (B, T, V)
}

std::vector<torch::Tensor> Gpt2Impl::attentionMaps(const torch::Tensor& ids, const AttentionKernel* kernel) {
  static const DenseCausalAttention dense;
  const AttentionKernel& k = kernel ? *kernel : dense;
  std::vector<torch::Tensor> maps;
  auto x = embed(ids, 0);
  for (int64_t l = 0; l < config_.numLayers; ++l) {
    auto block = h[l]->as<Gpt2Block>();
    maps.push_back(block->attn->probabilities(block->ln_1->forward(x), l, k));
    x = block->forward(x, l, k, nullptr);
  }
  return maps;
}

void Gpt2Impl::untieLmHead(const torch::Tensor& weight) {
  lm_head = register_parameter("lm_head", weight.detach().clone(), /*requires_grad=*/false);
}

void Gpt2Impl::initWeights(uint64_t seed) {
  torch::NoGradGuard noGrad;
  auto gen = at::detail::createCPUGenerator(seed);
  const double residualStd = 0.02 / std::sqrt(2.0 * config_.numLayers);
  for (auto& p : named_parameters()) {
    const auto& name = p.key();
    auto& t = p.value();
    auto endsWith = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (endsWith("ln_1.weight") || endsWith("ln_2.weight") || endsWith("ln_f.weight")) {
      t.fill_(1.0);
    } else if (endsWith(".bias")) {
      t.zero_();
    } else {
      const double std = endsWith("c_proj.weight") ? residualStd : 0.02;
      t.copy_(at::normal(0.0, std, t.sizes(), gen, t.options()));
    }
  }
}

}  // namespace attnx
