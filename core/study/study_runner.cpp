// Running a study; see study_runner.h. The measurements themselves live in study_measure.h; this file
// decides what runs, in which order, what is skipped on resume, and where each result is written.
#include "core/study/study_runner.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "core/bench/machine_info.h"
#include "core/data/window_sampler.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/pruning_profiler.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/run_student.h"
#include "core/io/atomic_file.h"
#include "core/study/baseline_plans.h"
#include "core/study/study_measure.h"
#include "core/study/study_results.h"
#include "core/train/distill_trainer.h"
#include "core/train/plan_finetuner.h"

namespace attnx {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string duration(double s) {
  char b[32];
  const auto t = static_cast<long long>(s + 0.5);
  if (t >= 3600) std::snprintf(b, sizeof b, "%lldh%02lldm", t / 3600, t % 3600 / 60);
  else std::snprintf(b, sizeof b, "%lldm%02llds", t / 60, t % 60);
  return b;
}

// Work done and left, in rough units of one distillation step, for the ETA. Skipped work leaves the
// total instead of counting as done, so the rate is that of work really done in this session.
class Eta {
 public:
  void plan(double units) { left_ += units; }
  void skip(double units) { left_ -= units; }
  void done(double units) {
    left_ -= units;
    done_ += units;
  }
  std::string text() const {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (done_ <= 0) return "elapsed " + duration(elapsed);
    return "elapsed " + duration(elapsed) + ", ETA " + duration(elapsed / done_ * std::max(0.0, left_));
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double left_ = 0, done_ = 0;
};

class Study {
 public:
  Study(const StudyConfig& c, const StudyInputs& in, fs::path out, const StudyCallbacks& cb, const std::atomic<bool>* stop)
      : c_(c), in_(in), out_(std::move(out)), cb_(cb), stop_(stop), model_(in.teacher),
        results_(StudyResults::open(out_, c.document)), measure_(model_, *in.test, c.evalWindows, stop) {}

  void run() {
    const auto& mc = model_->config();
    lengths_ = c_.evalLengths;
    if (lengths_.empty()) lengths_ = {std::min<int64_t>(512, mc.contextLength), mc.contextLength};
    std::sort(lengths_.begin(), lengths_.end());
    lengths_.erase(std::unique(lengths_.begin(), lengths_.end()), lengths_.end());
    for (auto n : lengths_)
      if (n > mc.contextLength)
        throw StudyError(c_.path + ": eval.lengths: " + std::to_string(n) + " exceeds the teacher's context of " +
                         std::to_string(mc.contextLength));
    nRef_ = lengths_.front();
    results_.setTeacher(in_.teacherDir, mc, lengths_, currentMachine());
    estimate();
    for (const auto& s : c_.learned) learned(s);
    for (const auto& b : c_.baselines) baseline(b);
    extras();
    results_.finish();
    say("study finished: " + (out_ / "study.json").string() + " (" + eta_.text() + ")");
  }

 private:
  void say(const std::string& m) const {
    if (cb_.onMessage) cb_.onMessage(m);
  }
  void checkStop() const {
    if (stop_ && stop_->load()) throw std::runtime_error("cancelled");
  }

  // Rough units of work per kind (a distillation step = 1), for the ETA.
  double evalUnits() const {
    double u = 0;
    for (auto n : lengths_) u += 0.35 * static_cast<double>(c_.evalWindows * n) / 2048.0;
    return u;
  }
  void estimate() {
    const double perPlan = evalUnits();
    const auto targets = static_cast<double>(c_.targets.size());
    for (const auto& s : c_.learned)
      for (size_t i = 0; i < s.seeds.size(); ++i)
        eta_.plan(s.distill.steps + 0.35 * 5 * 36 + static_cast<double>(c_.finetuneSteps) * targets * 1.2 +
                  perPlan * (1 + 3 * targets));
    for (const auto& b : c_.baselines) {
      const double plans = b.kind == BaselineSpec::Kind::WindowSinks || b.kind == BaselineSpec::Kind::BlockSinks
                               ? static_cast<double>(b.sizes.size())
                               : targets * static_cast<double>(b.seeds.size());
      eta_.plan(plans * perPlan);
      if (b.kind == BaselineSpec::Kind::Duo) eta_.plan(static_cast<double>(b.distill.steps * b.seeds.size()));
    }
  }

