// A loaded GPT-2 and its tokenizer, shared by everything in a process that reads it: a run's
// analysis, the model panel, a distillation that keeps the weights frozen. One copy of the weights
// however many views look at them (gpt2-xl is 6 GB in float32).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/io/bpe_tokenizer.h"
#include "core/model/gpt2.h"

namespace attnx {

struct Teacher {
  std::string dir;  // the folder it was loaded from, as resolveModelDir gave it
  Gpt2 model{nullptr};
  // Absent when none was found (the model still loads for what needs only ids; tokenizerProblem
  // says why). It may know more tokens than a small model's vocabulary: readers of text check ids.
  std::optional<BpeTokenizer> tokenizer;
  std::string tokenizerProblem;

  // Loads a GPT-2 folder (nullopt: the default model), in eval mode, and the tokenizer beside it.
  // Throws std::runtime_error naming the file.
  static std::shared_ptr<Teacher> load(const std::optional<std::string>& dir,
                                       const torch::Device& device = torch::kCPU);
  // `loaded` when it matches (dir, device), else a fresh load.
  static std::shared_ptr<Teacher> reuseOrLoad(const std::shared_ptr<Teacher>& loaded,
                                              const std::optional<std::string>& dir,
                                              const torch::Device& device = torch::kCPU);
  // Whether this is the model of folder `dir` (nullopt: the default model; the same folder however
  // spelled, links followed) on `device`.
  bool matches(const std::optional<std::string>& dir, const torch::Device& device) const;

  // The tokenizer; throws std::runtime_error with tokenizerProblem when there is none.
  const BpeTokenizer& requireTokenizer() const;
  int64_t parameterCount() const;
  int64_t parameterBytes() const;
};

}  // namespace attnx
