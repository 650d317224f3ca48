// Hardening a trained student, with LibTorch: a hardened branch-mixture head against attention written
// out here with loops; pruning nothing reproduces the soft student; TeacherReference against
// evaluateStudent; each profiled rung against a student hardened by hand and evaluated on its own; the
// fine-tuner lowers the KL on its batch without changing which masks are active.
#include <QtTest>

#include <cmath>
#include <random>

#include <torch/torch.h>

#include "core/eval/attention_plan.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/pruning_profiler.h"
#include "core/eval/run_student.h"
#include "core/eval/student_eval.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/train/plan_finetuner.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

std::vector<std::vector<int64_t>> randomWindows(int64_t count, int64_t length, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(count));
  for (auto& w : out)
    for (int64_t t = 0; t < length; ++t) w.push_back(pick(rng));
  return out;
}

MixtureOptions branchOptions() {
  MixtureOptions o;
  o.combine = MixtureOptions::Combine::BranchMixture;
  return o;
}

}  // namespace

class TestPlanHardening : public QObject {
  Q_OBJECT
  Gpt2 model_{nullptr};
  MaskBank bank_;
  std::vector<double> alpha_;  // (2, 4, 3), every value > 0
  std::vector<std::vector<int64_t>> windows_;

 private Q_SLOTS:
  void initTestCase() {
    model_ = loadGpt2(test::fixture("gpt2-tiny"));
    model_->eval();
    bank_ = test::makeBank({MaskSpec::window("win-2", 2), MaskSpec::sinks("sink-1", 1), MaskSpec::causal("full")});
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(0.05, 1.0);
    for (int i = 0; i < 2 * 4 * 3; ++i) alpha_.push_back(u(rng));
    windows_ = randomWindows(3, 24, model_->config().vocabSize, 11);
  }

  // One head, branch mixture {win-2: 0.25, full: 0.75}, hardened to win-2: weight 1, so the output is the
  // window's softmax over its two keys, at the scale of the trained head.
  void hardenedBranchHeadByHand() {
    const auto bank = test::makeBank({MaskSpec::window("win-2", 2), MaskSpec::causal("full")});
    const auto plan = AttentionPlan::fromAlpha({0.25, 0.75}, 1, 1, bank, PruningRule::topKRule(1));
    QCOMPARE(plan.active(0, 0).size(), size_t(1));
    QCOMPARE(plan.active(0, 0)[0].maskIndex, 1);  // full has the larger alpha
    const auto window = AttentionPlan::fromAlpha({0.75, 0.25}, 1, 1, bank, PruningRule::topKRule(1));
    QCOMPARE(window.active(0, 0)[0].weight, 1.0);
    torch::manual_seed(3);
    const int64_t T = 6, d = 4;
    const auto q = torch::randn({1, 1, T, d}), k = torch::randn({1, 1, T, d}), v = torch::randn({1, 1, T, d});
    const CompiledPlanAttention compiled(window, bank, PlanCombine::BranchMixture);
    const auto out = compiled.forward(q, k, v, 0, 0);
    for (int64_t i = 0; i < T; ++i) {
      // keys max(0, i - 1) .. i
      std::vector<double> s;
      double mx = -1e300, z = 0;
      for (int64_t j = std::max<int64_t>(0, i - 1); j <= i; ++j) {
        s.push_back((q[0][0][i] * k[0][0][j]).sum().item<double>() / std::sqrt(double(d)));
        mx = std::max(mx, s.back());
      }
      for (double& x : s) z += (x = std::exp(x - mx));
      for (int64_t c = 0; c < d; ++c) {
        double expected = 0;
        for (int64_t j = std::max<int64_t>(0, i - 1), r = 0; j <= i; ++j, ++r) expected += s[r] / z * v[0][0][j][c].item<double>();
        QVERIFY2(std::abs(out[0][0][i][c].item<double>() - expected) < 1e-5, qPrintable(QString("row %1").arg(i)));
      }
    }
  }

  // Threshold 0 drops nothing: the compiled plan is the soft student, to float rounding.
  void pruningNothingIsTheSoftStudent() {
    const auto plan = AttentionPlan::fromAlpha(alpha_, 2, 4, bank_, PruningRule::thresholdRule(0));
    const CompiledPlanAttention compiled(plan, bank_, PlanCombine::BranchMixture);
    const auto soft = fixedAlphaStudent(bank_, branchOptions(), alpha_, 2, 4);
    torch::NoGradGuard g;
    const auto ids = torch::tensor(windows_[0]).view({1, -1});
    const auto a = model_->forward(ids, nullptr, &compiled), b = model_->forward(ids, nullptr, soft.get());
    QVERIFY2((a - b).abs().max().item<double>() < 1e-4, "compiled plan of every mask != soft student");
  }

