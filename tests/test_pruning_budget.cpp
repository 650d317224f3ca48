// The budgeted pruning rule and what it stands on, torch-free: faithful hardening of a head, the ladder a
// head descends, the allocation over a hand-made profile (expected plans worked out by hand below,
// convex hull included), the profile file, and the baseline plans (densities counted here pair by pair).
#include <QtTest>

#include <cmath>
#include <functional>

#include <QTemporaryDir>

#include "core/eval/attention_plan.h"
#include "core/eval/pruning_profile.h"
#include "core/study/baseline_plans.h"
#include "tests/support/test_support.h"

using namespace attnx;
using Kept = std::vector<std::vector<int>>;

namespace {

// 0: causal, 1: window 2, 2: sink 1. At n = 4 (10 causal pairs): win2 7, sink1 7, win2 | sink1 9.
MaskBank smallBank() {
  return test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("win2", 2), MaskSpec::sinks("sink1", 1)}, "budget-test");
}

Kept kept(const AttentionPlan& plan) {
  Kept out;
  for (const auto& head : plan.heads) {
    out.emplace_back();
    for (const auto& e : head) out.back().push_back(e.maskIndex);
  }
  return out;
}

// L = 1, H = 2 (costs exact in binary, so equal slopes are equal). Head 0: rungs (pairs 10, cost 0),
// (9, 0.125), (7, 0.625): slopes 0.125 then 0.25, convex. Head 1: (10, 0), (9, 0.5), (7, 0.75): slopes
// 0.5 then 0.125, not convex, so its hull skips the middle rung: (10, 0) -> (7, 0.75), slope 0.25.
PruningProfile handProfile() {
  PruningProfile p;
  p.numLayers = 1;
  p.numHeads = 2;
  p.maskNames = {"causal", "win2", "sink1"};
  p.n = 4;
  p.windows = 2;
  p.data = "hand";
  p.baseKl = 0.25;
  p.heads = {{{{0, 1, 2}, 0.0}, {{1, 2}, 0.125}, {{1}, 0.625}}, {{{0, 1, 2}, 0.0}, {{1, 2}, 0.5}, {{2}, 0.75}}};
  return p;
}

const std::vector<double> kAlpha = {0.5, 0.2, 0.2,   // head 0
                                    0.3, 0.7, 0.1};  // head 1

int64_t countPairs(int64_t n, const std::function<bool(int64_t, int64_t)>& allowed) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) c += (i == j || allowed(i, j)) ? 1 : 0;
  return c;
}

}  // namespace

