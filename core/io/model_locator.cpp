#include "core/io/model_locator.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>


namespace attnx {
namespace fs = std::filesystem;

namespace {

bool hasModel(const fs::path& dir) {
  return fs::is_regular_file(dir / "config.json") && fs::is_regular_file(dir / "model.safetensors");
}

bool hasTokenizer(const fs::path& dir) {
  return fs::is_regular_file(dir / "vocab.json") && fs::is_regular_file(dir / "merges.txt");
}

// <prefix>/share/attnx when running from <prefix>/bin.
fs::path installedShareDir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / "share" / "attnx";
}

}  // namespace

std::string defaultModelDir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ATTNX_DEFAULT_MODEL"); env && *env) candidates.emplace_back(env);
  if (auto share = installedShareDir(); !share.empty()) candidates.push_back(share / "default-model");
  candidates.push_back(fs::path(ATTNX_SOURCE_RESOURCES) / "default-model");
  for (const auto& c : candidates)
    if (hasModel(c)) return c.string();
  throw std::runtime_error(
      "no default model is installed; name a GPT-2 folder with --model DIR "
      "(config.json + model.safetensors, e.g. gpt2 from the Hugging Face hub)");
}

std::string resolveModelDir(const std::optional<std::string>& requested) {
  return requested ? *requested : defaultModelDir();
}

std::string tokenizerDirFor(const std::string& modelDir) {
  if (hasTokenizer(modelDir)) return modelDir;
  // Installed files first: an installed attnx must not depend on the tree it was built from.
  if (auto share = installedShareDir(); !share.empty() && hasTokenizer(share / "gpt2-tokenizer"))
    return (share / "gpt2-tokenizer").string();
  const fs::path fetched = fs::path(ATTNX_SOURCE_DATA) / "gpt2-tokenizer";
  if (hasTokenizer(fetched)) return fetched.string();
  throw std::runtime_error(modelDir + ": no vocab.json/merges.txt in the model folder and no fetched GPT-2 "
                           "tokenizer (run scripts/fetch_data.sh)");
}

}  // namespace attnx
