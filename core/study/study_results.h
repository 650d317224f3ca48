// study.json and study.csv: what a study measured, one entry per (plan, eval length), written after
// every entry so that nothing finished is lost. Paths inside are relative to the study folder, so the
// folder can be moved or committed as a whole. Torch-free: the report reads it without LibTorch.
//
// {"format": "attnx-study-results", "version": 1, "config": {the study config as read},
//  "teacher": {"dir", "layers", "heads", "head_dim", "context", "eval_lengths": [...], "timing": {n: ms}},
//  "machine": {...}, "started": ISO time, "elapsed_s": s,
//  "plans": [{"id", "kind": "learned"|"baseline", "family", "variant", "seed"?, "target"?, "run"?, "plan"?,
//             "config"?, "n", "density", "kl_per_token", "student_perplexity", "teacher_perplexity",
//             "top1_agreement", "attention_flops", "dense_attention_flops", "model_ms", "peak_bytes",
//             "head_density": [...]}, ...],
//  "attention_timing": [...], "heatmaps": {...}, "completions": {...}}
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/bench/machine_info.h"
#include "core/model/gpt2_config.h"

namespace attnx {

class StudyResults {
 public:
  static constexpr const char* kFormat = "attnx-study-results";
  static constexpr int kVersion = 1;

  // OUT/study.json when present, else a new document. Throws StudyError (study_config.h) when the file
  // is not study results, or holds a study of another config: its results would not answer this one.
  static StudyResults open(const std::filesystem::path& outDir, const nlohmann::ordered_json& config);
  // Reads OUT/study.json as it is (for re-rendering the report); throws StudyError naming the file.
  static StudyResults read(const std::filesystem::path& outDir);

  bool has(const std::string& id) const { return index_.count(id) > 0; }
  // Appends an entry (with a unique "id") and saves study.json and study.csv.
  void add(nlohmann::ordered_json entry);
  // A top-level field ("attention_timing", "heatmaps", "completions", ...), saved at once.
  void set(const std::string& key, nlohmann::ordered_json value);
  void setTeacher(const std::string& dir, const Gpt2Config& config, const std::vector<int64_t>& lengths,
                  const MachineInfo& machine);
  // Records the total time and saves.
  void finish();

  // `path` relative to the study folder, with forward slashes.
  std::string relative(const std::string& path) const;
  std::string absolute(const std::string& relativePath) const;
  const nlohmann::ordered_json& doc() const { return doc_; }
  const std::filesystem::path& dir() const { return dir_; }

  // One row per entry; the columns a spreadsheet user sorts by.
  static std::string csvText(const nlohmann::ordered_json& doc);

 private:
  void save() const;
  std::filesystem::path dir_;
  nlohmann::ordered_json doc_;
  std::map<std::string, size_t> index_;
  double elapsedBefore_ = 0;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
};

}  // namespace attnx
