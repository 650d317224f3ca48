// Everything a distillation needs before its first step, prepared one way for attnx-cli distill and
// the desktop's training controller, so that their checks cannot drift apart: the teacher (shared
// when its weights stay frozen), the bank, the tokenized training and validation text checked
// against the teacher's vocabulary, and the batch source.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/eval/teacher.h"
#include "core/masks/mask_bank.h"
#include "core/train/distill_config.h"
#include "core/train/training_common.h"

namespace attnx {

struct DistillInputs {
  std::shared_ptr<Teacher> teacher;  // what DistillTrainer gets: trained in place when all weights train
  MaskBank bank;
  BatchSource batches;
  std::vector<std::vector<int64_t>> validation;  // held-out windows (empty: no validation text)
};

struct DistillSetupOptions {
  // A teacher already loaded (the desktop's model panel): used when it is config.teacherDir's folder
  // and the weights stay frozen; a run that trains all weights always gets a private copy.
  std::shared_ptr<Teacher> loaded;
  // The bank to train (the desktop's editor); nullopt: read config.bankPath (its notes go to say).
  std::optional<MaskBank> bank;
  torch::Device device = torch::kCPU;
  std::string tokenCacheDir;  // "": the system's temporary folder/attnx-token-cache
  std::function<void(const std::string&)> say;  // progress and notes, one line each
};

// Throws std::runtime_error naming the file and what is wrong: a missing teacher or tokenizer, a bad
// bank, a text whose token ids the teacher's vocabulary does not have.
DistillInputs prepareDistill(const DistillConfig& config, DistillSetupOptions options);

}  // namespace attnx
