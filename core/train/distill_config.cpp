#include "core/train/distill_config.h"

#include <stdexcept>

#include "core/util/json_fields.h"

namespace attnx {

using nlohmann::ordered_json;

// One table drives both directions, so a field cannot be written and forgotten on read.
#define ATTNX_DISTILL_FIELDS(X)                                                                     \
  X(teacherDir, "teacher") X(bankPath, "bank") X(dataPath, "data") X(validationPath, "validation") \
  X(combine, "combine") X(granularity, "granularity") X(parametrisation, "parametrisation")        \
  X(normaliseBranches, "normalise_branches") X(initialCoefficient, "initial_coefficient")          \
  X(trainAllWeights, "train_all_weights") X(temperature, "temperature") X(lambdaL1, "lambda_l1")   \
  X(l1DensityWeighted, "l1_density_weighted") X(lambdaHidden, "lambda_hidden") X(steps, "steps")   \
  X(batchSize, "batch_size") X(seqLen, "seq_len") X(learningRate, "learning_rate")                 \
  X(weightDecay, "weight_decay") X(warmupSteps, "warmup_steps") X(minLrRatio, "min_lr_ratio")      \
  X(gradClip, "grad_clip") X(seed, "seed") X(validateEvery, "validate_every")                      \
  X(validationWindows, "validation_windows") X(checkpointEvery, "checkpoint_every") X(gate, "gate")  \
  X(worldSize, "world_size") X(distBackend, "dist_backend")

void DistillConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(combine == "soft-mask" || combine == "branch-mixture", "combine must be soft-mask or branch-mixture, got \"" + combine + "\"");
  need(granularity == "model" || granularity == "layer" || granularity == "layer-head",
       "granularity must be model, layer or layer-head, got \"" + granularity + "\"");
  need(parametrisation == "softplus" || parametrisation == "sigmoid" || parametrisation == "clamped",
       "parametrisation must be softplus, sigmoid or clamped, got \"" + parametrisation + "\"");
  need(initialCoefficient >= 0, "initial_coefficient must be ≥ 0");
  need(!gate || (initialCoefficient > 0 && initialCoefficient < 1),
       "with gate, initial_coefficient is the gate's starting value and must be in (0, 1)");
  need(temperature > 0, "temperature must be > 0");
  need(lambdaL1 >= 0, "lambda_l1 must be ≥ 0");
  need(lambdaHidden >= 0, "lambda_hidden must be ≥ 0");
  need(steps >= 1, "steps must be ≥ 1");
  need(batchSize >= 1, "batch_size must be ≥ 1");
  need(seqLen >= 2, "seq_len must be ≥ 2");
  need(learningRate > 0, "learning_rate must be > 0");
  need(weightDecay >= 0, "weight_decay must be ≥ 0");
  need(warmupSteps >= 0, "warmup_steps must be ≥ 0");
  need(minLrRatio >= 0 && minLrRatio <= 1, "min_lr_ratio must be in [0, 1]");
  need(gradClip >= 0, "grad_clip must be ≥ 0 (0 disables clipping)");
  need(validateEvery >= 0 && checkpointEvery >= 0, "validate_every and checkpoint_every must be ≥ 0");
  need(validationWindows >= 1, "validation_windows must be ≥ 1");
  need(worldSize >= 1 && batchSize % worldSize == 0,
       "batch_size (" + std::to_string(batchSize) + ", the global batch) must divide by world_size (" +
           std::to_string(worldSize) + ")");
}

std::string DistillConfig::toJsonText() const {
  ordered_json j;
  j["format"] = "attnx-distill-run";
  j["version"] = 1;
#define X(member, key) j[key] = member;
  ATTNX_DISTILL_FIELDS(X)
#undef X
  return j.dump(2) + "\n";
}

void DistillConfig::applyFields(const ordered_json& fields, const std::string& origin) {
  if (!fields.is_object()) throw std::runtime_error(origin + ": expected an object of distillation settings");
  if (fields.contains("format") || fields.contains("version"))
    throw std::runtime_error(origin + ": unknown field \"" + std::string(fields.contains("format") ? "format" : "version") + "\"");
  JsonFieldReader read(fields, origin);
#define X(member, key) read(member, key);
  ATTNX_DISTILL_FIELDS(X)
#undef X
  read.rejectUnknown();
}

DistillConfig DistillConfig::fromJsonText(const std::string& text, const std::string& origin) {
  const auto j = parseVersionedJson(text, origin, "attnx-distill-run", 1);
  DistillConfig c;
  JsonFieldReader read(j, origin);
#define X(member, key) read(c.member, key);
  ATTNX_DISTILL_FIELDS(X)
#undef X
  read.rejectUnknown();
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
  return c;
}

}  // namespace attnx
