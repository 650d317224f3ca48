// GPT-2 parity: our model against an independent float64 reference (scripts/fixtures/make_gpt2_fixtures.py)
// on small random checkpoints stored as F32, F16 and BF16. Reports the max abs difference per check.
#include <QtTest>

#include <torch/torch.h>

#include "core/eval/generation.h"
#include "core/eval/perplexity.h"
#include "core/io/gpt2_checkpoint.h"
#include "tests/support/test_support.h"

using namespace attnx;

class TestGpt2Parity : public QObject {
  Q_OBJECT

 private:
  static double maxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
  }

 private Q_SLOTS:
  void logprobs_data() {
    QTest::addColumn<QString>("folder");
    QTest::newRow("f32") << "gpt2-tiny";
    QTest::newRow("f16 upcast") << "gpt2-tiny-f16";
    QTest::newRow("bf16 upcast") << "gpt2-tiny-bf16";
  }

  // Per-token log-probs within 1e-4 of the float64 reference (fp32 compute on exactly the stored weights).
  void logprobs() {
    QFETCH(QString, folder);
    const auto dir = test::fixture(folder.toStdString());
    auto model = loadGpt2(dir);
    const auto ref = test::readJsonFile(dir + "/reference.json");
    for (const auto& seq : ref["sequences"]) {
      const auto ids = seq["ids"].get<std::vector<int64_t>>();
      const auto scores = scoreTokens(model, ids);
      const double diff = maxAbsDiff(scores.logprobs, seq["logprobs"].get<std::vector<double>>());
      qInfo("%s %s: %zu tokens, max |Δ log-prob| = %.3g", qPrintable(folder),
            seq["name"].get<std::string>().c_str(), ids.size(), diff);
      QVERIFY2(diff < 1e-4, qPrintable(QString("max |Δ log-prob| %1").arg(diff)));
    }
  }

  // Every logit of one sequence, not just the chosen tokens.
  void fullLogits() {
    const auto dir = test::fixture("gpt2-tiny");
    auto model = loadGpt2(dir);
    const auto all = test::readJsonFile(dir + "/reference.json");
    const auto& ref = all["full_logits"];
    std::vector<int64_t> ids;
    for (const auto& s : all["sequences"])
      if (s["name"] == ref["name"]) ids = s["ids"].get<std::vector<int64_t>>();
    QVERIFY(!ids.empty());
    torch::NoGradGuard g;
    auto ours = model->forward(torch::tensor(ids).unsqueeze(0))[0].to(torch::kFloat64);  // (T, V)
    const auto rows = ref["logits"].get<std::vector<std::vector<double>>>();
    QCOMPARE(ours.size(0), static_cast<int64_t>(rows.size()));
    double diff = 0;
    for (size_t t = 0; t < rows.size(); ++t) {
      auto expect = torch::tensor(rows[t], torch::kFloat64);
      diff = std::max(diff, (ours[t] - expect).abs().max().item<double>());
    }
    qInfo("full logits (%zu × %lld): max |Δ| = %.3g", rows.size(), static_cast<long long>(ours.size(1)), diff);
    QVERIFY(diff < 1e-4);
  }

  // A text longer than the context, scored with a strided sliding window.
  void slidingWindowPerplexity() {
    const auto dir = test::fixture("gpt2-tiny");
    auto model = loadGpt2(dir);
    const auto ref = test::readJsonFile(dir + "/reference.json")["long"];
    const auto ids = ref["ids"].get<std::vector<int64_t>>();
    QVERIFY(static_cast<int64_t>(ids.size()) > model->config().contextLength);
    const auto scores = scoreTokens(model, ids, ref["stride"].get<int64_t>());
    const auto expect = ref["logprobs"].get<std::vector<double>>();
    QCOMPARE(scores.logprobs.size(), ids.size() - 1);
    const double diff = maxAbsDiff(scores.logprobs, expect);
    double nll = 0;
    for (double lp : expect) nll -= lp;
    const double refPpl = std::exp(nll / expect.size());
    qInfo("sliding window: %zu tokens, max |Δ log-prob| = %.3g, perplexity %.4f vs %.4f", ids.size(), diff,
          scores.perplexity(), refPpl);
    QVERIFY(diff < 1e-4);
    QVERIFY(std::abs(scores.perplexity() - refPpl) / refPpl < 1e-4);
  }

  void greedyContinuation_data() { logprobs_data(); }

  void greedyContinuation() {
    QFETCH(QString, folder);
    const auto dir = test::fixture(folder.toStdString());
    auto model = loadGpt2(dir);
    const auto ref = test::readJsonFile(dir + "/reference.json")["greedy"];
    SamplingOptions s;
    s.maxNewTokens = 20;
    s.stopOnEos = false;
    const auto out = generate(model, ref["prompt"].get<std::vector<int64_t>>(), s);
    QCOMPARE(out.tokens, ref["continuation"].get<std::vector<int64_t>>());
  }
};

QTEST_APPLESS_MAIN(TestGpt2Parity)
#include "test_gpt2_parity.moc"