class TestPruningBudget : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void hardenHeadRescalesToTheWholeSum() {
    QCOMPARE(hardenHead({0.5, 0.25, 0.25}, {0, 1, 2}), (std::vector<double>{0.5, 0.25, 0.25}));  // nothing dropped
    QCOMPARE(hardenHead({0.5, 0.25, 0.25}, {1}), (std::vector<double>{0, 1.0, 0}));              // 0.25 * 1 / 0.25
    QCOMPARE(hardenHead({0.5, 0.25, 0.25}, {0, 2}), (std::vector<double>{2.0 / 3.0, 0, 1.0 / 3.0}));
    QCOMPARE(hardenHead({0.0, 0.0, 0.4}, {0}), (std::vector<double>{0, 0, 0}));  // kept sum 0: left as it is
  }

  void pruningNothingKeepsAlpha() {
    const auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, smallBank(), PruningRule::thresholdRule(0));
    QCOMPARE(plan.alphaTensorValues(), kAlpha);
  }

  void ladderShedsTheWidestReachFirst() {
    const auto bank = smallBank();
    // From {causal, win2, sink1}: dropping causal saves 1 pair, the others 0. Then win2 and sink1 save 2
    // each: the smaller weight goes, and on equal weights the higher index.
    QCOMPARE(PruningProfile::ladder({0, 1, 2}, {0.5, 0.2, 0.2}, bank, 4), (Kept{{0, 1, 2}, {1, 2}, {1}}));
    QCOMPARE(PruningProfile::ladder({0, 1, 2}, {0.5, 0.3, 0.2}, bank, 4), (Kept{{0, 1, 2}, {1, 2}, {1}}));
    QCOMPARE(PruningProfile::ladder({0, 1, 2}, {0.5, 0.1, 0.2}, bank, 4), (Kept{{0, 1, 2}, {1, 2}, {2}}));
    QCOMPARE(PruningProfile::ladder({2}, {0, 0, 1}, bank, 4), (Kept{{2}}));
    // Masks that cover each other at this n save nothing when dropped: the larger goes first, so the
    // head still ends on its cheapest mask. At n = 4, win8 is causal and both cover win2.
    const auto redundant = test::makeBank({MaskSpec::window("win2", 2), MaskSpec::causal("causal"), MaskSpec::window("win8", 8)});
    QCOMPARE(PruningProfile::ladder({0, 1, 2}, {0.1, 0.5, 0.2}, redundant, 4), (Kept{{0, 1, 2}, {0, 1}, {0}}));
  }

  void budgetAllocatesByMeasuredCost() {
    const auto bank = smallBank();
    const auto profile = handProfile();
    auto at = [&](double rho) {
      return AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::budgetRule(rho, 4), &profile);
    };
    // 20 pairs at the start. Moves by cost per pair: head 0 to {win2, sink1} (0.125), then head 0 to
    // {win2} (0.25) and head 1 to {sink1} (0.25): equal, the lower head first.
    QCOMPARE(kept(at(1.0)), (Kept{{0, 1, 2}, {0, 1, 2}}));
    QCOMPARE(kept(at(0.95)), (Kept{{1, 2}, {0, 1, 2}}));  // 19 pairs
    QCOMPARE(kept(at(0.9)), (Kept{{1}, {0, 1, 2}}));      // 19 > 18, one more move: 17
    QCOMPARE(kept(at(0.8)), (Kept{{1}, {2}}));            // head 1 skips its non-convex rung {win2, sink1}
    QVERIFY(std::abs(at(0.8).meanDensity(bank, 4) - 0.7) < 1e-15);
    QCOMPARE(kept(at(0.1)), (Kept{{1}, {2}}));            // every head on its last rung
    // Nested: a lower target never keeps a mask a higher one dropped.
    for (double hi : {1.0, 0.95, 0.9, 0.8})
      for (double lo : {0.95, 0.9, 0.8, 0.1}) {
        if (lo > hi) continue;
        const auto a = kept(at(hi)), b = kept(at(lo));
        for (size_t h = 0; h < a.size(); ++h)
          for (int k : b[h]) QVERIFY(std::find(a[h].begin(), a[h].end(), k) != a[h].end());
      }
    // Faithful weights: head 0's win2 carries 0.9, head 1's sink1 carries 1.1.
    const auto plan = at(0.8);
    QVERIFY(std::abs(plan.active(0, 0)[0].weight - 0.9) < 1e-15);
    QVERIFY(std::abs(plan.active(0, 1)[0].weight - 1.1) < 1e-15);
    QCOMPARE(plan.rule.text(), std::string("budget 0.8 at n=4"));
  }

  void budgetNeedsAFittingProfile() {
    const auto bank = smallBank();
    QVERIFY(test::errorOf([&] { AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::budgetRule(0.5, 4)); })
                .find("needs the run's pruning profile") != std::string::npos);
    auto zero = kAlpha;
    zero[3] = 0;  // head 1's causal: its profile's first rung keeps it
    const auto profile = handProfile();
    QVERIFY(test::errorOf([&] { AttentionPlan::fromAlpha(zero, 1, 2, bank, PruningRule::budgetRule(1.0, 4), &profile); })
                .find("whose alpha is 0") != std::string::npos);
    auto renamed = bank;
    renamed.masks[2].name = "sink";
    QCOMPARE(test::errorOf([&] { AttentionPlan::fromAlpha(kAlpha, 1, 2, renamed, PruningRule::budgetRule(0.5, 4), &profile); }),
             std::string("mask 2: the pruning profile has \"sink1\", the bank has \"sink\""));
  }

  void planAndProfileFiles() {
    const auto bank = smallBank();
    const auto profile = handProfile();
    auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::budgetRule(0.9, 4), &profile);
    plan.finetuneSteps = 30;
    const auto back = AttentionPlan::fromJsonText(plan.toJsonText(), "mem");
    QVERIFY(back == plan);
    QCOMPARE(back.rule.kind, PruningRule::Kind::Budget);
    QCOMPARE(back.finetuneSteps, int64_t(30));
    QVERIFY(plan.toJsonText().find("\"finetune_steps\": 30") != std::string::npos);

    QTemporaryDir dir;
    const auto path = dir.filePath("pruning_profile.json").toStdString();
    profile.save(path);
    QVERIFY(PruningProfile::load(path) == profile);
    const auto text = test::readTextFile(path);
    auto broken = [&](const std::string& from, const std::string& to) {
      auto t = text;
      const auto at = t.find(from);
      if (at == std::string::npos) return std::string("test setup: no ") + from;
      t.replace(at, from.size(), to);
      return test::errorOf([&] { PruningProfile::fromJsonText(t, "p.json"); });
    };
    QCOMPARE(broken("\"windows\": 2", "\"windows\": 2, \"extra\": 1"), std::string("p.json: unknown field \"extra\""));
    QCOMPARE(broken("\"masks\": [\"win2\",\"sink1\"]", "\"masks\": [\"win9\",\"sink1\"]"),
             std::string("p.json: profile: layer 0, head 0, step 1: mask \"win9\" is not in field \"masks\""));
    QCOMPARE(broken("\"kl_increase\": 0.625", "\"kl_increase\": \"x\""),
             std::string("p.json: profile: layer 0, head 0, step 2: field \"kl_increase\" must be a number"));
    QCOMPARE(broken("{\"masks\": [\"win2\"], \"kl_increase\": 0.625}", "{\"masks\": [\"causal\"], \"kl_increase\": 0.625}"),
             std::string("p.json: layer 0, head 0, step 2: must be the previous step with one mask removed"));
    QCOMPARE(broken("\"format\": \"attnx-pruning-profile\"", "\"format\": \"x\""),
             std::string("p.json: not an attnx pruning profile (field \"format\" must be \"attnx-pruning-profile\")"));
  }

  // Uniform baselines against pairs counted here from the families' definitions.
  void uniformBaselines() {
    const int64_t n = 37;
    const auto w = uniformWindowSinks(2, 3, 8, 4);
    const double causal = n * (n + 1) / 2.0;
    const auto expectW = countPairs(n, [](int64_t i, int64_t j) { return i - j < 8 || j < 4; }) / causal;
    QVERIFY(std::abs(w.plan.meanDensity(w.bank, n) - expectW) < 1e-15);
    QCOMPARE(w.plan.activeCount(), int64_t(12));
    QCOMPARE(w.plan.active(1, 2)[1].weight, 1.0);
    const auto b = uniformBlockSinks(2, 3, 5, 2);
    const auto expectB = countPairs(n, [](int64_t i, int64_t j) { return i / 5 == j / 5 || j < 2; }) / causal;
    QVERIFY(std::abs(b.plan.meanDensity(b.bank, n) - expectB) < 1e-15);
    const auto alone = uniformWindowSinks(1, 1, 8, 0);
    QCOMPARE(alone.bank.masks.size(), size_t(1));
  }

  void randomAllocationIsAControlOfTheSameDensity() {
    const auto bank = test::makeBank({MaskSpec::window("w4", 4), MaskSpec::window("w16", 16), MaskSpec::sinks("s2", 2),
                                      MaskSpec::causal("full")});
    const int64_t n = 64;
    const auto a = randomAllocation(bank, 3, 4, 0.3, n, 1), again = randomAllocation(bank, 3, 4, 0.3, n, 1),
               other = randomAllocation(bank, 3, 4, 0.3, n, 2);
    QVERIFY(a.plan == again.plan);
    QVERIFY(!(a.plan == other.plan));
    for (const auto* p : {&a, &other}) {
      QVERIFY(p->plan.meanDensity(bank, n) <= 0.3 + 1e-12);
      QVERIFY(p->plan.meanDensity(bank, n) > 0.3 - 1.0 / 12);  // the greedy stops within one move of the target
    }
  }

  void duoKeepsFullWhereAlphaLeansOnIt() {
    const auto bank = test::makeBank({MaskSpec::causal("full"), MaskSpec::window("win-4", 4), MaskSpec::sinks("sinks-1", 1)});
    // Four heads; the share of alpha on full: 0.1, 0.8, 0.5, 0.2.
    const std::vector<double> alpha = {0.1, 0.8, 0.1, 0.8, 0.1, 0.1, 0.5, 0.4, 0.1, 0.2, 0.7, 0.1};
    const int64_t n = 32;
    const double full = 1.0, stream = countPairs(n, [](int64_t i, int64_t j) { return i - j < 4 || j < 1; }) / (n * (n + 1) / 2.0);
    // Room for one full head at (1 + 3 * stream) / 4, two at (2 + 2 * stream) / 4.
    const auto one = duoPlan(alpha, 1, 4, bank, (full + 3 * stream) / 4 + 1e-9, n);
    QCOMPARE(kept(one), (Kept{{1, 2}, {0, 1, 2}, {1, 2}, {1, 2}}));
    const auto two = duoPlan(alpha, 1, 4, bank, (2 * full + 2 * stream) / 4 + 1e-9, n);
    QCOMPARE(kept(two), (Kept{{1, 2}, {0, 1, 2}, {0, 1, 2}, {1, 2}}));
  }
};

QTEST_APPLESS_MAIN(TestPruningBudget)
#include "test_pruning_budget.moc"
