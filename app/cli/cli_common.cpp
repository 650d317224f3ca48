#include "app/cli/cli_common.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"

namespace attnx::cli {

namespace {

// A finite number above 0 (or equal to it, with orEqual).
CLI::Validator aboveZero(bool orEqual) {
  const std::string rule = orEqual ? ">= 0" : "> 0";
  return CLI::Validator(
      [orEqual, rule](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(v)) return "must be a finite number " + rule + ", got " + text;
        if (orEqual ? v < 0 : v <= 0) return "must be " + rule + ", got " + text;
        return "";
      },
      orEqual ? "NONNEGATIVE" : "POSITIVE");
}

}  // namespace

const CLI::Validator Positive = aboveZero(false);
const CLI::Validator NonNegative = aboveZero(true);

void addJsonFlag(CLI::App* sub, GlobalOptions& g) {
  sub->add_flag("--json", g.json, "Print one JSON document instead of text");
}

void addModelOption(CLI::App* sub, GlobalOptions& g) {
  sub->add_option("--model", g.modelDir, "GPT-2 folder (config.json, model.safetensors); default: the embedded model");
}

torch::Device selectDevice(const GlobalOptions& g) {
  if (g.threads > 0) torch::set_num_threads(g.threads);
  if (g.device == "cpu") return torch::kCPU;
  if (g.device == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("--device cuda: no CUDA device is available (this build or machine has none)");
    return torch::kCUDA;
  }
  throw std::runtime_error("--device must be cpu or cuda, got \"" + g.device + "\"");
}

Gpt2 loadModel(const GlobalOptions& g) {
  Gpt2LoadOptions options;
  options.device = selectDevice(g);
  return loadGpt2(resolveModelDir(g.modelDir), options);
}

BpeTokenizer loadTokenizer(const GlobalOptions& g) {
  return BpeTokenizer::fromFolder(tokenizerDirFor(resolveModelDir(g.modelDir)));
}

std::vector<int64_t> parseIdList(const std::string& text, const std::string& option) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first == std::string::npos) throw CLI::ValidationError(option, "empty item in id list \"" + text + "\"");
    item = item.substr(first, last - first + 1);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0)
      throw CLI::ValidationError(option, "\"" + item + "\" is not a token id (a non-negative integer)");
    ids.push_back(v);
  }
  if (ids.empty()) throw CLI::ValidationError(option, "no token ids given");
  return ids;
}

void checkIdsFit(const std::vector<int64_t>& ids, Gpt2& model) {
  const int64_t vocab = model->config().vocabSize;
  for (auto id : ids)
    if (id >= vocab)
      throw std::runtime_error("token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                               std::to_string(vocab) + " (does the tokenizer belong to this model?)");
}

TokenCorpus loadCorpus(const std::string& path, const BpeTokenizer& tok) {
  const auto cache = (std::filesystem::temp_directory_path() / "attnx-token-cache").string();
  return TokenCorpus::load(path, tok, cache);
}

void printJson(const nlohmann::json& j) {
  // Invalid UTF-8 (a token that is part of a character) is replaced, never an exception.
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace attnx::cli
