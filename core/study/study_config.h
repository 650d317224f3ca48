// What `attnx-cli study CONFIG.json` runs (method.md, "Baselines and the study"): learned plans from
// a grid of distillations, fixed baselines of the same densities, the text they are measured on.
// Read and checked completely before anything runs: an unknown field, a missing file, a bad bank or a
// density no plan can reach is refused with the field named. Torch-free.
//
// {"format": "attnx-study", "version": 1, "name": "...", "description": "...",
//  "teacher": "DIR" (absent: the embedded model),
//  "data": {"train": PATH, "profile": PATH, "test": PATH},
//  "eval": {"windows": 16, "lengths": [512], "profile_windows": 4, "finetune_steps": 60, "finetune_lr": 0.1},
//  "targets": [0.1, 0.25, 0.5],
//  "distill": {run.json fields for every distillation},
//  "learned": [{"name": "local-sinks", "bank": PATH, "seeds": [0, 1], "distill": {overrides}}],
//  "baselines": [{"kind": "window-sinks", "windows": [32, 64], "sinks": 4},
//                {"kind": "block-sinks", "blocks": [64, 128], "sinks": 4},
//                {"kind": "duo", "window": 64, "sinks": 4, "seeds": [0], "distill": {overrides}},
//                {"kind": "random", "bank": PATH, "seeds": [0, 1]}],
//  "timing": {"lengths": [512, 1024, 2048, 4096], "repeats": 3}}
// Paths are relative to the config file's folder.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/masks/mask_bank.h"
#include "core/train/distill_config.h"

namespace attnx {

struct StudyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One configured distillation, run once per seed; its plans are the budgeted rule at every target.
struct LearnedSpec {
  std::string name;           // unique among learned and baseline names; a folder name
  std::string bankPath;       // absolute
  MaskBank bank;
  std::vector<uint64_t> seeds;
  DistillConfig distill;      // the study's "distill" with this entry's overrides (bank, data, seed set per run)
};

struct BaselineSpec {
  enum class Kind { WindowSinks, BlockSinks, Duo, Random } kind = Kind::WindowSinks;
  std::string name;               // "window-sinks", "block-sinks", "duo", "random" unless given
  std::vector<int64_t> sizes;     // window-sinks: windows; block-sinks: blocks
  int64_t sinks = 4;              // window-sinks, block-sinks, duo
  int64_t window = 64;            // duo: the streaming heads' window
  std::vector<uint64_t> seeds;    // duo (distillations), random (draws)
  std::string bankPath;           // random: the bank whose ladders are drawn from (absolute)
  MaskBank bank;                  // random: that bank; duo: {full, win-w, sinks-k}
  DistillConfig distill;          // duo
};

const char* baselineKindName(BaselineSpec::Kind kind);

struct StudyConfig {
  static constexpr const char* kFormat = "attnx-study";
  static constexpr int kVersion = 1;

  std::string path;         // the config file
  std::string name, description;
  std::string teacherDir;   // absolute, "" = the embedded default model
  std::string trainData, profileData, testData;  // absolute
  int64_t evalWindows = 16;
  std::vector<int64_t> evalLengths;  // empty in the file: the distillation's seq_len and the teacher's context
  int64_t profileWindows = 4;
  int64_t finetuneSteps = 60;  // plan_finetuner.h's defaults
  double finetuneLr = 0.1;
  std::vector<double> targets;
  std::vector<LearnedSpec> learned;
  std::vector<BaselineSpec> baselines;
  std::vector<int64_t> timingLengths{512, 1024, 2048, 4096};
  int timingRepeats = 3;
  nlohmann::ordered_json document;  // the file as read, kept in study.json

  // Reads and checks everything (files exist, banks load, targets reachable by every learned bank and
  // random baseline: at least the density of the bank's cheapest mask at the shortest eval length).
  // Errors: StudyError "<path>: <field>: <what>".
  static StudyConfig load(const std::string& path);
  static StudyConfig fromJson(const nlohmann::ordered_json& doc, const std::string& path);
};

}  // namespace attnx
