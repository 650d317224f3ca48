#include "core/train/run_folder.h"

#include <filesystem>
#include <stdexcept>

namespace attnx {

const std::vector<std::string>& distillRunFiles() {
  static const std::vector<std::string> files = {"run.json", "metrics.csv", "learned_bank.json", "student.safetensors"};
  return files;
}

void requireNoRunIn(const std::string& dir, const std::vector<std::string>& files) {
  std::string found;
  for (const auto& f : files) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(dir) / f, ec)) found += (found.empty() ? "" : ", ") + f;
  }
  if (!found.empty())
    throw std::runtime_error(dir + ": already holds a run (" + found +
                             "); resume that run or choose another run folder, so that two runs never mix");
}

}  // namespace attnx