  // ---- distillation ----
  RunArtifacts distill(const std::string& name, const std::string& bankPath, DistillConfig c, uint64_t seed,
                       const std::string& task) {
    const fs::path dir = out_ / "runs" / (name + "-s" + std::to_string(seed));
    c.teacherDir = in_.teacherDir;
    c.bankPath = bankPath;
    c.dataPath = c_.trainData;
    c.validationPath = c_.profileData;
    c.seed = seed;
    const auto bank = MaskBank::load(bankPath);
    const bool started = fs::exists(dir / "student.safetensors");
    if (!started) fs::remove_all(dir);  // the study's own folder: a run killed before its first checkpoint starts again
    const WindowSampler sampler(*in_.train, c.seqLen, c.seed);
    const auto validation = WindowSampler(*in_.profile, c.seqLen, c.seed).evalWindows(c.seqLen, c.validationWindows);
    const int64_t batchSize = c.batchSize;
    DistillTrainer trainer(c, model_, bank, [&](int64_t step) { return sampler.batch(batchSize, step); }, validation,
                           dir.string(), started ? RunFolder::Resume : RunFolder::New);
    const int64_t from = started ? trainer.resumeIfPossible() : 0;
    eta_.skip(static_cast<double>(from));
    if (from < c.steps) {
      say(task + ": distilling " + std::to_string(c.steps) + " steps" +
          (from > 0 ? " (resuming after step " + std::to_string(from) + ")" : "") + " into " + dir.string());
      auto last = std::chrono::steady_clock::now();
      DistillCallbacks cb;
      cb.onStep = [&](const StepMetrics& m) {
        eta_.done(1);
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::seconds(15) && m.step != c.steps) return;
        last = now;
        char line[160];
        std::snprintf(line, sizeof line, ": step %lld/%lld, KL %.4f, L1 %.3f; ", static_cast<long long>(m.step),
                      static_cast<long long>(c.steps), m.kl, m.l1);
        say(task + line + eta_.text());
      };
      trainer.run(cb, stop_);
      checkStop();
    }
    return RunArtifacts::load(dir.string());
  }

  void ensureProfile(RunArtifacts& run, const std::string& task) {
    if (run.profile) {
      eta_.skip(0.35 * 5 * 36);
      return;
    }
    say(task + ": measuring the pruning profile on " + std::to_string(c_.profileWindows) + " windows of the profile text");
    ProfileRequest request;
    request.windows = WindowSampler(*in_.profile, run.config.seqLen, run.config.seed)
                          .evalWindows(run.config.seqLen, c_.profileWindows);
    request.batchSize = run.config.batchSize;
    request.dataLabel = c_.profileData;
    request.stop = stop_;
    request.progress = [&](int64_t, int64_t) { eta_.done(0.35); };
    run.profile = measurePruningProfile(model_, run.bank, mixtureOptionsOf(run.config), run.alpha, request);
    run.profile->runStep = run.step;
    run.profile->save(run.path(RunArtifacts::kProfileFile));
  }

  // A plan measured at every eval length, each one entry of study.json (skipped when already there).
  void measure(const json& base, const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, bool normalise) {
    for (auto n : lengths_) {
      json e = base;
      e["id"] = base["id"].get<std::string>() + "@" + std::to_string(n);
      if (results_.has(e["id"])) {
        eta_.skip(evalUnits() / static_cast<double>(lengths_.size()));
        continue;
      }
      checkStop();
      const CompiledPlanAttention student(plan, bank, combine, normalise);
      measure_.plan(e, student, plan, bank, combine, n);
      results_.add(std::move(e));
      eta_.done(evalUnits() / static_cast<double>(lengths_.size()));
    }
  }

  json entryBase(const std::string& kind, const std::string& family, const std::string& variant, const std::string& id,
                 double target) const {
    json e;
    e["id"] = id;
    e["kind"] = kind;
    e["family"] = family;
    e["variant"] = variant;
    e["target"] = target > 0 ? json(target) : json(nullptr);
    return e;
  }

