// AttentionPlan: pruning rules on hand-made alpha (expected kept sets written out), densities
// against brute-force counting over (i, j) with the families' definitions written here, the cost
// formulas on a hand example, and the plan file (round trip, one message per bad field).
#include <QtTest>

#include <cmath>
#include <functional>

#include <QTemporaryDir>

#include "core/eval/attention_plan.h"
#include "tests/support/test_support.h"

using namespace attnx;
using Kept = std::vector<std::vector<int>>;  // per flat head, the kept mask indices

namespace {

// Bank name "plan-test" appears in the expected messages below.
MaskBank planBank(std::vector<MaskSpec> masks) { return test::makeBank(std::move(masks), "plan-test"); }


// 0: causal, 1: window 2, 2: sink 1. At n = 4 (10 causal pairs): win2 has 7 pairs, sink1 7,
// win2 | sink1 9 (rows {0}, {0,1}, {0,1,2}, {0,2,3}).
MaskBank smallBank() { return planBank({MaskSpec::causal("causal"), MaskSpec::window("win2", 2), MaskSpec::sinks("sink1", 1)}); }

// L = 1, H = 2, K = 3.
const std::vector<double> kAlpha = {0.5, 0.2, 0.2,   // head 0
                                    0.0, 0.7, 0.1};  // head 1

Kept kept(const AttentionPlan& plan) {
  Kept out;
  for (const auto& head : plan.heads) {
    out.emplace_back();
    for (const auto& e : head) out.back().push_back(e.maskIndex);
  }
  return out;
}


}  // namespace

