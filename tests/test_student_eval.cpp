// evaluateStudent on the tiny fixture GPT-2: a causal-only student equals its teacher, a
// diagonal-only one does not, and every metric matches a reference written here with explicit
// loops over positions (one torch::log_softmax per row). A pruned plan runs through the kernel.
#include <QtTest>

#include <cmath>
#include <random>

#include <torch/torch.h>

#include "core/eval/attention_plan.h"
#include "core/eval/student_eval.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/model/mask_mixture_attention.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {


std::vector<int64_t> randomWindow(std::mt19937& rng, int64_t length, int64_t vocab) {
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(length));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

// A ClampedRaw mixture whose alpha is exactly `alpha` ((L, H, K) row-major).
std::unique_ptr<MaskMixtureAttention> mixtureWithAlpha(const MaskBank& bank, const std::vector<double>& alpha, int64_t L,
                                                       int64_t H) {
  MixtureOptions o;
  o.param = MixtureOptions::Parametrisation::ClampedRaw;
  const auto K = static_cast<int64_t>(bank.masks.size());
  MaskMixtureCoefficients coefficients(L, H, K, o);
  {
    torch::NoGradGuard g;
    coefficients->theta.copy_(torch::tensor(alpha, torch::kFloat64).view({L, H, K}).to(coefficients->theta.dtype()));
  }
  return std::make_unique<MaskMixtureAttention>(bank, o, coefficients, L, H);
}

}  // namespace

class TestStudentEval : public QObject {
  Q_OBJECT

 private:
  Gpt2 model{nullptr};
  std::vector<std::vector<int64_t>> windows;

 private Q_SLOTS:
  void initTestCase() {
    torch::manual_seed(0);
    model = loadGpt2(test::fixture("gpt2-tiny"));
    model->eval();
    std::mt19937 rng(42);
    // Mixed lengths, so batches split where the length changes.
    for (int64_t length : {16, 16, 16, 9, 9, 1, 16})
      windows.push_back(randomWindow(rng, length, model->config().vocabSize));
  }

  void causalStudentEqualsTeacher() {
    const auto& cfg = model->config();
    MixtureOptions o;
    MaskMixtureAttention student(test::makeBank({MaskSpec::causal("causal")}), o,
                                 MaskMixtureCoefficients(cfg.numLayers, cfg.numHeads, 1, o), cfg.numLayers, cfg.numHeads);
    const auto r = evaluateStudent(model, student, windows, 2);
    qInfo("causal student: KL %.3e, ppl teacher %.6f student %.6f, agreement %.4f", r.klPerToken, r.teacherPerplexity,
          r.studentPerplexity, r.top1Agreement);
    QCOMPARE(r.tokens, int64_t(16 * 4 + 9 * 2 + 1));
    QVERIFY(std::abs(r.klPerToken) < 1e-8);
    QCOMPARE(r.top1Agreement, 1.0);
    QVERIFY(std::abs(r.teacherPerplexity - r.studentPerplexity) < 1e-6 * r.teacherPerplexity);
    QVERIFY(r.teacherPerplexity > 1.0);
  }

  void diagonalStudentDiffers() {
    const auto& cfg = model->config();
    MixtureOptions o;
    MaskMixtureAttention student(test::makeBank({MaskSpec::window("diag", 1)}), o,
                                 MaskMixtureCoefficients(cfg.numLayers, cfg.numHeads, 1, o), cfg.numLayers, cfg.numHeads);
    const auto r = evaluateStudent(model, student, windows);
    qInfo("diagonal student: KL %.3e, ppl teacher %.6f student %.6f, agreement %.4f", r.klPerToken, r.teacherPerplexity,
          r.studentPerplexity, r.top1Agreement);
    QVERIFY(r.klPerToken > 1e-6);
    QVERIFY(r.top1Agreement >= 0.0 && r.top1Agreement <= 1.0);
    QVERIFY(r.studentPerplexity != r.teacherPerplexity);
  }