  std::string planPath(const RunArtifacts& run, const std::string& stem, double target) const {
    return (fs::path(run.dir) / "plans" / (stem + "-" + number(target) + ".json")).string();
  }

  // ---- learned plans ----
  void learned(const LearnedSpec& s) {
    for (auto seed : s.seeds) {
      const std::string task = s.name + " seed " + std::to_string(seed);
      auto run = distill(s.name, s.bankPath, s.distill, seed, task);
      ensureProfile(run, task);
      const auto combine = run.combine();
      const bool normalise = run.config.normaliseBranches;
      const std::string stem = "learned/" + s.name + "/s" + std::to_string(seed) + "/";
      json base = entryBase("learned", s.name, "soft", stem + "soft", 0);
      base["seed"] = seed;
      base["run"] = results_.relative(run.dir);
      base["config"] = {{"bank", s.bank.name}, {"combine", run.config.combine}, {"lambda_l1", run.config.lambdaL1},
                        {"l1_density_weighted", run.config.l1DensityWeighted}, {"steps", run.config.steps},
                        {"granularity", run.config.granularity}, {"gate", run.config.gate}};
      // The soft student (every mask, its learned alpha) runs dense-masked: its quality, not its speed.
      for (auto n : lengths_) {
        json e = base;
        e["id"] = base["id"].get<std::string>() + "@" + std::to_string(n);
        if (results_.has(e["id"])) continue;
        const auto soft = makeRunStudent(run, model_->config(), RunStudentKind::Soft);
        measure_.plan(e, *soft.kernel, soft.plan, run.bank, combine, n);
        results_.add(std::move(e));
      }
      fs::create_directories(fs::path(run.dir) / "plans");
      for (double t : c_.targets) {
        say(task + ": plans at density " + number(t) + "; " + eta_.text());
        // The alpha-order rule of earlier versions (faithful now), for comparison.
        auto byAlpha = run.prune(PruningRule::targetDensityRule(t, nRef_));
        byAlpha.save(planPath(run, "alpha", t));
        json e = base;
        e["id"] = stem + "alpha-" + number(t);
        e["variant"] = "alpha-order";
        e["target"] = t;
        e["plan"] = results_.relative(planPath(run, "alpha", t));
        measure(e, byAlpha, run.bank, combine, normalise);
        // The budgeted rule, then its weights fine-tuned on the hard plan.
        const auto budget = run.prune(PruningRule::budgetRule(t, nRef_));
        budget.save(planPath(run, "budget", t));
        e["id"] = stem + "budget-" + number(t);
        e["variant"] = "budget";
        e["plan"] = results_.relative(planPath(run, "budget", t));
        measure(e, budget, run.bank, combine, normalise);
        if (c_.finetuneSteps > 0) {
          const auto tunedPath = planPath(run, "budget-ft", t);
          AttentionPlan tuned;
          if (fs::exists(tunedPath)) {
            tuned = AttentionPlan::load(tunedPath);
            eta_.skip(static_cast<double>(c_.finetuneSteps) * 1.2);
          } else {
            const WindowSampler sampler(*in_.train, run.config.seqLen, run.config.seed + 1);
            const int64_t batchSize = run.config.batchSize;
            PlanFinetuneConfig fc;
            fc.steps = c_.finetuneSteps;
            fc.learningRate = c_.finetuneLr;
            tuned = finetunePlan(model_, budget, run.bank, combine, normalise,
                                 [&](int64_t step) { return sampler.batch(batchSize, step); }, fc,
                                 [&](int64_t, double) { eta_.done(1.2); }, stop_)
                        .plan;
            checkStop();
            tuned.save(tunedPath);
          }
          e["id"] = stem + "budget-ft-" + number(t);
          e["variant"] = "budget+finetune";
          e["plan"] = results_.relative(tunedPath);
          measure(e, tuned, run.bank, combine, normalise);
        }
      }
    }
  }

