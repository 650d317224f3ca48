// GPT-2 hyper-parameters, read from and written to a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <string>

namespace attnx {

struct Gpt2Config {
  int64_t vocabSize = 50257;   // n_vocab / vocab_size
  int64_t contextLength = 1024; // n_positions
  int64_t embedDim = 768;       // n_embd
  int64_t numLayers = 12;       // n_layer
  int64_t numHeads = 12;        // n_head
  double layerNormEps = 1e-5;   // layer_norm_epsilon
  int64_t eosTokenId = 50256;   // eos_token_id

  int64_t headDim() const { return embedDim / numHeads; }

  // Throws std::invalid_argument naming the first bad field.
  void validate() const;

  // Reads config.json; accepts both GPT-2 spellings (n_embd / hidden_size, ...).
  // Throws std::runtime_error "<path>: ..." with the field at fault.
  static Gpt2Config fromJsonFile(const std::string& path);
  static Gpt2Config fromJsonText(const std::string& text, const std::string& origin);
  std::string toJsonText() const;

  // Named shapes for tests, benchmarks and pretraining: "gpt2" (124M), "distilgpt2", "gpt2-medium",
  // "gpt2-large", "gpt2-xl", "tiny" (2 layers, width 64). Throws std::invalid_argument otherwise.
  static Gpt2Config preset(const std::string& name);
};

}  // namespace attnx
