// Generation: KV-cache decoding equals full recomputation; sampling filters against hand-computed
// distributions; seeds reproduce; EOS and cancel stop; the context limit is handled.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <set>

#include <torch/torch.h>

#include "core/eval/generation.h"
#include "core/io/gpt2_checkpoint.h"
#include "tests/support/test_support.h"

using namespace attnx;

class TestGeneration : public QObject {
  Q_OBJECT
  Gpt2 model_{nullptr};

  static torch::Tensor logitsOf(std::vector<double> probs) {
    for (auto& p : probs) p = std::log(p);
    return torch::tensor(probs, torch::kFloat64);
  }

 private Q_SLOTS:
  void initTestCase() { model_ = loadGpt2(test::fixture("gpt2-tiny")); }

  // Feeding tokens one at a time through the cache gives the logits of one full pass.
  void kvCacheEqualsFullRecomputation() {
    torch::NoGradGuard g;
    std::vector<int64_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % 311);
    auto full = model_->forward(torch::tensor(ids).unsqueeze(0))[0];  // (T, V)
    KvCache cache;
    // A 7-token prefix first, then single tokens, then a chunk of 5: every way of appending.
    auto pieces = std::vector<std::pair<int64_t, int64_t>>{{0, 7}};
    for (int64_t t = 7; t < 30; ++t) pieces.push_back({t, 1});
    pieces.push_back({30, 5});
    pieces.push_back({35, 5});
    double diff = 0;
    for (auto [start, len] : pieces) {
      auto chunk = torch::tensor(std::vector<int64_t>(ids.begin() + start, ids.begin() + start + len)).unsqueeze(0);
      auto out = model_->forward(chunk, &cache)[0];
      diff = std::max(diff, (out - full.narrow(0, start, len)).abs().max().item<double>());
    }
    QCOMPARE(cache.length(), int64_t(40));
    // Logits here reach ±30, so float32 rounding alone is ~1e-5; a wrong position or a stale key is ≫ 1e-2.
    qInfo("incremental vs full logits: max |Δ| = %.3g (max |logit| %.1f)", diff, full.abs().max().item<double>());
    QVERIFY(diff < 1e-4);
  }

  void cachedAndUncachedGenerationAgree_data() {
    QTest::addColumn<bool>("greedy");
    QTest::addColumn<int>("promptLen");
    QTest::newRow("greedy") << true << 5;
    QTest::newRow("sampled") << false << 5;
    QTest::newRow("greedy past the context") << true << 58;  // 58 + 20 > 64 positions
    QTest::newRow("sampled past the context") << false << 58;
  }

  void cachedAndUncachedGenerationAgree() {
    QFETCH(bool, greedy);
    QFETCH(int, promptLen);
    std::vector<int64_t> prompt;
    for (int i = 0; i < promptLen; ++i) prompt.push_back((i * 13 + 2) % 311);
    SamplingOptions s;
    s.greedy = greedy;
    s.temperature = 0.9;
    s.topK = 50;
    s.topP = 0.95;
    s.seed = 7;
    s.maxNewTokens = 20;
    s.stopOnEos = false;
    const auto cached = generate(model_, prompt, s);
    s.useKvCache = false;
    const auto full = generate(model_, prompt, s);
    QCOMPARE(cached.tokens.size(), size_t(20));
    QCOMPARE(cached.tokens, full.tokens);
  }

  void seedReproduces() {
    SamplingOptions s;
    s.greedy = false;
    s.maxNewTokens = 30;
    s.stopOnEos = false;
    s.seed = 42;
    const std::vector<int64_t> prompt{1, 2, 3};
    const auto a = generate(model_, prompt, s);
    const auto b = generate(model_, prompt, s);
    s.seed = 43;
    const auto c = generate(model_, prompt, s);
    QCOMPARE(a.tokens, b.tokens);
    QVERIFY(a.tokens != c.tokens);
  }

  // p = (.5, .3, .2): hand-computed cumulative buckets under each filter.
  void pickTokenFilters() {
    const auto z = logitsOf({0.5, 0.3, 0.2});
    SamplingOptions s;
    QCOMPARE(pickToken(z, s, 0.99), int64_t(0));  // greedy ignores the draw
    s.greedy = false;
    QCOMPARE(pickToken(z, s, 0.49), int64_t(0));
    QCOMPARE(pickToken(z, s, 0.51), int64_t(1));
    QCOMPARE(pickToken(z, s, 0.81), int64_t(2));
    s.topK = 2;  // (.5, .3) renormalised: (.625, .375)
    QCOMPARE(pickToken(z, s, 0.62), int64_t(0));
    QCOMPARE(pickToken(z, s, 0.63), int64_t(1));
    QCOMPARE(pickToken(z, s, 0.999), int64_t(1));
    s.topK = 0;
    s.topP = 0.5;  // the top token alone reaches 0.5
    QCOMPARE(pickToken(z, s, 0.99), int64_t(0));
    s.topP = 0.6;  // needs two tokens
    QCOMPARE(pickToken(z, s, 0.63), int64_t(1));
    s.topP = 1.0;
    s.temperature = 2.0;  // p ∝ sqrt(.5, .3, .2) = (.7071, .5477, .4472)/1.7020 → (.4155, .3218, .2628)
    QCOMPARE(pickToken(z, s, 0.41), int64_t(0));
    QCOMPARE(pickToken(z, s, 0.42), int64_t(1));
    QCOMPARE(pickToken(z, s, 0.73), int64_t(1));
    QCOMPARE(pickToken(z, s, 0.74), int64_t(2));
  }

  void stopsOnEos() {
    // Declare the first greedy token to be EOS in a copy of the model's config.
    const auto ref = test::readJsonFile(test::fixture("gpt2-tiny/reference.json"))["greedy"];
    const int64_t first = ref["continuation"][0].get<int64_t>();
    QTemporaryDir tmp;
    namespace fs = std::filesystem;
    fs::copy_file(test::fixture("gpt2-tiny/model.safetensors"), tmp.path().toStdString() + "/model.safetensors");
    auto cfg = test::readJsonFile(test::fixture("gpt2-tiny/config.json"));
    cfg["eos_token_id"] = first;
    std::ofstream(tmp.path().toStdString() + "/config.json") << cfg.dump();
    auto m = loadGpt2(tmp.path().toStdString());
    SamplingOptions s;
    s.maxNewTokens = 10;
    auto r = generate(m, ref["prompt"].get<std::vector<int64_t>>(), s);
    QCOMPARE(r.tokens, std::vector<int64_t>{first});
    QVERIFY(r.stoppedOnEos);
    s.stopOnEos = false;
    QCOMPARE(generate(m, ref["prompt"].get<std::vector<int64_t>>(), s).tokens.size(), size_t(10));
  }

  void callbackCancels() {
    SamplingOptions s;
    s.maxNewTokens = 10;
    s.stopOnEos = false;
    int seen = 0;
    auto r = generate(model_, {1, 2}, s, nullptr, [&](int64_t) { return ++seen < 3; });
    QCOMPARE(seen, 3);
    QCOMPARE(r.tokens.size(), size_t(3));
  }

  // CTRL's rule by hand: a seen token's positive logit is divided, a negative one multiplied; a token
  // seen twice is penalised once; unseen tokens and the input tensor are untouched.
  void repetitionPenaltyByHand() {
    const auto logits = torch::tensor(std::vector<double>{2.0, -1.0, 0.5, 3.0, -0.2}, torch::kFloat64);
    const auto out = penalizeRepeats(logits, {0, 1, 1, 4}, 2.0);
    const std::vector<double> want{1.0, -2.0, 0.5, 3.0, -0.4};
    for (int i = 0; i < 5; ++i) QCOMPARE(out[i].item<double>(), want[i]);
    QCOMPARE(logits[0].item<double>(), 2.0);
    // Greedy: 3.0 (seen) against 2.9 (unseen); 3.0 / 1.2 = 2.5 loses.
    SamplingOptions greedy;
    const auto pair = torch::tensor(std::vector<double>{3.0, 2.9}, torch::kFloat64);
    QCOMPARE(pickToken(penalizeRepeats(pair, {0}, 1.2), greedy, 0.0), int64_t(1));
    QCOMPARE(pickToken(penalizeRepeats(pair, {0}, 1.0), greedy, 0.0), int64_t(0));
  }

  // Greedy generation with a penalty equals a loop written here: a full forward per token, the penalty
  // applied element by element over the set of tokens seen so far, then the argmax.
  void greedyWithRepetitionPenaltyMatchesAHandLoop() {
    SamplingOptions s;
    s.repetitionPenalty = 1.5;
    s.maxNewTokens = 16;
    s.stopOnEos = false;
    const std::vector<int64_t> prompt{7, 19, 7, 250};
    const auto got = generate(model_, prompt, s).tokens;

    torch::NoGradGuard g;
    std::vector<int64_t> ids = prompt, want;
    for (int step = 0; step < 16; ++step) {
      auto z = model_->forward(torch::tensor(ids).unsqueeze(0))[0][-1].to(torch::kFloat64).contiguous();
      std::vector<double> v(z.data_ptr<double>(), z.data_ptr<double>() + z.numel());
      std::set<int64_t> seen(ids.begin(), ids.end());
      for (int64_t id : seen) v[id] = v[id] > 0 ? v[id] / 1.5 : v[id] * 1.5;
      const int64_t next = std::max_element(v.begin(), v.end()) - v.begin();
      want.push_back(next);
      ids.push_back(next);
    }
    QCOMPARE(got, want);
    // And the penalty changed something on this model: without it the greedy tokens differ.
    s.repetitionPenalty = 1.0;
    QVERIFY(generate(model_, prompt, s).tokens != want);
  }

  void badInputs() {
    SamplingOptions s;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, generate(model_, {}, s));
    s.greedy = false;
    s.topP = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, generate(model_, {1}, s));
    s.topP = 1;
    s.temperature = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, generate(model_, {1}, s));
    SamplingOptions penalty;  // checked greedy too: it applies there
    penalty.repetitionPenalty = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, generate(model_, {1}, penalty));
    penalty.repetitionPenalty = std::nan("");
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, generate(model_, {1}, penalty));
    torch::NoGradGuard g;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, model_->forward(torch::tensor(std::vector<int64_t>{5, 311}).unsqueeze(0)));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, model_->forward(torch::zeros({1, 65}, torch::kLong)));
  }
};

QTEST_APPLESS_MAIN(TestGeneration)
#include "test_generation.moc"