  // ---- baselines ----
  void baseline(const BaselineSpec& b) {
    const auto& mc = model_->config();
    const int64_t L = mc.numLayers, H = mc.numHeads;
    const std::string family = b.name, stem = "baseline/" + b.name + "/";
    const fs::path planDir = out_ / "baselines" / b.name;
    fs::create_directories(planDir);
    auto save = [&](const BaselinePlan& p, const std::string& file) {
      p.bank.save((planDir / (file + ".bank.json")).string());
      p.plan.save((planDir / (file + ".json")).string());
      return results_.relative((planDir / (file + ".json")).string());
    };
    switch (b.kind) {
      case BaselineSpec::Kind::WindowSinks:
      case BaselineSpec::Kind::BlockSinks:
        for (auto size : b.sizes) {
          const bool window = b.kind == BaselineSpec::Kind::WindowSinks;
          const auto p = window ? uniformWindowSinks(L, H, size, b.sinks) : uniformBlockSinks(L, H, size, b.sinks);
          const std::string variant = (window ? "window " : "block ") + std::to_string(size) + " + " +
                                      std::to_string(b.sinks) + " sinks";
          json e = entryBase("baseline", family, variant, stem + p.bank.name, 0);
          e["plan"] = save(p, p.bank.name);
          measure(e, p.plan, p.bank, p.combine, false);
        }
        break;
      case BaselineSpec::Kind::Random:
        for (auto seed : b.seeds)
          for (double t : c_.targets) {
            const auto p = randomAllocation(b.bank, L, H, t, nRef_, seed);
            const std::string file = "random-s" + std::to_string(seed) + "-" + number(t);
            json e = entryBase("baseline", family, "random allocation", stem + file, t);
            e["seed"] = seed;
            e["plan"] = save(p, file);
            measure(e, p.plan, p.bank, p.combine, false);
          }
        break;
      case BaselineSpec::Kind::Duo: {
        const auto bankPath = (planDir / "duo.bank.json").string();
        b.bank.save(bankPath);
        for (auto seed : b.seeds) {
          const std::string task = b.name + " seed " + std::to_string(seed);
          const auto run = distill(b.name, bankPath, b.distill, seed, task);
          for (double t : c_.targets) {
            const auto plan = duoPlan(run.alpha, L, H, run.bank, t, nRef_);
            const auto path = planPath(run, "duo", t);
            fs::create_directories(fs::path(path).parent_path());
            plan.save(path);
            json e = entryBase("baseline", family, "DuoAttention-style", stem + "s" + std::to_string(seed) + "-" + number(t), t);
            e["seed"] = seed;
            e["run"] = results_.relative(run.dir);
            e["plan"] = results_.relative(path);
            measure(e, plan, run.bank, run.combine(), run.config.normaliseBranches);
          }
        }
        break;
      }
    }
  }

  // ---- what only the report needs: attention-only timing, heatmaps, completions ----
  void extras() {
    checkStop();
    say("timing attention alone at n = " + [&] {
      std::string s;
      for (auto n : c_.timingLengths) s += (s.empty() ? "" : ", ") + std::to_string(n);
      return s;
    }() + "; " + eta_.text());
    measure_.extras(results_, c_, lengths_, *in_.tokenizer);
  }

  const StudyConfig& c_;
  const StudyInputs& in_;
  fs::path out_;
  const StudyCallbacks& cb_;
  const std::atomic<bool>* stop_;
  Gpt2 model_;
  StudyResults results_;
  StudyMeasure measure_;
  std::vector<int64_t> lengths_;
  int64_t nRef_ = 512;
  Eta eta_;
};

}  // namespace

void runStudy(const StudyConfig& config, const StudyInputs& inputs, const std::string& outDir,
              const StudyCallbacks& callbacks, const std::atomic<bool>* stop) {
  if (!inputs.teacher || !inputs.tokenizer || !inputs.train || !inputs.profile || !inputs.test)
    throw std::invalid_argument("runStudy: every input must be given");
  if (!inputs.teacher->wte->weight.device().is_cpu())
    throw StudyError("a study runs on the CPU (its plans run through the compiled CPU kernel)");
  fs::create_directories(outDir);
  Gpt2 teacher = inputs.teacher;  // a handle: the module is shared
  teacher->eval();
  Study(config, inputs, fs::absolute(outDir), callbacks, stop).run();
}

}  // namespace attnx
