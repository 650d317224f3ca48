// The cost of one distillation step against a dense GPT-2 training step on the same batch
// (method.md: a step with K = 8 masks must cost at most 1.5× a dense forward+backward).
#pragma once

#include "core/masks/mask_bank.h"
#include "core/model/gpt2.h"
#include "core/model/mask_mixture_attention.h"

namespace attnx {

struct StepCostResult {
  int64_t numMasks = 0, batchSize = 0, seqLen = 0;
  double denseSeconds = 0;    // median: forward + cross-entropy + backward, every weight trainable
  double studentSeconds = 0;  // median: teacher forward (no grad) + student forward + KL + backward to θ
  double ratio() const { return studentSeconds / denseSeconds; }
};

StepCostResult benchDistillStep(Gpt2& model, const MaskBank& bank, const MixtureOptions& options, int64_t batchSize,
                                int64_t seqLen, int repeats, uint64_t seed = 0);

}  // namespace attnx
