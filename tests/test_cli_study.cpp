// attnx-cli study, profile and the budgeted rule end to end, on a small random GPT-2 with GPT-2's
// vocabulary (written here) and real text: the study's entries and files, one baseline's KL and one
// learned plan's density recomputed in this process, resume after a finished and after a killed run,
// configs refused before anything runs, the report in a real browser (Debian's headless Chromium:
// every figure drawn, no script error), and profile / eval --budget / --plan / --finetune-steps.
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUrl>
#include <QtTest>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/data/token_corpus.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/eval/pruning_profile.h"
#include "core/eval/run_artifacts.h"
#include "core/eval/student_eval.h"
#include "core/io/bpe_tokenizer.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

test::CliRun cli(const QStringList& args) { return test::runCli(args); }

void writeJson(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

json readJson(const std::string& path) { return test::readJsonFile(path); }

// Ids of the study's entries with their KL, to compare two runs of it.
std::map<std::string, double> entries(const json& doc) {
  std::map<std::string, double> out;
  for (const auto& e : doc["plans"]) out[e["id"].get<std::string>()] = e["kl_per_token"].get<double>();
  return out;
}

}  // namespace

class TestCliStudy : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string dir_, teacher_, test_;
  json config_;

  std::string configAt(const std::string& name, const json& doc) {
    const auto path = dir_ + "/" + name;
    writeJson(path, doc);
    return path;
  }

 private Q_SLOTS:
  void initTestCase() {
    dir_ = tmp_.path().toStdString();
    Gpt2 m(Gpt2Config::preset("tiny"));  // vocabulary 50257, 2 layers x 4 heads, width 64
    m->initWeights(5);
    {
      torch::NoGradGuard g;
      for (auto& p : m->named_parameters())
        if (p.key().find("ln_") == std::string::npos) p.value().mul_(10);
    }
    teacher_ = dir_ + "/teacher";
    saveGpt2(m, teacher_);
    const auto data = test::dataDir() + "/corpus/";
    test_ = data + "test/gutenberg-austen-persuasion.txt";
    QVERIFY2(fs::exists(test_), "run scripts/fetch_data.sh first");
    const auto banks = test::fixture("../../resources/banks/");
    config_ = {{"format", "attnx-study"},
               {"version", 1},
               {"name", "tiny study"},
               {"teacher", teacher_},
               {"data",
                {{"train", data + "validation/gutenberg-chesterton-brown.txt"},
                 {"profile", data + "validation/sotu-1795-george-washington.txt"},
                 {"test", test_}}},
               {"eval", {{"windows", 2}, {"lengths", {64}}, {"profile_windows", 1}, {"finetune_steps", 2}}},
               {"targets", {0.3, 0.6}},
               {"distill", {{"steps", 2}, {"batch_size", 2}, {"seq_len", 64}, {"validate_every", 0},
                            {"checkpoint_every", 0}, {"combine", "branch-mixture"}, {"lambda_l1", 0.01}}},
               {"learned", {{{"name", "ls"}, {"bank", banks + "local-sinks.json"}, {"seeds", {0, 1}}}}},
               {"baselines",
                {{{"kind", "window-sinks"}, {"windows", {8, 16}}, {"sinks", 4}},
                 {{"kind", "block-sinks"}, {"blocks", {16}}, {"sinks", 4}},
                 {{"kind", "random"}, {"bank", banks + "local-sinks.json"}, {"seeds", {0}}},
                 {{"kind", "duo"}, {"window", 16}, {"sinks", 4}, {"seeds", {0}}, {"distill", {{"combine", "soft-mask"}}}}}},
               {"timing", {{"lengths", {64, 128}}, {"repeats", 1}}}};
    QVERIFY2(fs::exists(config_["data"]["profile"].get<std::string>()), "the profile text is missing");
  }

  void runsAndWritesEverything() {
    const auto config = configAt("study.json", config_);
    const auto out = dir_ + "/S";
    const auto r = cli({"study", QString::fromStdString(config), "--out", QString::fromStdString(out)});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("ETA"), qPrintable(r.err));
    const auto doc = readJson(out + "/study.json");
    // learned: 2 seeds x (soft + 2 targets x {alpha-order, budget, budget+finetune}); baselines: 2 + 1 + 2 + 2.
    QCOMPARE(doc["plans"].size(), size_t(2 * 7 + 7));
    std::set<std::string> ids;
    for (const auto& e : doc["plans"]) {
      const auto id = e["id"].get<std::string>();
      QVERIFY2(ids.insert(id).second, id.c_str());
      QCOMPARE(e["n"].get<int>(), 64);
      QVERIFY2(e["kl_per_token"].get<double>() > -1e-6 && std::isfinite(e["kl_per_token"].get<double>()), id.c_str());
      QVERIFY2(e["density"].get<double>() > 0 && e["density"].get<double>() <= 1, id.c_str());
      QVERIFY(e["model_ms"].get<double>() > 0);
      for (const char* key : {"run", "plan"})
        if (e.contains(key)) {
          const auto rel = e[key].get<std::string>();
          QVERIFY2(rel.front() != '/' && fs::exists(out + "/" + rel), rel.c_str());
        }
      if (e["variant"] == "budget" || e["variant"] == "budget+finetune")
        QVERIFY2(e["density"].get<double>() <= e["target"].get<double>() + 1e-12, id.c_str());
    }
    QVERIFY(fs::exists(out + "/runs/ls-s0/pruning_profile.json"));
    QVERIFY(fs::exists(out + "/runs/ls-s1/plans/budget-ft-0.3.json"));
    QCOMPARE(AttentionPlan::load(out + "/runs/ls-s1/plans/budget-ft-0.3.json").finetuneSteps, int64_t(2));
    const auto csv = test::readTextFile(out + "/study.csv");
    QCOMPARE(std::count(csv.begin(), csv.end(), '\n'), std::ptrdiff_t(22));
    QVERIFY(!doc["attention_timing"].empty());
    QCOMPARE(doc["heatmaps"]["heads"].size(), size_t(3));
    QVERIFY(doc["completions"]["rows"].size() >= 3);
    const auto html = test::readTextFile(out + "/report.html");
    QVERIFY(html.find("<svg") != std::string::npos);
  }

  // One baseline's KL and one learned plan's density, recomputed here from the files the study wrote.
  void numbersAreReproducible() {
    const auto out = dir_ + "/S";
    const auto doc = readJson(out + "/study.json");
    auto model = loadGpt2(teacher_);
    model->eval();
    const auto tok = BpeTokenizer::fromFolder(tokenizerDirFor(teacher_));
    const auto corpus = TokenCorpus::load(test_, tok);
    std::vector<std::vector<int64_t>> windows;
    for (int w = 0; w < 2; ++w) windows.emplace_back(corpus.ids().begin() + w * 64, corpus.ids().begin() + (w + 1) * 64);
    int checked = 0;
    for (const auto& e : doc["plans"]) {
      if (e["id"] == "baseline/window-sinks/window-8-sinks-4@64") {
        const auto planPath = out + "/" + e["plan"].get<std::string>();
        const auto bank = MaskBank::load(planPath.substr(0, planPath.size() - 5) + ".bank.json");
        const auto plan = AttentionPlan::load(planPath);
        const auto r = evaluateStudent(model, CompiledPlanAttention(plan, bank, PlanCombine::SoftMask), windows, 4);
        QVERIFY2(std::abs(r.klPerToken - e["kl_per_token"].get<double>()) < 1e-5 * std::max(1.0, r.klPerToken),
                 qPrintable(QString("%1 vs %2").arg(r.klPerToken).arg(e["kl_per_token"].get<double>())));
        QVERIFY(std::abs(r.teacherPerplexity - e["teacher_perplexity"].get<double>()) < 1e-3 * r.teacherPerplexity);
        ++checked;
      }
      if (e["id"] == "learned/ls/s0/budget-0.3@64") {
        const auto run = RunArtifacts::load(out + "/" + e["run"].get<std::string>());
        const auto plan = AttentionPlan::load(out + "/" + e["plan"].get<std::string>());
        QCOMPARE(plan.meanDensity(run.bank, 64), e["density"].get<double>());
        QVERIFY(plan == run.prune(PruningRule::budgetRule(0.3, 64)));
        ++checked;
      }
    }
    QCOMPARE(checked, 2);
  }

  void resumesWithoutRedoingAnything() {
    const auto out = dir_ + "/S";
    const auto before = readJson(out + "/study.json");
    const auto stamp = fs::last_write_time(out + "/runs/ls-s0/student.safetensors");
    const auto r = cli({"study", QString::fromStdString(dir_ + "/study.json"), "--out", QString::fromStdString(out)});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(!r.err.contains("distilling"));
    QCOMPARE(entries(readJson(out + "/study.json")), entries(before));
    QVERIFY(fs::last_write_time(out + "/runs/ls-s0/student.safetensors") == stamp);
    // --report-only renders again from study.json alone.
    fs::remove(out + "/report.html");
    const auto again = cli({"study", QString::fromStdString(dir_ + "/study.json"), "--out", QString::fromStdString(out),
                            "--report-only"});
    QVERIFY2(again.code == 0, qPrintable(again.err));
    QVERIFY(fs::exists(out + "/report.html"));
  }

  void resumesAfterAKill() {
    const auto out = dir_ + "/K";
    QProcess p;
    p.start(QStringLiteral(ATTNX_CLI_PATH), {"study", QString::fromStdString(dir_ + "/study.json"), "--out", QString::fromStdString(out)});
    QVERIFY(p.waitForStarted());
    // Kill it once a few plans are written.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(4);
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      try {
        if (fs::exists(out + "/study.json") && readJson(out + "/study.json")["plans"].size() >= 3) break;
      } catch (const std::exception&) {
      }
    }
    p.kill();
    p.waitForFinished();
    const auto partial = readJson(out + "/study.json")["plans"].size();
    QVERIFY(partial >= 3 && partial < 21);
    const auto r = cli({"study", QString::fromStdString(dir_ + "/study.json"), "--out", QString::fromStdString(out)});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto doc = readJson(out + "/study.json");
    QCOMPARE(doc["plans"].size(), size_t(21));
    std::set<std::string> a, b;
    for (const auto& e : doc["plans"]) a.insert(e["id"].get<std::string>());
    const auto finished = readJson(dir_ + "/S/study.json");
    for (const auto& e : finished["plans"]) b.insert(e["id"].get<std::string>());
    std::string missing;
    for (const auto& id : b)
      if (!a.count(id)) missing += id + " ";
    for (const auto& id : a)
      if (!b.count(id)) missing += "+" + id + " ";
    QVERIFY2(a == b, missing.c_str());
  }

  void refusesBadConfigsBeforeRunning() {
    struct Case {
      const char* name;
      std::function<void(json&)> change;
      std::string message;
    };
    const std::vector<Case> cases = {
        {"unknown field", [](json& c) { c["eval"]["window"] = 3; }, "eval.window: unknown field"},
        {"bad bank", [&](json& c) { c["learned"][0]["bank"] = test::fixture("banks/unknown-family.json"); },
         "learned[0].bank: not a usable mask bank"},
        {"impossible density", [](json& c) { c["targets"] = {0.001, 0.3}; },
         "learned[0].bank: target density 0.001 is below what this bank can reach"},
        {"missing file", [](json& c) { c["data"]["test"] = "/nonexistent/test"; }, "data.test: \"/nonexistent/test\" does not exist"},
        {"bad distill field", [](json& c) { c["distill"]["stepz"] = 3; }, "distill: unknown field \"stepz\""},
        {"bad target", [](json& c) { c["targets"] = {0}; }, "targets: every target density must be a number in (0, 1]"},
    };
    for (const auto& c : cases) {
      auto doc = config_;
      c.change(doc);
      const auto path = configAt("bad.json", doc);
      const auto out = dir_ + "/bad-out";
      const auto r = cli({"study", QString::fromStdString(path), "--out", QString::fromStdString(out)});
      QVERIFY2(r.code != 0, c.name);
      QVERIFY2(r.err.contains(QString::fromStdString(c.message)), qPrintable(QString(c.name) + ": " + r.err));
      QVERIFY2(!fs::exists(out), c.name);
    }
    // Another config into a finished study's folder: refused, nothing touched.
    auto other = config_;
    other["targets"] = {0.4};
    const auto before = readJson(dir_ + "/S/study.json");
    const auto r = cli({"study", QString::fromStdString(configAt("other.json", other)), "--out",
                        QString::fromStdString(dir_ + "/S")});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("holds a study made from another config"), qPrintable(r.err));
    QCOMPARE(entries(readJson(dir_ + "/S/study.json")), entries(before));
  }

  // The report in a real browser: its self-check counts the drawn figures and catches script errors.
  void reportRendersInChromium() {
    const QString chromium = QStandardPaths::findExecutable(QStringLiteral("chromium"));
    QVERIFY2(!chromium.isEmpty(), "chromium is not installed (scripts/setup.sh installs it)");
    QProcess p;
    p.start(chromium, {"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom",
                       QUrl::fromLocalFile(QString::fromStdString(dir_ + "/S/report.html")).toString()});
    QVERIFY(p.waitForFinished(120000));
    const auto dom = QString::fromUtf8(p.readAllStandardOutput());
    QVERIFY2(dom.contains(QStringLiteral("data-report-ok=\"1\"")), qPrintable(dom.left(400) + p.readAllStandardError()));
    QVERIFY2(!dom.contains(QStringLiteral("data-report-error=\"")), qPrintable(dom.mid(dom.indexOf(QStringLiteral("data-report-error=\"")), 200)));
    const QRegularExpression figures(QStringLiteral("data-figures=\"(\\d+)\"")), drawn(QStringLiteral("data-figures-drawn=\"(\\d+)\""));
    const auto f = figures.match(dom), d = drawn.match(dom);
    QVERIFY(f.hasMatch() && d.hasMatch());
    QVERIFY2(f.captured(1).toInt() >= 8, qPrintable(f.captured(1)));
    // Each figure element counts (the head maps hold several SVGs in one figure).
    QVERIFY2(d.captured(1).toInt() >= f.captured(1).toInt(), qPrintable(d.captured(1) + " drawn of " + f.captured(1)));
  }

  void profileAndTheBudgetRuleOnTheCommandLine() {
    const auto run = QString::fromStdString(dir_ + "/S/runs/ls-s0");
    fs::remove(run.toStdString() + "/pruning_profile.json");
    auto r = cli({"eval", "--run", run, "--data", QString::fromStdString(test_), "--budget", "0.3", "--windows", "2", "--seq-len", "64"});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("attnx-cli profile --run"), qPrintable(r.err));
    r = cli({"profile", "--run", run, "--windows", "1", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.json()["format"].get<std::string>(), std::string("attnx-pruning-profile"));
    QVERIFY(fs::exists(run.toStdString() + "/pruning_profile.json"));
    QCOMPARE(PruningProfile::load(run.toStdString() + "/pruning_profile.json").runStep, int64_t(2));
    {
      // A profile of other coefficients (the run went on after it was measured) is refused.
      auto stale = PruningProfile::load(run.toStdString() + "/pruning_profile.json");
      const auto fresh = stale;
      stale.runStep = 999;
      stale.save(run.toStdString() + "/pruning_profile.json");
      r = cli({"eval", "--run", run, "--data", QString::fromStdString(test_), "--budget", "0.3", "--windows", "2", "--seq-len", "64"});
      QVERIFY(r.code != 0);
      QVERIFY2(r.err.contains("measured at step 999, but the run's alpha are from step 2"), qPrintable(r.err));
      fresh.save(run.toStdString() + "/pruning_profile.json");
    }
    r = cli({"eval", "--run", run, "--data", QString::fromStdString(test_), "--budget", "0.3", "--finetune-steps", "2",
             "--windows", "2", "--seq-len", "64", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QVERIFY(j["pruned_density"].get<double>() <= 0.3 + 1e-12);
    QCOMPARE(j["finetune"]["steps"].get<int>(), 2);
    const auto saved = AttentionPlan::load(run.toStdString() + "/plan.json");
    QCOMPARE(saved.rule.kind, PruningRule::Kind::Budget);
    QCOMPARE(saved.finetuneSteps, int64_t(2));
    // --plan evaluates a given plan file: here a baseline-shaped plan of this run's bank.
    r = cli({"eval", "--run", run, "--data", QString::fromStdString(test_), "--plan",
             QString::fromStdString(dir_ + "/S/runs/ls-s0/plans/alpha-0.6.json"), "--windows", "2", "--seq-len", "64", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto given = AttentionPlan::load(dir_ + "/S/runs/ls-s0/plans/alpha-0.6.json");
    QCOMPARE(r.json()["pruned_density"].get<double>(), given.meanDensity(RunArtifacts::load(run.toStdString()).bank, 64));
    r = cli({"score", "--run", run, "--prune-budget", "0.3", "--text", "It was a truth universally acknowledged", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.json()["student"]["plan_from"].get<std::string>().find("budget 0.3") != std::string::npos, qPrintable(r.out));
  }
};

QTEST_GUILESS_MAIN(TestCliStudy)
#include "test_cli_study.moc"