class TestAttentionPlan : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void thresholdRule() {
    const auto bank = smallBank();
    auto at = [&](double tau) { return kept(AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::thresholdRule(tau))); };
    QCOMPARE(at(0.0), (Kept{{0, 1, 2}, {1, 2}}));  // alpha = 0 is never active
    QCOMPARE(at(0.2), (Kept{{0, 1, 2}, {1}}));     // >= keeps the equal ones
    QCOMPARE(at(0.25), (Kept{{0}, {1}}));
    QCOMPARE(at(0.8), (Kept{{}, {}}));
    // Faithful hardening: head 0 keeps everything, so its weights are its alpha; head 1 drops sink1
    // (0.1), so win2 carries the head's whole alpha sum, 0.7 + 0.1.
    const auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::thresholdRule(0.2));
    QCOMPARE(plan.active(0, 0)[0].weight, 0.5);
    QCOMPARE(plan.active(0, 0)[2].weight, 0.2);
    QVERIFY(std::abs(plan.active(0, 1)[0].weight - 0.8) < 1e-15);
    QCOMPARE(plan.activeCount(), int64_t(4));
  }

  void topKRule() {
    const auto bank = smallBank();
    auto top = [&](int64_t k) { return kept(AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::topKRule(k))); };
    QCOMPARE(top(1), (Kept{{0}, {1}}));
    QCOMPARE(top(2), (Kept{{0, 1}, {1, 2}}));  // tie 0.2 / 0.2 in head 0: the lower index wins
    QCOMPARE(top(5), (Kept{{0, 1, 2}, {1, 2}}));
    // The layout is (L, H, K) row-major: here L = 2, H = 1.
    const std::vector<double> alpha = {0.1, 0.9, 0.0,  //
                                       0.0, 0.0, 0.4};
    QCOMPARE(kept(AttentionPlan::fromAlpha(alpha, 2, 1, bank, PruningRule::topKRule(1))), (Kept{{1}, {2}}));
  }

  void targetDensityRule() {
    const auto bank = smallBank();
    auto dens = [&](double rho) { return AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::targetDensityRule(rho, 4)); };
    // Start: head 0 = all (10/10), head 1 = {win2, sink1} (9/10): mean 0.95.
    QCOMPARE(kept(dens(1.0)), (Kept{{0, 1, 2}, {1, 2}}));  // already below: nothing removed
    // Removal order: h1 sink1 (0.1), h0 sink1 (0.2, higher index first), h0 win2 (0.2), h0 causal, h1 win2.
    QCOMPARE(kept(dens(0.9)), (Kept{{0, 1, 2}, {1}}));  // after one removal: (10 + 7) / 20 = 0.85
    QVERIFY(std::abs(dens(0.9).meanDensity(bank, 4) - 0.85) < 1e-15);
    // 0.8 cannot be reached: each head ends with its last mask (causal has the larger alpha in head 0).
    QCOMPARE(kept(dens(0.8)), (Kept{{0}, {1}}));
    QVERIFY(std::abs(dens(0.8).meanDensity(bank, 4) - 0.85) < 1e-15);
  }

  void badInputToFromAlpha() {
    const auto bank = smallBank();
    QVERIFY(test::errorOf([&] { AttentionPlan::fromAlpha({1.0}, 1, 2, bank, PruningRule::topKRule(1)); })
                .find("expected L*H*K = 6 alpha values (L=1, H=2, K=3), got 1") != std::string::npos);
    auto negative = kAlpha;
    negative[4] = -1;
    QCOMPARE(test::errorOf([&] { AttentionPlan::fromAlpha(negative, 1, 2, bank, PruningRule::topKRule(1)); }),
             std::string("alpha of layer 0, head 1, mask 1 (\"win2\") must be in [0, 1e6], got -1.0"));
    QCOMPARE(test::errorOf([&] { AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::topKRule(0)); }),
             std::string("pruning rule top-k: k must be an integer >= 1, got 0"));
    QCOMPARE(test::errorOf([&] { AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::targetDensityRule(0, 4)); }),
             std::string("pruning rule target-density: target density must be in (0, 1], got 0.0"));
  }

  void alphaTensorValues() {
    // Top-1 with faithful weights: head 0 keeps causal with 0.5 + 0.2 + 0.2, head 1 win2 with 0.7 + 0.1.
    const auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, smallBank(), PruningRule::topKRule(1));
    const auto values = plan.alphaTensorValues();
    const std::vector<double> expected{0.9, 0, 0, 0, 0.8, 0};
    for (size_t i = 0; i < expected.size(); ++i) QVERIFY2(std::abs(values[i] - expected[i]) < 1e-15, std::to_string(i).c_str());
  }

  void densitiesByHand() {
    const auto bank = smallBank();
    const auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::thresholdRule(0.1));  // {all}, {win2, sink1}
    QCOMPARE(plan.attendedPairs(bank, 0, 0, 4), int64_t(10));
    QCOMPARE(plan.attendedPairs(bank, 0, 1, 4), int64_t(9));
    QCOMPARE(plan.headDensities(bank, 4), (std::vector<double>{1.0, 0.9}));
    QCOMPARE(plan.layerDensities(bank, 4).size(), size_t(1));
    QVERIFY(std::abs(plan.layerDensities(bank, 4)[0] - 0.95) < 1e-15);
    const auto empty = AttentionPlan::fromAlpha(kAlpha, 1, 2, bank, PruningRule::thresholdRule(0.8));
    QCOMPARE(empty.meanDensity(bank, 4), 0.0);
  }

  // Every family, a plan from a threshold, against counting each (i, j) with definitions written here.
  void densitiesAgainstBruteForce() {
    const auto bank = planBank({MaskSpec::window("win3", 3), MaskSpec::strided("s4", 4), MaskSpec::blockLocal("b5", 5),
                                MaskSpec::sinks("k2", 2), MaskSpec::summaryColumns("sum4", 4, 1), MaskSpec::offsetSet("off", {0, 1, 6})});
    // The families' rules, as in mask_spec.h (diagonal always allowed, j <= i).
    const std::vector<std::function<bool(int64_t, int64_t)>> rule = {
        [](int64_t i, int64_t j) { return i - j < 3; },
        [](int64_t i, int64_t j) { return (i - j) % 4 == 0; },
        [](int64_t i, int64_t j) { return i / 5 == j / 5; },
        [](int64_t, int64_t j) { return j < 2; },
        [](int64_t, int64_t j) { return j % 4 >= 3; },
        [](int64_t i, int64_t j) { return i - j == 0 || i - j == 1 || i - j == 6; },
    };
    const int64_t L = 2, H = 3, K = 6;
    std::vector<double> alpha;
    for (int64_t t = 0; t < L * H * K; ++t) alpha.push_back(static_cast<double>((t * 7) % 5) / 4.0);  // 0, 0.25, ..., 1
    const auto plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(0.5));
    for (int64_t n : {1, 4, 7, 33}) {
      const auto got = plan.headDensities(bank, n);
      double sum = 0;
      for (int64_t l = 0; l < L; ++l)
        for (int64_t h = 0; h < H; ++h) {
          int64_t count = 0;
          for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j <= i; ++j) {
              bool any = false;
              for (const auto& e : plan.active(l, h)) any = any || j == i || rule[static_cast<size_t>(e.maskIndex)](i, j);
              if (any) ++count;
            }
          const double expected = static_cast<double>(count) / (static_cast<double>(n) * (n + 1) / 2);
          QCOMPARE(plan.attendedPairs(bank, l, h, n), count);
          QCOMPARE(got[static_cast<size_t>(l * H + h)], expected);
          sum += expected;
        }
      QVERIFY(std::abs(plan.meanDensity(bank, n) - sum / (L * H)) < 1e-15);
    }
  }

  // L = 1, H = 2, d = 8, n = 4; head 0 = {win2, sink1} (union 9 pairs), head 1 = {win2} (7).
  void costsByHand() {
    const auto bank = smallBank();
    const std::vector<double> alpha = {0, 1, 1, 0, 1, 0};
    const auto plan = AttentionPlan::fromAlpha(alpha, 1, 2, bank, PruningRule::thresholdRule(0.5));
    QCOMPARE(AttentionPlan::denseAttentionFlops(1, 2, 8, 4), 640.0);            // 2 heads * 10 pairs * 4 * 8
    QCOMPARE(plan.attentionFlops(bank, PlanCombine::SoftMask, 8, 4), 512.0);    // (9 + 7) * 32
    QCOMPARE(plan.attentionFlops(bank, PlanCombine::BranchMixture, 8, 4), 672.0);  // (7 + 7 + 7) * 32
    QCOMPARE(AttentionPlan::denseAttentionBytes(1, 2, 4), 128.0);               // 2 * 16 * 4
    QCOMPARE(plan.attentionBytes(bank, PlanCombine::SoftMask, 4), 64.0);        // 16 * 4
    QCOMPARE(plan.attentionBytes(bank, PlanCombine::BranchMixture, 4, 2), 42.0);  // 21 * 2
  }

  void checkBank() {
    const auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, smallBank(), PruningRule::topKRule(1));
    auto renamed = smallBank();
    renamed.masks[1].name = "w2";
    QCOMPARE(test::errorOf([&] { plan.meanDensity(renamed, 4); }),
             std::string("mask 1: the plan has \"win2\", the bank (\"plan-test\") has \"w2\""));
    auto shorter = smallBank();
    shorter.masks.pop_back();
    QCOMPARE(test::errorOf([&] { plan.checkBank(shorter); }),
             std::string("the plan was made for a bank of 3 masks, this bank (\"plan-test\") has 2"));
  }

  void jsonRoundTrip() {
    const auto bank = smallBank();
    std::vector<double> alpha = {0.1 + 0.2, 1.0 / 3.0, 1e-7, 0.0, 2.5, 7.0};
    for (const auto& rule : {PruningRule::thresholdRule(1e-7), PruningRule::topKRule(2), PruningRule::targetDensityRule(0.75, 1024)}) {
      const auto plan = AttentionPlan::fromAlpha(alpha, 1, 2, bank, rule);
      const auto text = plan.toJsonText();
      const auto back = AttentionPlan::fromJsonText(text, "mem");
      QVERIFY2(back == plan, text.c_str());
      QCOMPARE(back.toJsonText(), text);
    }
    QTemporaryDir dir;
    const std::string path = dir.filePath("plan.json").toStdString();
    const auto plan = AttentionPlan::fromAlpha(alpha, 1, 2, bank, PruningRule::thresholdRule(0.2));
    plan.save(path);
    QVERIFY(AttentionPlan::load(path) == plan);
    QVERIFY(test::errorOf([&] { AttentionPlan::load(path + ".missing"); }).find(": cannot open (") != std::string::npos);
  }

  void badFields() {
    const auto good = nlohmann::json::parse(
        AttentionPlan::fromAlpha(kAlpha, 1, 2, smallBank(), PruningRule::thresholdRule(0.2)).toJsonText());
    QVERIFY(AttentionPlan::fromJson(good, "plan.json").activeCount() == 4);
    struct Case {
      const char* name;
      std::function<void(nlohmann::json&)> edit;
      std::string message;
    };
    const std::vector<Case> cases = {
        {"not an object", [](auto& d) { d = nlohmann::json::array(); }, "expected a JSON object (an attnx attention plan), got a list"},
        {"no format", [](auto& d) { d.erase("format"); },
         "not an attnx attention plan: field \"format\" is missing (expected \"attnx-attention-plan\")"},
        {"wrong format", [](auto& d) { d["format"] = "attnx-mask-bank"; },
         "not an attnx attention plan: field \"format\" is \"attnx-mask-bank\", expected \"attnx-attention-plan\""},
        {"no version", [](auto& d) { d.erase("version"); }, "field \"version\" is missing"},
        {"text version", [](auto& d) { d["version"] = "1"; }, "field \"version\" must be an integer >= 1, got \"1\""},
        {"newer version", [](auto& d) { d["version"] = 2; },
         "plan format version 2 is newer than this attnx reads (1): upgrade attnx to open it"},
        {"unknown field", [](auto& d) { d["extra"] = 1; },
         "unknown field \"extra\" (a plan has \"format\", \"version\", \"layers\", \"heads\", \"masks\", \"rule\", \"plan\" and optionally \"finetune_steps\")"},
        {"zero layers", [](auto& d) { d["layers"] = 0; }, "field \"layers\" must be an integer >= 1, got 0"},
        {"no heads", [](auto& d) { d.erase("heads"); }, "field \"heads\" is missing"},
        {"empty masks", [](auto& d) { d["masks"] = nlohmann::json::array(); },
         "field \"masks\" must be a non-empty list of mask names, got a list"},
        {"mask not a name", [](auto& d) { d["masks"][1] = 3; }, "field \"masks\": entry 1 must be a non-empty name, got 3"},
        {"duplicate mask", [](auto& d) { d["masks"][2] = "win2"; }, "field \"masks\": the name \"win2\" appears twice"},
        {"no rule", [](auto& d) { d.erase("rule"); }, "field \"rule\" is missing"},
        {"unknown kind", [](auto& d) { d["rule"]["kind"] = "magic"; },
         "rule: field \"kind\" is \"magic\", expected \"threshold\", \"top-k\", \"target-density\" or \"budget\""},
        {"negative threshold", [](auto& d) { d["rule"]["threshold"] = -1; },
         "rule: threshold must be a finite number >= 0, got -1.0"},
        {"text threshold", [](auto& d) { d["rule"]["threshold"] = "x"; }, "rule: field \"threshold\" must be a number, got \"x\""},
        {"zero k", [](auto& d) { d["rule"] = {{"kind", "top-k"}, {"k", 0}}; }, "rule: k must be an integer >= 1, got 0"},
        {"fractional k", [](auto& d) { d["rule"] = {{"kind", "top-k"}, {"k", 1.5}}; }, "rule: field \"k\" must be an integer >= 1, got 1.5"},
        {"density too high", [](auto& d) { d["rule"] = {{"kind", "target-density"}, {"density", 1.5}, {"n", 64}}; },
         "rule: target density must be in (0, 1], got 1.5"},
        {"density without n", [](auto& d) { d["rule"] = {{"kind", "target-density"}, {"density", 0.5}}; },
         "rule: field \"n\" is missing"},
        {"rule extra field", [](auto& d) { d["rule"]["k"] = 2; }, "rule: unknown field \"k\" for kind \"threshold\""},
        {"no plan", [](auto& d) { d.erase("plan"); }, "field \"plan\" is missing (per layer, per head, the active masks)"},
        {"too many layers", [](auto& d) { d["plan"].push_back(d["plan"][0]); }, "field \"plan\" must be a list of 1 layers, got 2 entries"},
        {"too few heads", [](auto& d) { d["plan"][0].erase(1); }, "plan: layer 0 must be a list of 2 heads, got 1 entries"},
        {"head not a list", [](auto& d) { d["plan"][0][1] = 5; },
         "plan: layer 0, head 1 must be a list of {\"mask\", \"weight\"} entries, got 5"},
        {"entry not an object", [](auto& d) { d["plan"][0][1][0] = "win2"; },
         "plan: layer 0, head 1, entry 0 must be an object {\"mask\": name, \"weight\": number}, got \"win2\""},
        {"unknown mask", [](auto& d) { d["plan"][0][1][0]["mask"] = "nope"; },
         "plan: layer 0, head 1, entry 0: mask \"nope\" is not in field \"masks\""},
        {"no mask", [](auto& d) { d["plan"][0][1][0].erase("mask"); }, "plan: layer 0, head 1, entry 0: field \"mask\" is missing"},
        {"no weight", [](auto& d) { d["plan"][0][1][0].erase("weight"); }, "plan: layer 0, head 1, entry 0: field \"weight\" is missing"},
        {"zero weight", [](auto& d) { d["plan"][0][0][1]["weight"] = 0; },
         "plan: layer 0, head 0, entry 1: field \"weight\" must be a number in (0, 1e6], got 0"},
        {"huge weight", [](auto& d) { d["plan"][0][0][1]["weight"] = 1e308; },  // it gave NaN perplexity
         "plan: layer 0, head 0, entry 1: field \"weight\" must be a number in (0, 1e6], got 1e+308"},
        {"listed twice", [](auto& d) { d["plan"][0][0][1]["mask"] = "causal"; },
         "plan: layer 0, head 0, entry 1: mask \"causal\" is listed twice"},
        {"entry extra field", [](auto& d) { d["plan"][0][0][0]["w"] = 1; }, "plan: layer 0, head 0, entry 0: unknown field \"w\""},
    };
    for (const auto& c : cases) {
      auto doc = good;
      c.edit(doc);
      const auto got = test::errorOf([&] { AttentionPlan::fromJson(doc, "plan.json"); });
      const auto expected = "plan.json: " + c.message;
      QVERIFY2(got == expected, (std::string(c.name) + ":\n  got      " + got + "\n  expected " + expected).c_str());
    }
    QVERIFY(test::errorOf([] { AttentionPlan::fromJsonText("{\"format\": ", "plan.json"); }).rfind("plan.json: not valid JSON", 0) == 0);
  }

  void saveRejectsAnInvalidPlan() {
    auto plan = AttentionPlan::fromAlpha(kAlpha, 1, 2, smallBank(), PruningRule::topKRule(1));
    plan.heads[1][0].weight = -1;
    QTemporaryDir dir;
    const std::string path = dir.filePath("bad.json").toStdString();
    QCOMPARE(test::errorOf([&] { plan.save(path); }),
             path + ": not saved: layer 0, head 1: weight of mask \"win2\" must be in (0, 1e6], got -1.0");
    QVERIFY(!QFile::exists(QString::fromStdString(path)));
  }
};

QTEST_APPLESS_MAIN(TestAttentionPlan)
#include "test_attention_plan.moc"
