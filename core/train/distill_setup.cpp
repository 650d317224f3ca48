#include "core/train/distill_setup.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "core/data/token_corpus.h"
#include "core/data/window_sampler.h"
#include "core/io/model_locator.h"

namespace attnx {
namespace {

// A text tokenized with GPT-2's tokenizer can hold ids beyond a small model's vocabulary.
void checkIdsFit(const TokenCorpus& corpus, int64_t vocab, const std::string& path) {
  if (corpus.ids().empty()) return;
  const int32_t maxId = *std::max_element(corpus.ids().begin(), corpus.ids().end());
  if (maxId >= vocab)
    throw std::runtime_error(path + ": the text has token id " + std::to_string(maxId) + " but the teacher's vocabulary has " +
                             std::to_string(vocab) + " tokens. Use a model with GPT-2's vocabulary or text it can encode.");
}

}  // namespace

DistillInputs prepareDistill(const DistillConfig& config, DistillSetupOptions o) {
  auto say = [&](const std::string& line) {
    if (o.say) o.say(line);
  };
  const std::optional<std::string> teacherDir =
      config.teacherDir.empty() ? std::nullopt : std::optional<std::string>(config.teacherDir);
  DistillInputs in;
  // A run that trains every weight changes them in place: it never gets the shared teacher.
  if (o.loaded && !config.trainAllWeights && o.loaded->matches(teacherDir, o.device)) {
    in.teacher = o.loaded;
    say("Using the loaded teacher " + in.teacher->dir);
  } else {
    say("Loading the teacher from " + resolveModelDir(teacherDir));
    in.teacher = Teacher::load(teacherDir, o.device);
  }
  const auto& tok = in.teacher->requireTokenizer();
  const int64_t vocab = in.teacher->model->config().vocabSize;

  if (o.bank) {
    in.bank = std::move(*o.bank);
  } else {
    in.bank = MaskBank::load(config.bankPath);
    for (const auto& note : in.bank.notes) say(config.bankPath + ": " + note);
  }

  const auto cache = o.tokenCacheDir.empty()
                         ? (std::filesystem::temp_directory_path() / "attnx-token-cache").string()
                         : o.tokenCacheDir;
  say("Tokenizing " + config.dataPath);
  auto corpus = std::make_shared<TokenCorpus>(TokenCorpus::load(config.dataPath, tok, cache));
  checkIdsFit(*corpus, vocab, config.dataPath);
  auto sampler = std::make_shared<WindowSampler>(*corpus, config.seqLen, config.seed);
  if (!config.validationPath.empty()) {
    const auto held = TokenCorpus::load(config.validationPath, tok, cache);
    checkIdsFit(held, vocab, config.validationPath);
    in.validation = WindowSampler(held, config.seqLen, config.seed).evalWindows(config.seqLen, config.validationWindows);
  }
  const int64_t batchSize = config.batchSize;
  // The sampler reads the corpus it was made from: the batch source keeps both alive.
  in.batches = [corpus, sampler, batchSize](int64_t step) { return sampler->batch(batchSize, step); };
  return in;
}

}  // namespace attnx
