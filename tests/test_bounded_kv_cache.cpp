// Decoding a window/sink student with a bounded KV cache: which masks have a bounded reach, layouts
// compiled over the keys a cache still holds, the compiled kernel over those keys against attention
// written out here, the cache's bookkeeping, and greedy generation on a small random GPT-2 where
// eviction happens: the same tokens with the bounded cache, the full cache, and the dense-masked
// student (with and without a cache).
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <torch/torch.h>

#include "core/eval/compiled_plan_attention.h"
#include "core/eval/generation.h"
#include "core/masks/block_layout.h"
#include "core/model/mask_mixture_attention.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

// Window 16 and 4 sinks (plus the previous token) with the causal mask, pruned away in the plans below.
MaskBank windowSinkBank() {
  return test::makeBank({MaskSpec::window("win-16", 16), MaskSpec::sinks("sinks-4", 4),
                         MaskSpec::offsetSet("prev-token", {0, 1}), MaskSpec::causal("full")});
}

// Random weights per head on the masks whose `use` is set; at least one of them per head.
std::vector<double> randomAlpha(std::mt19937& rng, int64_t L, int64_t H, const std::vector<bool>& use) {
  const auto K = static_cast<int64_t>(use.size());
  std::uniform_real_distribution<double> weight(0.1, 1.5);
  std::vector<double> alpha(static_cast<size_t>(L * H * K), 0.0);
  for (int64_t lh = 0; lh < L * H; ++lh) {
    for (int64_t m = 0; m < K; ++m)
      if (use[m] && rng() % 2 == 0) alpha[lh * K + m] = weight(rng);
    int64_t m = rng() % K;
    while (!use[m]) m = (m + 1) % K;
    alpha[lh * K + m] = weight(rng);
  }
  return alpha;
}

// Attention of one head written out from the mask definitions: the query at absolute position i over
// every key 0..i. Soft mask: P ∝ W exp(s) with W = Σ α_k m_k (the diagonal alone when W is 0 in the
// row); branch mixture: Σ α_k softmax over supp(m_k). q: (d), k, v: (i+1, d), double.
torch::Tensor referenceRow(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const std::vector<MaskSpec>& masks, const std::vector<double>& alpha, int64_t i, bool branch) {
  const int64_t n = i + 1;
  const auto s = torch::mv(k, q) / std::sqrt(static_cast<double>(q.size(0)));  // (n)
  if (branch) {
    auto out = torch::zeros({v.size(1)}, torch::kFloat64);
    for (size_t m = 0; m < masks.size(); ++m) {
      if (alpha[m] == 0) continue;
      auto allowed = torch::zeros({n}, torch::kBool);
      for (int64_t j = 0; j < n; ++j) allowed[j] = masks[m].allows(i, j, n);
      out += alpha[m] * torch::mv(v.t(), torch::softmax(s.masked_fill(allowed.logical_not(), -INFINITY), 0));
    }
    return out;
  }
  auto w = torch::zeros({n}, torch::kFloat64);
  for (int64_t j = 0; j < n; ++j)
    for (size_t m = 0; m < masks.size(); ++m)
      if (masks[m].allows(i, j, n)) w[j] += alpha[m];
  if (w.sum().item<double>() == 0) w[i] = 1;
  auto p = w * torch::exp(s - s.max());
  return torch::mv(v.t(), p / p.sum());
}

// A random GPT-2 small enough to decode 90 tokens in a second.
Gpt2 smallGpt2(int64_t context) {
  Gpt2Config c;
  c.vocabSize = 97;
  c.numLayers = 2;
  c.numHeads = 4;
  c.embedDim = 32;
  c.contextLength = context;
  Gpt2 m(c);
  m->initWeights(11);
  // GPT-2's initialisation (std 0.02) leaves a random model's next token a function of the current
  // one; ten times larger weights make attention, and so the student's masks, decide it.
  torch::NoGradGuard g;
  for (auto& p : m->named_parameters())
    if (p.key().find("ln_") == std::string::npos) p.value().mul_(10);
  m->eval();
  return m;
}

