// `attnx-cli study`: runs a StudyConfig end to end (method.md, "Baselines and the study"): every
// configured distillation (resumable, finished runs skipped), its pruning profile, its plans at every
// target density (the budgeted rule, then fine-tuned), the baselines at the same densities, each plan
// evaluated on held-out text at every eval length by the same code (KL, perplexity, top-1 agreement,
// model time, peak tensor memory), attention-only timings against n, heatmaps of the most changed heads
// and side-by-side completions. Results go to OUT/study.json after every plan, so an interrupted study
// resumes where it stopped and loses nothing finished; OUT/study.csv and OUT/report.html follow.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/data/token_corpus.h"
#include "core/io/bpe_tokenizer.h"
#include "core/model/gpt2.h"
#include "core/study/study_config.h"

namespace attnx {

struct StudyCallbacks {
  std::function<void(const std::string&)> onMessage;  // one line of progress (phase, ETA)
};

// What the study runs on, loaded by the caller: the teacher (on the CPU: the compiled kernel is
// CPU-only), its tokenizer and the three texts of config.data, tokenized.
struct StudyInputs {
  Gpt2 teacher{nullptr};
  std::string teacherDir;
  const BpeTokenizer* tokenizer = nullptr;
  const TokenCorpus* train = nullptr;
  const TokenCorpus* profile = nullptr;
  const TokenCorpus* test = nullptr;
};

// Throws StudyError when OUT holds the results of another config (nothing is touched then), and
// std::runtime_error("cancelled") once *stop becomes true (after the current step; results so far kept).
void runStudy(const StudyConfig& config, const StudyInputs& inputs, const std::string& outDir,
              const StudyCallbacks& callbacks = {}, const std::atomic<bool>* stop = nullptr);

}  // namespace attnx