  // Every metric against explicit loops over the positions of one window.
  void matchesReferenceLoops() {
    const auto& cfg = model->config();
    const int64_t L = cfg.numLayers, H = cfg.numHeads;
    const auto bank = test::makeBank({MaskSpec::window("win3", 3), MaskSpec::sinks("sink2", 2), MaskSpec::strided("stride4", 4)});
    std::vector<double> alpha;
    for (int64_t t = 0; t < L * H * 3; ++t) alpha.push_back(0.25 + 0.5 * static_cast<double>(t % 5));
    auto student = mixtureWithAlpha(bank, alpha, L, H);
    std::mt19937 rng(7);
    const auto window = randomWindow(rng, 12, cfg.vocabSize);
    const int64_t T = static_cast<int64_t>(window.size());

    torch::NoGradGuard g;
    const auto ids = torch::tensor(window, torch::kInt64).view({1, T});
    const auto teacher = model->forward(ids)[0];                      // (T, V) float32
    const auto studentLogits = model->forward(ids, nullptr, student.get())[0];  // (T, V)
    double kl = 0, nllT = 0, nllS = 0;
    int64_t agree = 0;
    for (int64_t t = 0; t < T; ++t) {
      const auto lpT = torch::log_softmax(teacher[t].to(torch::kFloat64), 0);
      const auto lpS = torch::log_softmax(studentLogits[t].to(torch::kFloat64), 0);
      double klRow = 0;
      for (int64_t v = 0; v < cfg.vocabSize; ++v) {
        const double a = lpT[v].item<double>(), b = lpS[v].item<double>();
        klRow += std::exp(a) * (a - b);
      }
      kl += klRow;
      if (lpT.argmax().item<int64_t>() == lpS.argmax().item<int64_t>()) ++agree;
      if (t + 1 < T) {
        nllT -= lpT[window[t + 1]].item<double>();
        nllS -= lpS[window[t + 1]].item<double>();
      }
    }
    const double refKl = kl / T, refAgree = static_cast<double>(agree) / T;
    const double refPplT = std::exp(nllT / (T - 1)), refPplS = std::exp(nllS / (T - 1));

    const auto r = evaluateStudent(model, *student, {window}, 1);
    qInfo("reference KL %.9e got %.9e (diff %.2e); ppl T %.9f/%.9f S %.9f/%.9f; agreement %.4f/%.4f", refKl, r.klPerToken,
          std::abs(refKl - r.klPerToken), refPplT, r.teacherPerplexity, refPplS, r.studentPerplexity, refAgree, r.top1Agreement);
    QVERIFY(refKl > 1e-6);
    QVERIFY(std::abs(refKl - r.klPerToken) < 1e-10 + 1e-9 * refKl);
    QVERIFY(std::abs(refPplT - r.teacherPerplexity) < 1e-9 * refPplT);
    QVERIFY(std::abs(refPplS - r.studentPerplexity) < 1e-9 * refPplS);
    QCOMPARE(r.top1Agreement, refAgree);
    QCOMPARE(r.tokens, T);
  }

  void batchingDoesNotChangeTheResult() {
    const auto& cfg = model->config();
    MixtureOptions o;
    MaskMixtureAttention student(test::makeBank({MaskSpec::window("win4", 4), MaskSpec::sinks("sink1", 1)}), o,
                                 MaskMixtureCoefficients(cfg.numLayers, cfg.numHeads, 2, o), cfg.numLayers, cfg.numHeads);
    const auto one = evaluateStudent(model, student, windows, 1);
    const auto many = evaluateStudent(model, student, windows, 8);
    qInfo("batch 1 vs 8: KL %.9e vs %.9e", one.klPerToken, many.klPerToken);
    QCOMPARE(one.tokens, many.tokens);
    QVERIFY(std::abs(one.klPerToken - many.klPerToken) < 1e-5 * one.klPerToken + 1e-9);
    QVERIFY(std::abs(one.studentPerplexity - many.studentPerplexity) < 1e-5 * one.studentPerplexity);
  }

  // A plan that keeps only the causal mask (the largest alpha everywhere) runs as the teacher,
  // although the soft student it came from does not.
  void prunedPlanThroughTheKernel() {
    const auto& cfg = model->config();
    const int64_t L = cfg.numLayers, H = cfg.numHeads;
    const auto bank = test::makeBank({MaskSpec::window("win2", 2), MaskSpec::causal("causal"), MaskSpec::sinks("sink1", 1)});
    std::vector<double> alpha;
    for (int64_t t = 0; t < L * H; ++t) alpha.insert(alpha.end(), {0.3, 2.0, 0.1});
    const auto soft = evaluateStudent(model, *mixtureWithAlpha(bank, alpha, L, H), windows);
    const auto plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::topKRule(1));
    QCOMPARE(plan.activeCount(), L * H);
    const auto hard = evaluateStudent(model, *mixtureWithAlpha(bank, plan.alphaTensorValues(), L, H), windows);
    qInfo("soft student KL %.3e, top-1 plan KL %.3e", soft.klPerToken, hard.klPerToken);
    QVERIFY(soft.klPerToken > 1e-6);
    QVERIFY(std::abs(hard.klPerToken) < 1e-8);
    QCOMPARE(hard.top1Agreement, 1.0);
  }

  void rejectsBadInput() {
    const auto& cfg = model->config();
    MixtureOptions o;
    MaskMixtureAttention student(test::makeBank({MaskSpec::causal("causal")}), o,
                                 MaskMixtureCoefficients(cfg.numLayers, cfg.numHeads, 1, o), cfg.numLayers, cfg.numHeads);
    using Windows = std::vector<std::vector<int64_t>>;
    const Windows none, emptyWindow(1), badToken(1, std::vector<int64_t>{1, cfg.vocabSize}),
        good(1, std::vector<int64_t>{1, 2}), tooLong(1, std::vector<int64_t>(static_cast<size_t>(cfg.contextLength + 1), 1));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, evaluateStudent(model, student, none));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, evaluateStudent(model, student, emptyWindow));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, evaluateStudent(model, student, badToken));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, evaluateStudent(model, student, good, 0));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, evaluateStudent(model, student, tooLong));
  }
};

QTEST_APPLESS_MAIN(TestStudentEval)
#include "test_student_eval.moc"