  void teacherReferenceAgreesWithEvaluateStudent() {
    const auto soft = fixedAlphaStudent(bank_, branchOptions(), alpha_, 2, 4);
    const TeacherReference ref(model_, windows_, 2);
    const auto a = ref.evaluate(*soft), b = evaluateStudent(model_, *soft, windows_, 2);
    QVERIFY(b.klPerToken > 1e-3);  // a real difference to measure
    QVERIFY(std::abs(a.klPerToken - b.klPerToken) < 1e-5 * std::max(1.0, b.klPerToken));
    QVERIFY(std::abs(a.studentPerplexity - b.studentPerplexity) < 1e-4 * b.studentPerplexity);
    QVERIFY(std::abs(a.teacherPerplexity - b.teacherPerplexity) < 1e-4 * b.teacherPerplexity);
    QCOMPARE(a.top1Agreement, b.top1Agreement);
    QCOMPARE(a.tokens, b.tokens);
    QVERIFY(std::abs(ref.teacherOnly().teacherPerplexity - b.teacherPerplexity) < 1e-4 * b.teacherPerplexity);
  }

  // Every rung's KL increase is the KL of the student with that head alone hardened (built here with
  // hardenHead) minus the soft student's, each evaluated on its own.
  void profileRungsAreMeasuredKlIncreases() {
    ProfileRequest request;
    request.windows = windows_;
    request.batchSize = 2;
    request.dataLabel = "random";
    int64_t calls = 0, total = 0;
    request.progress = [&](int64_t done, int64_t t) {
      ++calls;
      total = t;
      QCOMPARE(done, calls);
    };
    const auto profile = measurePruningProfile(model_, bank_, branchOptions(), alpha_, request);
    QCOMPARE(total, int64_t(8 * 2));  // 8 heads, ladders of 3 rungs
    QCOMPARE(calls, total);
    const double base = evaluateStudent(model_, *fixedAlphaStudent(bank_, branchOptions(), alpha_, 2, 4), windows_, 2).klPerToken;
    QVERIFY(std::abs(profile.baseKl - base) < 1e-5);
    for (int64_t hd : {0, 5, 7}) {
      const auto& steps = profile.heads[static_cast<size_t>(hd)];
      QCOMPARE(steps.size(), size_t(3));
      QCOMPARE(steps[0].masks, (std::vector<int>{0, 1, 2}));
      QCOMPARE(steps[1].masks, (std::vector<int>{0, 1}));  // full goes first: it saves the most pairs
      for (size_t s = 1; s < steps.size(); ++s) {
        auto a = alpha_;
        const auto w = hardenHead(std::vector<double>(alpha_.begin() + hd * 3, alpha_.begin() + hd * 3 + 3), steps[s].masks);
        std::copy(w.begin(), w.end(), a.begin() + hd * 3);
        const double kl = evaluateStudent(model_, *fixedAlphaStudent(bank_, branchOptions(), a, 2, 4), windows_, 2).klPerToken;
        QVERIFY2(std::abs(steps[s].klIncrease - (kl - base)) < 2e-5, qPrintable(QString("head %1 rung %2").arg(hd).arg(s)));
      }
    }
    std::atomic<bool> stop{true};
    request.stop = &stop;
    QCOMPARE(test::errorOf([&] { measurePruningProfile(model_, bank_, branchOptions(), alpha_, request); }),
             std::string("cancelled"));
  }

  void finetuningLowersTheKlAndKeepsTheMasks() {
    const auto plan = AttentionPlan::fromAlpha(alpha_, 2, 4, bank_, PruningRule::topKRule(1));
    const std::vector<std::vector<int64_t>> batch(windows_.begin(), windows_.begin() + 2);
    PlanFinetuneConfig c;
    c.steps = 25;
    c.learningRate = 0.2;
    int64_t seen = 0;
    const auto before = evaluateStudent(model_, CompiledPlanAttention(plan, bank_, PlanCombine::BranchMixture), batch, 2);
    const auto r = finetunePlan(model_, plan, bank_, PlanCombine::BranchMixture, false,
                                [&](int64_t) { return batch; }, c, [&](int64_t step, double) { seen = step; });
    QCOMPARE(seen, int64_t(25));
    QCOMPARE(r.plan.finetuneSteps, int64_t(25));
    const auto after = evaluateStudent(model_, CompiledPlanAttention(r.plan, bank_, PlanCombine::BranchMixture), batch, 2);
    QVERIFY2(after.klPerToken < 0.9 * before.klPerToken,
             qPrintable(QString("KL %1 -> %2").arg(before.klPerToken).arg(after.klPerToken)));
    for (size_t hd = 0; hd < plan.heads.size(); ++hd) {
      QCOMPARE(r.plan.heads[hd].size(), plan.heads[hd].size());
      for (size_t e = 0; e < plan.heads[hd].size(); ++e) {
        QCOMPARE(r.plan.heads[hd][e].maskIndex, plan.heads[hd][e].maskIndex);
        QVERIFY(r.plan.heads[hd][e].weight > 0);
      }
    }
    for (const auto& p : model_->parameters()) QVERIFY(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0);
  }
};

QTEST_APPLESS_MAIN(TestPlanHardening)
#include "test_plan_hardening.moc"
