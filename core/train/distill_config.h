// Every setting of a distillation run (method.md, "Training"). Saved as run.json in the run folder
// so a run can be repeated or resumed from the command line. Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace attnx {

struct DistillConfig {
  // Inputs
  std::string teacherDir;      // GPT-2 folder ("" = the default model)
  std::string bankPath;        // mask bank JSON
  std::string dataPath;        // training text (.txt or folder)
  std::string validationPath;  // held-out text ("" = no validation)
  // Student
  std::string combine = "soft-mask";       // soft-mask | branch-mixture
  std::string granularity = "layer-head";  // model | layer | layer-head
  std::string parametrisation = "softplus";  // softplus | sigmoid | clamped
  bool normaliseBranches = false;
  double initialCoefficient = 0.5;  // with gate: the gate's starting value, in (0, 1)
  // Per-token gating network (mask_mixture_gate.h): alpha_k(i) = sigmoid(W_g q_i + b_g) per layer and
  // head replaces the static coefficients (granularity and parametrisation are then unused); L1
  // applies to the gate outputs averaged over the batch's tokens.
  bool gate = false;
  bool trainAllWeights = false;  // also train GPT-2's weights (default: frozen)
  // Loss
  double temperature = 1.0;     // τ: KL on softmax(z/τ), scaled by τ²
  double lambdaL1 = 0.0;        // λ₁ on Σ|α|
  bool l1DensityWeighted = false;  // weight each mask's |α| by its density at seqLen
  double lambdaHidden = 0.0;    // λ_h on the final hidden states' MSE
  // Optimisation
  int64_t steps = 200;
  int64_t batchSize = 4;
  int64_t seqLen = 128;
  double learningRate = 0.05;
  double weightDecay = 0.0;    // AdamW decoupled decay (none on coefficients by default)
  int64_t warmupSteps = 10;
  double minLrRatio = 0.1;     // cosine decays to learningRate × minLrRatio
  double gradClip = 1.0;       // max global gradient norm (0: off)
  uint64_t seed = 0;
  // Bookkeeping
  int64_t validateEvery = 50;     // steps (0: never)
  int64_t validationWindows = 8;
  int64_t checkpointEvery = 100;  // steps (0: only at the end / stop)
  // How the run was last launched (data-parallel ranks and torch.distributed backend, "" for one
  // process): recorded, not a setting of the result, which is the same for any world size; a resume
  // with another world size rewrites them. batch_size (the global batch) must divide by world_size.
  int64_t worldSize = 1;
  std::string distBackend;

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
  std::string toJsonText() const;
  // Throws std::runtime_error "<origin>: ..." naming the bad field; unknown fields are errors.
  static DistillConfig fromJsonText(const std::string& text, const std::string& origin);
  // Overwrites the fields `fields` names (run.json's keys, no "format"/"version"), leaving the others;
  // throws std::runtime_error "<origin>: ..." for an unknown key or a wrong type (no validate()).
  void applyFields(const nlohmann::ordered_json& fields, const std::string& origin);
};

}  // namespace attnx
