#include "core/model/gpt2_config.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/util/json_document.h"

namespace attnx {
namespace {

using nlohmann::json;

// Reads the first key present among `names` as an integer; missing keys keep `fallback`.
int64_t readInt(const json& j, std::initializer_list<const char*> names, int64_t fallback,
                const std::string& origin) {
  for (const char* name : names) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number_integer())
      throw std::runtime_error(origin + ": field \"" + name + "\" must be an integer");
    return it->get<int64_t>();
  }
  return fallback;
}

}  // namespace

void Gpt2Config::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("invalid GPT-2 config: " + what);
  };
  need(vocabSize > 0, "vocab_size must be positive, got " + std::to_string(vocabSize));
  need(contextLength > 0, "n_positions must be positive, got " + std::to_string(contextLength));
  need(embedDim > 0, "n_embd must be positive, got " + std::to_string(embedDim));
  need(numLayers > 0, "n_layer must be positive, got " + std::to_string(numLayers));
  need(numHeads > 0, "n_head must be positive, got " + std::to_string(numHeads));
  need(embedDim % numHeads == 0, "n_embd (" + std::to_string(embedDim) +
                                     ") must be divisible by n_head (" + std::to_string(numHeads) + ")");
  need(layerNormEps > 0, "layer_norm_epsilon must be positive");
  // Far beyond any GPT-2 (gpt2-xl: 50257, 1024, 1600, 48, 25), and small enough that every size
  // derived from them fits int64: a hostile config.json is refused before anything is allocated.
  need(vocabSize <= (int64_t{1} << 24), "vocab_size must be at most 2^24, got " + std::to_string(vocabSize));
  need(contextLength <= (int64_t{1} << 20), "n_positions must be at most 2^20, got " + std::to_string(contextLength));
  need(embedDim <= (int64_t{1} << 16), "n_embd must be at most 65536, got " + std::to_string(embedDim));
  need(numLayers <= 1024, "n_layer must be at most 1024, got " + std::to_string(numLayers));
}

Gpt2Config Gpt2Config::fromJsonText(const std::string& text, const std::string& origin) {
  const json j = parseJsonDocument(text, origin);
  if (!j.is_object()) throw std::runtime_error(origin + ": expected a JSON object");
  if (auto it = j.find("activation_function"); it != j.end() && it->is_string()) {
    const auto act = it->get<std::string>();
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      throw std::runtime_error(origin + ": activation_function \"" + act +
                               "\" is not supported (GPT-2 uses gelu_new)");
  }
  Gpt2Config c;
  c.vocabSize = readInt(j, {"vocab_size", "n_vocab"}, c.vocabSize, origin);
  c.contextLength = readInt(j, {"n_positions", "n_ctx", "max_position_embeddings"}, c.contextLength, origin);
  c.embedDim = readInt(j, {"n_embd", "hidden_size"}, c.embedDim, origin);
  c.numLayers = readInt(j, {"n_layer", "num_hidden_layers"}, c.numLayers, origin);
  c.numHeads = readInt(j, {"n_head", "num_attention_heads"}, c.numHeads, origin);
  c.eosTokenId = readInt(j, {"eos_token_id"}, c.eosTokenId, origin);
  if (auto it = j.find("layer_norm_epsilon"); it != j.end()) {
    if (!it->is_number()) throw std::runtime_error(origin + ": field \"layer_norm_epsilon\" must be a number");
    c.layerNormEps = it->get<double>();
  }
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
  const bool eosGiven = j.contains("eos_token_id") && !j["eos_token_id"].is_null();
  if (eosGiven && (c.eosTokenId < 0 || c.eosTokenId >= c.vocabSize))
    throw std::runtime_error(origin + ": field \"eos_token_id\" is " + std::to_string(c.eosTokenId) +
                             ", outside the vocabulary 0.." + std::to_string(c.vocabSize - 1));
  if (!eosGiven && c.eosTokenId >= c.vocabSize) c.eosTokenId = -1;  // GPT-2's default id is not in this vocabulary: none
  return c;
}

Gpt2Config Gpt2Config::fromJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (missing config.json?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromJsonText(ss.str(), path);
}

std::string Gpt2Config::toJsonText() const {
  const bool hasEos = eosTokenId >= 0 && eosTokenId < vocabSize;  // else none (null), as it reads back
  json j = {
      {"model_type", "gpt2"},
      {"architectures", {"GPT2LMHeadModel"}},
      {"activation_function", "gelu_new"},
      {"vocab_size", vocabSize},
      {"n_positions", contextLength},
      {"n_ctx", contextLength},
      {"n_embd", embedDim},
      {"n_layer", numLayers},
      {"n_head", numHeads},
      {"layer_norm_epsilon", layerNormEps},
      {"bos_token_id", hasEos ? json(eosTokenId) : json()},
      {"eos_token_id", hasEos ? json(eosTokenId) : json()},
  };
  return j.dump(2) + "\n";
}

Gpt2Config Gpt2Config::preset(const std::string& name) {
  Gpt2Config c;
  if (name == "gpt2") return c;
  if (name == "distilgpt2") { c.numLayers = 6; return c; }
  if (name == "gpt2-medium") { c.embedDim = 1024; c.numLayers = 24; c.numHeads = 16; return c; }
  if (name == "gpt2-large") { c.embedDim = 1280; c.numLayers = 36; c.numHeads = 20; return c; }
  if (name == "gpt2-xl") { c.embedDim = 1600; c.numLayers = 48; c.numHeads = 25; return c; }
  if (name == "tiny") { c.embedDim = 64; c.numLayers = 2; c.numHeads = 4; c.contextLength = 256; return c; }
  throw std::invalid_argument("unknown model preset \"" + name +
                              "\" (expected gpt2, distilgpt2, gpt2-medium, gpt2-large, gpt2-xl or tiny)");
}

}  // namespace attnx
