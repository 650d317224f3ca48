// What every attnx-cli subcommand shares: global options, model loading, output helpers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/data/token_corpus.h"
#include "core/io/bpe_tokenizer.h"
#include "core/model/gpt2.h"

namespace attnx::cli {

struct GlobalOptions {
  std::optional<std::string> modelDir;  // --model
  std::string device = "cpu";            // --device
  int threads = 0;                       // --threads (0: LibTorch's default)
  bool json = false;                     // --json
};

// Option checks for numbers > 0 and >= 0. (CLI11's PositiveNumber and NonNegativeNumber are
// ranges up to DBL_MAX, which their messages print in full: 309 digits.)
extern const CLI::Validator Positive;
extern const CLI::Validator NonNegative;

// Adds --json to a subcommand (so it can be written after the subcommand name too).
void addJsonFlag(CLI::App* sub, GlobalOptions& g);
// Adds --model to a subcommand.
void addModelOption(CLI::App* sub, GlobalOptions& g);

// Applies --threads, validates --device. Throws std::runtime_error on an unusable device.
torch::Device selectDevice(const GlobalOptions& g);

Gpt2 loadModel(const GlobalOptions& g);
BpeTokenizer loadTokenizer(const GlobalOptions& g);

// Throws std::runtime_error when an id is outside the model's vocabulary (e.g. a text tokenized
// with GPT-2's tokenizer given to a model with a smaller vocabulary).
void checkIdsFit(const std::vector<int64_t>& ids, Gpt2& model);

// Parses "1,2,3" (spaces allowed). Throws CLI::ValidationError naming the bad item.
std::vector<int64_t> parseIdList(const std::string& text, const std::string& option);

// A .txt file or folder tokenized, with the token cache in the system's temporary folder.
TokenCorpus loadCorpus(const std::string& path, const BpeTokenizer& tok);

void printJson(const nlohmann::json& j);

}  // namespace attnx::cli
