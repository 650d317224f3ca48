#include "core/eval/teacher.h"

#include <filesystem>
#include <stdexcept>

#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"

namespace attnx {

std::shared_ptr<Teacher> Teacher::load(const std::optional<std::string>& dir, const torch::Device& device) {
  const auto resolved = resolveModelDir(dir);
  Gpt2LoadOptions options;
  options.device = device;
  auto model = loadGpt2(resolved, options);
  model->eval();
  // A teacher is frozen: no reader builds a graph through its weights unless a trainer says so.
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  auto t = std::make_shared<Teacher>();
  t->dir = resolved;
  try {
    t->tokenizer = BpeTokenizer::fromFolder(tokenizerDirFor(resolved));
  } catch (const std::exception& e) {
    t->tokenizerProblem = e.what();
  }
  t->model = std::move(model);
  return t;
}

const BpeTokenizer& Teacher::requireTokenizer() const {
  if (!tokenizer) throw std::runtime_error(tokenizerProblem.empty() ? dir + ": no tokenizer" : tokenizerProblem);
  return *tokenizer;
}

std::shared_ptr<Teacher> Teacher::reuseOrLoad(const std::shared_ptr<Teacher>& loaded,
                                              const std::optional<std::string>& dir, const torch::Device& device) {
  if (loaded && loaded->matches(dir, device)) return loaded;
  return load(dir, device);
}

bool Teacher::matches(const std::optional<std::string>& other, const torch::Device& device) const {
  if (model->wte->weight.device() != device) return false;
  std::error_code ea, eb;  // a folder that cannot be resolved matches nothing
  const auto a = std::filesystem::canonical(dir, ea), b = std::filesystem::canonical(resolveModelDir(other), eb);
  return !ea && !eb && a == b;
}

int64_t Teacher::parameterCount() const {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

int64_t Teacher::parameterBytes() const {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel() * static_cast<int64_t>(p.element_size());
  return n;
}

}  // namespace attnx
