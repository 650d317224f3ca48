// Pruning-aware training, after hardening (method.md): the weights of a hard plan's active masks
// trained by the distillation KL against the teacher through the compiled kernel's backward, so that
// each head re-balances what it kept once its dropped masks are gone. Which masks are active never
// changes, so the density and the cost stay those of the plan. Weights are log-parametrised
// (w = exp(theta)) and stay > 0. GPT-2's weights stay frozen (their requires_grad is restored after).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "core/eval/attention_plan.h"
#include "core/model/gpt2.h"
#include "core/train/training_common.h"

namespace attnx {

struct PlanFinetuneConfig {
  // The defaults are what the committed study uses (docs/study): on the embedded teacher at density
  // 0.24, 60 steps at 0.1 took the KL from 0.136 to 0.055; 30 steps at 0.05 only to 0.084.
  int64_t steps = 60;          // optimiser steps (0: the plan is returned as it is)
  double learningRate = 0.1;   // AdamW on theta = log w, cosine decay to a tenth, no warm-up
  double temperature = 1.0;    // τ of the KL
  double gradClip = 1.0;       // max gradient norm (0: off)
};

struct PlanFinetuneResult {
  AttentionPlan plan;      // the same active masks with the trained weights; finetuneSteps = steps taken
  double firstKl = 0;      // training KL of the first and the last step's batch
  double lastKl = 0;
  double seconds = 0;
};

// batches(step) (step = 1, 2, ...) gives the training windows of each step, as a distillation's do.
// onStep(step, kl) after each step; a stop that becomes true ends early with the weights so far.
// Runs on the CPU (the compiled kernel is CPU-only). Throws TrainingStopped on a non-finite loss.
PlanFinetuneResult finetunePlan(Gpt2& model, const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine,
                                bool normaliseBranches, const BatchSource& batches, const PlanFinetuneConfig& config,
                                const std::function<void(int64_t, double)>& onStep = {},
                                const std::atomic<bool>* stop = nullptr);

}  // namespace attnx
