// The measurements of a study, one code path for every plan, learned or baseline: quality on held-out
// windows against the teacher (TeacherReference: the teacher runs once per length), model time and peak
// tensor memory of one window, the analytic cost; and what only the report needs: attention-only time
// and memory against n, teacher-vs-student heatmaps of the most changed heads, completions side by side.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/token_corpus.h"
#include "core/eval/attention_plan.h"
#include "core/eval/student_eval.h"
#include "core/io/bpe_tokenizer.h"
#include "core/model/attention_kernel.h"
#include "core/model/gpt2.h"
#include "core/study/study_config.h"
#include "core/study/study_results.h"

namespace attnx {

class StudyMeasure {
 public:
  // windows: held-out windows per length, the first ones of `test` (consecutive, as eval takes them).
  StudyMeasure(Gpt2 model, const TokenCorpus& test, int64_t windows, const std::atomic<bool>* stop);

  // Fills `entry` with n, density, quality, cost, time and peak memory of `student`, which runs `plan`
  // over `bank` (a soft student passes its all-mask plan).
  void plan(nlohmann::ordered_json& entry, const AttentionKernel& student, const AttentionPlan& plan, const MaskBank& bank,
            PlanCombine combine, int64_t n);

  // Attention alone against n (dense, the learned plans of the first learned config's first seed, the
  // window baselines), heatmaps of the most changed heads and completions, into `results`.
  void extras(StudyResults& results, const StudyConfig& config, const std::vector<int64_t>& lengths,
              const BpeTokenizer& tokenizer);

 private:
  const TeacherReference& reference(int64_t n);

  Gpt2 model_;
  const TokenCorpus& test_;
  int64_t windows_;
  const std::atomic<bool>* stop_;
  std::map<int64_t, std::unique_ptr<TeacherReference>> references_;
  std::map<int64_t, std::pair<double, int64_t>> teacherTiming_;  // n -> (ms, peak bytes)
};

}  // namespace attnx