// The dense-masked student with exactly the plan's weights (MaskMixtureAttention, ClampedRaw θ = α).
std::unique_ptr<MaskMixtureAttention> denseMasked(const MaskBank& bank, const AttentionPlan& plan, bool branch) {
  MixtureOptions o;
  o.combine = branch ? MixtureOptions::Combine::BranchMixture : MixtureOptions::Combine::SoftMask;
  o.param = MixtureOptions::Parametrisation::ClampedRaw;
  o.initialCoefficient = 0;
  MaskMixtureCoefficients c(plan.numLayers, plan.numHeads, plan.numMasks(), o);
  {
    torch::NoGradGuard g;
    c->theta.copy_(torch::tensor(plan.alphaTensorValues(), torch::kFloat64).view(c->theta.sizes()));
  }
  return std::make_unique<MaskMixtureAttention>(bank, o, c, plan.numLayers, plan.numHeads);
}

std::vector<int64_t> randomIds(std::mt19937& rng, int64_t n, int64_t vocab) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int64_t>(rng() % vocab);
  return ids;
}

}  // namespace

class TestBoundedKvCache : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Each bounded family's reach, by hand, and checked pair by pair: every allowed (i, j) is a sink or
  // inside the window.
  void maskReach() {
    const std::vector<std::pair<MaskSpec, KeyReach>> bounded = {
        {MaskSpec::window("w", 16), {0, 16}},           {MaskSpec::dilatedWindow("d", 4, 3), {0, 10}},
        {MaskSpec::blockLocal("b", 8), {0, 8}},         {MaskSpec::sinks("s", 4), {4, 1}},
        {MaskSpec::offsetSet("o", {0, 1, 7}), {0, 8}},  {MaskSpec::offsetSet("diag", {0}), {0, 1}},
        // 2 x 2 cells of 4 tokens: the canvas (8 tokens back at most), then sinks and diagonals.
        {MaskSpec::painted("p", 2, {1, 0, 1, 1}, 4), {4, 8}}};
    const int64_t n = 120;
    for (const auto& [mask, want] : bounded) {
      const auto got = mask.keyReach();
      QVERIFY2(got && *got == want, mask.name.c_str());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j)
          if (mask.allows(i, j, n)) QVERIFY2(j < want.sinks || i - j < want.window, mask.name.c_str());
    }
    for (const auto& m : {MaskSpec::causal("c"), MaskSpec::strided("st", 5), MaskSpec::summaryColumns("sum", 16, 2),
                          MaskSpec::random("r", 8, 2, 3)})
      QVERIFY2(!m.keyReach(), m.name.c_str());

    // A plan reaches as far as its farthest active mask; one unbounded active mask makes it unbounded.
    const auto bank = windowSinkBank();
    const auto windowSink = AttentionPlan::fromAlpha({0.5, 0.2, 0, 0, 0, 0, 0.3, 0}, 1, 2, bank, PruningRule::thresholdRule(0));
    QVERIFY(windowSink.keyReach(bank) == (KeyReach{4, 16}));
    const auto withFull = AttentionPlan::fromAlpha({0.5, 0.2, 0, 0, 0, 0, 0.3, 0.1}, 1, 2, bank, PruningRule::thresholdRule(0));
    QVERIFY(!withFull.keyReach(bank));
  }

  // A layout over held keys: member bits at every (query, key) of the layout against the masks'
  // definitions at the absolute positions.
  void layoutOverHeldKeys() {
    const std::vector<MaskSpec> masks = {MaskSpec::window("w", 16), MaskSpec::sinks("s", 4), MaskSpec::blockLocal("b", 8)};
    std::vector<int64_t> positions = {0, 1, 2, 3};
    for (int64_t p = 60; p <= 80; ++p) positions.push_back(p);
    const auto n = static_cast<int64_t>(positions.size()), nAbs = positions.back() + 1;
    for (int64_t blockSize : {4, 7, 64}) {
      for (int64_t rowBegin : {n - 1, n - 5}) {
        const auto L = compileBlockLayoutAt(masks, positions, blockSize, rowBegin);
        QCOMPARE(L.n, n);
        for (int64_t r = rowBegin; r < n; ++r)
          for (int64_t c = 0; c < n; ++c) {
            MaskMembers want = 0;
            for (size_t m = 0; m < masks.size(); ++m)
              if (c <= r && masks[m].allows(positions[r], positions[c], nAbs)) want |= MaskMembers{1} << m;
            QCOMPARE(L.membersAt(r, c), want);
          }
      }
    }
    // A key the masks reach but the cache no longer holds is an error, not a silently wrong row.
    std::vector<int64_t> gap = {0, 1, 2, 3, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80};
    QVERIFY(test::errorOf([&] { compileBlockLayoutAt(masks, gap, 64, 14); }).find("not among the keys held") !=
            std::string::npos);
  }

  // The compiled kernel over the held keys (sinks and the last window) against the attention of the
  // query over every key, written out above, for both ways of combining and a multi-row query block.
  void kernelOverHeldKeysMatchesFullAttention() {
    const auto bank = windowSinkBank();
    std::mt19937 rng(3);
    torch::manual_seed(3);
    const int64_t L = 1, H = 3, K = 4, d = 8, nAbs = 90, Tq = 3;
    const auto alpha = randomAlpha(rng, L, H, {true, true, true, false});
    const auto plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(0));
    std::vector<int64_t> held = {0, 1, 2, 3};
    for (int64_t p = nAbs - Tq - 15; p < nAbs; ++p) held.push_back(p);  // the first query's window and the queries
    const auto idx = torch::tensor(held, torch::kLong);
    auto q = torch::randn({1, H, Tq, d}), k = torch::randn({1, H, nAbs, d}), v = torch::randn({1, H, nAbs, d});
    for (bool branch : {false, true}) {
      CompiledPlanAttention compiled(plan, bank, branch ? PlanCombine::BranchMixture : PlanCombine::SoftMask, false, 8);
      QVERIFY(compiled.keyReach() == (KeyReach{4, 16}));
      const auto out = compiled.forwardAt(q, k.index_select(2, idx), v.index_select(2, idx), 0, held);  // (1, H, Tq, d)
      double err = 0;
      for (int64_t h = 0; h < H; ++h) {
        const std::vector<double> a(alpha.begin() + h * K, alpha.begin() + (h + 1) * K);
        for (int64_t t = 0; t < Tq; ++t) {
          const int64_t i = nAbs - Tq + t;
          const auto want = referenceRow(q[0][h][t].to(torch::kFloat64), k[0][h].slice(0, 0, i + 1).to(torch::kFloat64),
                                         v[0][h].slice(0, 0, i + 1).to(torch::kFloat64), bank.masks, a, i, branch);
          err = std::max(err, (out[0][h][t].to(torch::kFloat64) - want).abs().max().item<double>());
        }
      }
      QVERIFY2(err < 1e-5, qPrintable(QString("%1: max error %2").arg(branch ? "branch" : "soft").arg(err)));
    }
  }

  // Rows hold the right positions after each drop, the bound holds, and positions stay absolute.
  void cacheDropsOnlyUnreachableKeys() {
    KvCache cache;
    const KeyReach reach{4, 16};
    cache.limitCapacity(reach.sinks + reach.window);
    auto row = [](int64_t pos) { return torch::full({1, 1, 1, 2}, static_cast<float>(pos)); };  // key value = position
    for (int64_t pos = 0; pos < 100; ++pos) {
      const int64_t before = cache.heldKeys();
      const auto [k, v] = cache.append(0, row(pos), row(pos));
      QCOMPARE(k.size(2), before + 1);
      QVERIFY(k.size(2) <= reach.sinks + reach.window);
      const auto positions = cache.keyPositions(1);
      QCOMPARE(positions.back(), pos);
      for (int64_t r = 0; r < k.size(2); ++r) {
        QCOMPARE(static_cast<int64_t>(k[0][0][r][0].item<float>()), positions[r]);
        QCOMPARE(static_cast<int64_t>(v[0][0][r][1].item<float>()), positions[r]);
        // Held: the sinks and the window of the query at `pos`.
        QVERIFY(positions[r] < 4 || pos - positions[r] < 16);
      }
      cache.commit(1);
      cache.dropUnreachable(reach);
      QCOMPARE(cache.length(), pos + 1);
    }
    QCOMPARE(cache.droppedKeys(), 100 - 4 - 15);
    QCOMPARE(cache.peakKeys(), int64_t{20});
    QCOMPARE(cache.bytes(), int64_t{2 * 20 * 2 * 4});  // keys and values: 20 rows of 2 floats
  }

  // The check: window 16, 4 sinks, 80 new tokens, greedy. The bounded cache drops keys (and
  // holds at most 20 per layer), and every way of running the student picks the same tokens.
  void greedyTokensMatchWithEviction_data() {
    QTest::addColumn<bool>("branch");
    QTest::addColumn<int>("promptLength");
    QTest::addColumn<int>("context");
    QTest::newRow("soft mask") << false << 10 << 128;
    QTest::newRow("branch mixture") << true << 10 << 128;
    QTest::newRow("prompt longer than the window") << false << 40 << 128;
    QTest::newRow("past the context") << false << 10 << 64;  // the last tokens recompute without a cache
  }
  void greedyTokensMatchWithEviction() {
    QFETCH(bool, branch);
    QFETCH(int, promptLength);
    QFETCH(int, context);
    auto model = smallGpt2(context);
    const auto bank = windowSinkBank();
    std::mt19937 rng(7);
    const auto& cfg = model->config();
    const auto plan = AttentionPlan::fromAlpha(randomAlpha(rng, cfg.numLayers, cfg.numHeads, {true, true, true, false}),
                                               cfg.numLayers, cfg.numHeads, bank, PruningRule::thresholdRule(0));
    CompiledPlanAttention compiled(plan, bank, branch ? PlanCombine::BranchMixture : PlanCombine::SoftMask);
    const auto masked = denseMasked(bank, plan, branch);
    const auto prompt = randomIds(rng, promptLength, cfg.vocabSize);
    SamplingOptions s;
    s.maxNewTokens = 80;
    s.stopOnEos = false;

    const auto bounded = generate(model, prompt, s, &compiled);
    auto full = s;
    full.boundKvCache = false;
    const auto unbounded = generate(model, prompt, full, &compiled);
    const auto dense = generate(model, prompt, s, masked.get());
    auto noCache = s;
    noCache.useKvCache = false;
    const auto denseNoCache = generate(model, prompt, noCache, masked.get());

    QCOMPARE(bounded.tokens.size(), size_t{80});
    // The masks decide the tokens: the teacher (every key) continues differently.
    const auto teacher = generate(model, prompt, s);
    QVERIFY(teacher.tokens != bounded.tokens);
    QCOMPARE(bounded.tokens, unbounded.tokens);
    QCOMPARE(bounded.tokens, dense.tokens);
    QCOMPARE(bounded.tokens, denseNoCache.tokens);

    QVERIFY(bounded.cache.bounded && !unbounded.cache.bounded && !dense.cache.bounded);
    QCOMPARE(bounded.cache.sinks, int64_t{4});
    QCOMPARE(bounded.cache.window, int64_t{16});
    QCOMPARE(unbounded.cache.droppedKeys, int64_t{0});
    if (promptLength + 80 <= context) {
      // Decoding keeps sinks + window keys; only a longer prompt needs more, once.
      QCOMPARE(bounded.cache.peakKeys, std::max<int64_t>(20, promptLength));
      QCOMPARE(bounded.cache.droppedKeys, promptLength + 79 - 16 + 1 - 4);  // positions seen, less those held
      QVERIFY(bounded.cache.peakBytes < unbounded.cache.peakBytes);
      qInfo("%d + 80 tokens: KV cache peak %lld bytes bounded (%lld keys per layer), %lld bytes unbounded (%lld keys)",
            promptLength, static_cast<long long>(bounded.cache.peakBytes), static_cast<long long>(bounded.cache.peakKeys),
            static_cast<long long>(unbounded.cache.peakBytes), static_cast<long long>(unbounded.cache.peakKeys));
    }
  }

  // A plan with an unbounded mask keeps every key.
  void unboundedPlanKeepsTheFullCache() {
    auto model = smallGpt2(128);
    const auto bank = windowSinkBank();
    std::mt19937 rng(9);
    const auto& cfg = model->config();
    auto alpha = randomAlpha(rng, cfg.numLayers, cfg.numHeads, {true, true, true, false});
    alpha[3] = 0.2;  // layer 0, head 0: the causal mask
    const auto plan = AttentionPlan::fromAlpha(alpha, cfg.numLayers, cfg.numHeads, bank, PruningRule::thresholdRule(0));
    CompiledPlanAttention compiled(plan, bank, PlanCombine::SoftMask);
    QVERIFY(!compiled.keyReach());
    SamplingOptions s;
    s.maxNewTokens = 40;
    s.stopOnEos = false;
    const auto prompt = randomIds(rng, 5, cfg.vocabSize);
    const auto out = generate(model, prompt, s, &compiled);
    QVERIFY(!out.cache.bounded);
    QCOMPARE(out.cache.droppedKeys, int64_t{0});
    QCOMPARE(out.cache.peakKeys, int64_t{5 + 39});
    QCOMPARE(out.tokens, generate(model, prompt, s, denseMasked(bank, plan, false).get()).tokens);
  }
};

QTEST_APPLESS_MAIN(TestBoundedKvCache)
#include "test_bounded_kv_cache.moc"
