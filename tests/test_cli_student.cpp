// attnx-cli score, eval and generate with --run: a small random GPT-2 with GPT-2's vocabulary (written
// here), a 2-step distillation on the local-sinks bank, and a window/sink plan.json (win-16, sinks-4,
// prev-token). The compiled student's numbers against the dense-masked student computed in this
// process, the greedy tokens of every way of running it, and the bounded KV cache.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/eval/attention_plan.h"
#include "core/eval/generation.h"
#include "core/eval/perplexity.h"
#include "core/eval/run_artifacts.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/model/mask_mixture_attention.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

using Run = test::CliRun;

Run cli(const QStringList& args) { return test::runCli(args); }

QString joinIds(const std::vector<int64_t>& ids) {
  QStringList parts;
  for (auto id : ids) parts << QString::number(id);
  return parts.join(QLatin1Char(','));
}

double maxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

}  // namespace

class TestCliStudent : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString teacher_, run_, held_;
  Gpt2 model_{nullptr};
  AttentionPlan plan_;
  MaskBank bank_;
  std::unique_ptr<MaskMixtureAttention> reference_;  // the plan, dense-masked, built here
  std::vector<int64_t> ids_, prompt_;

 private Q_SLOTS:
  void initTestCase() {
    const auto dir = tmp_.path().toStdString();
    Gpt2 m(Gpt2Config::preset("tiny"));  // vocabulary 50257, 2 layers × 4 heads, width 64, context 256
    m->initWeights(5);
    {
      // Ten times GPT-2's initial weights: attention, not just the current token, picks the next one,
      // so the generation checks below see what the student's masks do.
      torch::NoGradGuard g;
      for (auto& p : m->named_parameters())
        if (p.key().find("ln_") == std::string::npos) p.value().mul_(10);
    }
    saveGpt2(m, dir + "/teacher");
    teacher_ = QString::fromStdString(dir + "/teacher");
    run_ = QString::fromStdString(dir + "/run");
    const auto bank = QString::fromStdString(test::fixture("../../resources/banks/local-sinks.json"));
    const auto train = QString::fromStdString(test::dataDir() + "/corpus/validation/gutenberg-chesterton-brown.txt");
    held_ = QString::fromStdString(test::dataDir() + "/corpus/test/gutenberg-austen-persuasion.txt");
    QVERIFY2(fs::exists(train.toStdString()), "run scripts/fetch_data.sh first");
    const auto r = cli({"distill", "--teacher", teacher_, "--bank", bank, "--data", train, "--steps", "2", "--batch-size",
                        "2", "--seq-len", "32", "--validate-every", "0", "--checkpoint-every", "0", "--out", run_});
    QVERIFY2(r.code == 0, qPrintable(r.err));

    // A window/sink plan: the learned alpha without win-64, win-256 and full.
    const auto run = RunArtifacts::load(run_.toStdString());
    bank_ = run.bank;
    auto alpha = run.alpha;
    const auto K = static_cast<int64_t>(bank_.masks.size());
    for (size_t i = 0; i < alpha.size(); ++i) {
      const auto& name = bank_.masks[i % K].name;
      if (name == "win-64" || name == "win-256" || name == "full") alpha[i] = 0;
    }
    plan_ = AttentionPlan::fromAlpha(alpha, run.numLayers, run.numHeads, bank_, PruningRule::thresholdRule(0));
    QVERIFY(plan_.keyReach(bank_) == (KeyReach{4, 16}));
    plan_.save(run_.toStdString() + "/plan.json");

    model_ = loadGpt2(teacher_.toStdString());
    model_->eval();
    MixtureOptions o;  // the run's defaults: soft mask
    o.param = MixtureOptions::Parametrisation::ClampedRaw;
    o.initialCoefficient = 0;
    MaskMixtureCoefficients c(plan_.numLayers, plan_.numHeads, K, o);
    {
      torch::NoGradGuard g;
      c->theta.copy_(torch::tensor(plan_.alphaTensorValues(), torch::kFloat64).view(c->theta.sizes()));
    }
    reference_ = std::make_unique<MaskMixtureAttention>(bank_, o, c, plan_.numLayers, plan_.numHeads);
    std::mt19937 rng(1);
    for (int i = 0; i < 120; ++i) ids_.push_back(static_cast<int64_t>(rng() % 50257));
    prompt_.assign(ids_.begin(), ids_.begin() + 8);
  }

  void scoreWithoutRunIsTheTeacher() {
    const auto r = cli({"score", "--ids", joinIds(ids_), "--model", teacher_, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QCOMPARE(j["model"].get<std::string>(), std::string("teacher"));
    QVERIFY(maxAbsDiff(j["logprobs"].get<std::vector<double>>(), scoreTokens(model_, ids_).logprobs) < 1e-4);
  }

  // The compiled student (the default) and the dense-masked one both give the log-probs of the plan's
  // dense-masked student computed here.
  void scoreCompiledEqualsDenseMasked() {
    const auto want = scoreTokens(model_, ids_, 0, reference_.get()).logprobs;
    const auto teacher = scoreTokens(model_, ids_).logprobs;
    QVERIFY(maxAbsDiff(want, teacher) > 1e-3);  // the student is not the teacher
    for (const char* student : {"compiled", "masked"}) {
      QStringList args{"score", "--ids", joinIds(ids_), "--run", run_, "--json"};
      if (std::string(student) != "compiled") args << "--student" << student;
      const auto r = cli(args);
      QVERIFY2(r.code == 0, qPrintable(r.err));
      const auto j = r.json();
      const double diff = maxAbsDiff(j["logprobs"].get<std::vector<double>>(), want);
      qInfo("score --student %s: max |Δ log-prob| = %.3g", student, diff);
      QVERIFY(diff < 1e-4);
      QCOMPARE(j["student"]["kind"].get<std::string>(), std::string(student));
      QVERIFY(j["student"]["plan_from"].get<std::string>().find("plan.json") != std::string::npos);
      QCOMPARE(j["student"]["active_masks"].get<int64_t>(), plan_.activeCount());
      QVERIFY(std::abs(j["student"]["density"].get<double>() - plan_.meanDensity(bank_, 120)) < 1e-12);
    }
    QCOMPARE(cli({"score", "--ids", joinIds(ids_), "--run", run_, "--json"}).json()["model"].get<std::string>(),
             std::string("compiled student"));
    const auto text = cli({"score", "--ids", joinIds(ids_), "--run", run_});
    QVERIFY2(text.out.startsWith("model: compiled student (plan.json"), qPrintable(text.out.left(200)));
  }

  void evalCompiledEqualsDenseMasked() {
    nlohmann::json got[2];
    int i = 0;
    for (const char* student : {"compiled", "masked"}) {
      const auto r = cli({"eval", "--run", run_, "--data", held_, "--windows", "2", "--student", student, "--json"});
      QVERIFY2(r.code == 0, qPrintable(r.err));
      got[i++] = r.json();
    }
    const auto &c = got[0]["pruned"], &m = got[1]["pruned"];
    QVERIFY(std::abs(c["kl_per_token"].get<double>() - m["kl_per_token"].get<double>()) < 1e-4);
    const double pc = c["student_perplexity"].get<double>(), pm = m["student_perplexity"].get<double>();
    QVERIFY2(std::abs(pc - pm) <= 1e-4 * pm, qPrintable(QString("%1 vs %2").arg(pc).arg(pm)));
    QCOMPARE(got[0]["student"].get<std::string>(), std::string("compiled"));
    QVERIFY(got[0]["plan_from"].get<std::string>().find("plan.json") != std::string::npos);
    QVERIFY(!got[0].contains("plan"));  // no rule given: plan.json is read, not rewritten
    QCOMPARE(got[0]["active_masks"].get<int64_t>(), plan_.activeCount());
    QCOMPARE(cli({"eval", "--run", run_, "--data", held_, "--student", "soft"}).code, 2);  // soft is always reported
  }

  // Greedy tokens: compiled with the bounded cache, compiled with the full cache, dense-masked, and the
  // dense-masked student decoded here without a cache; 200 new tokens, so the cache drops keys.
  void generateTokensAndBoundedCache() {
    SamplingOptions s;
    s.maxNewTokens = 200;
    s.stopOnEos = false;
    s.useKvCache = false;
    const auto want = generate(model_, prompt_, s, reference_.get()).tokens;
    QVERIFY(std::set<int64_t>(want.begin(), want.end()).size() > 20);  // not one token repeated
    const QStringList base{"generate", "--prompt-ids", joinIds(prompt_), "--max-new-tokens", "200", "--no-eos-stop",
                           "--run", run_, "--json"};
    const auto bounded = cli(base), full = cli(QStringList(base) << "--full-kv-cache"),
               masked = cli(QStringList(base) << "--student" << "masked");
    for (const auto* r : {&bounded, &full, &masked}) {
      QVERIFY2(r->code == 0, qPrintable(r->err));
      QCOMPARE(r->json()["ids"].get<std::vector<int64_t>>(), want);
    }
    const auto b = bounded.json()["kv_cache"], f = full.json()["kv_cache"], m = masked.json()["kv_cache"];
    QVERIFY(b["bounded"].get<bool>() && !f["bounded"].get<bool>() && !m["bounded"].get<bool>());
    QCOMPARE(b["sinks"].get<int>(), 4);
    QCOMPARE(b["window"].get<int>(), 16);
    QCOMPARE(b["peak_keys"].get<int>(), 20);
    QCOMPARE(f["peak_keys"].get<int>(), 8 + 199);
    QCOMPARE(b["dropped_keys"].get<int>(), 8 + 199 - 4 - 15);  // positions seen, less the sinks and the window held
    // 2 layers, keys and values, 4 heads × 16 floats per position: 20 rows bounded; the full cache
    // grows by doubling from 64 rows to 256.
    QCOMPARE(b["peak_bytes"].get<int64_t>(), int64_t{2 * 2 * 20 * 64 * 4});
    QCOMPARE(f["peak_bytes"].get<int64_t>(), int64_t{2 * 2 * 256 * 64 * 4});
    qInfo("8 + 200 tokens: KV cache peak %lld bytes bounded, %lld bytes with every key",
          static_cast<long long>(b["peak_bytes"].get<int64_t>()), static_cast<long long>(f["peak_bytes"].get<int64_t>()));
    QCOMPARE(bounded.json()["model"].get<std::string>(), std::string("compiled student"));

    const auto text = cli({"generate", "--prompt-ids", joinIds(prompt_), "--max-new-tokens", "3", "--run", run_, "-v"});
    QVERIFY2(text.code == 0, qPrintable(text.err));
    QVERIFY2(text.err.contains("model: compiled student (plan.json") && text.err.contains("kv cache: bounded to 4 sinks"),
             qPrintable(text.err));
    const auto teacher = cli({"generate", "--prompt-ids", joinIds(prompt_), "--max-new-tokens", "3", "--model", teacher_,
                              "--json"});
    QCOMPARE(teacher.json()["model"].get<std::string>(), std::string("teacher"));
  }

  void studentOptionsNeedARun() {
    QCOMPARE(cli({"score", "--ids", "1,2", "--model", teacher_, "--student", "masked"}).code, 2);
    QCOMPARE(cli({"generate", "--prompt-ids", "1,2", "--model", teacher_, "--prune-top-k", "1"}).code, 2);
    QCOMPARE(cli({"score", "--ids", "1,2", "--run", run_, "--student", "fast"}).code, 2);
    // A rule prunes the learned alpha instead of reading plan.json.
    const auto r = cli({"score", "--ids", joinIds(ids_), "--run", run_, "--prune-top-k", "1", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.json()["student"]["active_masks"].get<int64_t>(), plan_.numLayers * plan_.numHeads);
    QCOMPARE(r.json()["student"]["plan_from"].get<std::string>(), std::string("learned alpha pruned: top-1"));
  }
};

QTEST_GUILESS_MAIN(TestCliStudent)
#include "test_cli_student.moc"
