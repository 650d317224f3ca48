// attnx-cli distill / eval / masks end to end, on a small random GPT-2 with GPT-2's vocabulary
// (written by this test) and a book of the fetched corpus: files, exit codes, resume, pruning.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/distill_inputs.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

using Run = test::CliRun;

Run cli(const QStringList& args) { return test::runCli(args); }

int lineCount(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

class TestCliDistill : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString model_, run_, bank_, train_, held_;

 private Q_SLOTS:
  void initTestCase() {
    const auto dir = tmp_.path().toStdString();
    const auto in = test::makeDistillInputs(dir, 7);
    model_ = in.teacher, bank_ = in.bank, train_ = in.train, held_ = in.held;
    run_ = QString::fromStdString(dir + "/run");
    QVERIFY2(fs::exists(train_.toStdString()), "run scripts/fetch_data.sh first");
  }

  void distillWritesARunFolder() {
    const auto r = cli({"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--val-data", held_,
                        "--steps", "6", "--batch-size", "2", "--seq-len", "64", "--checkpoint-every", "3",
                        "--validate-every", "3", "--validation-windows", "2", "--out", run_, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QCOMPARE(j["step"].get<int>(), 6);
    QVERIFY(j["validation_kl"].get<double>() >= 0);
    QCOMPARE(j["alpha"].size(), size_t(2 * 4 * 6));
    QVERIFY(r.err.contains("step 6/6"));
    const auto dir = run_.toStdString();
    for (const char* f : {"run.json", "metrics.csv", "learned_bank.json", "student.safetensors"})
      QVERIFY2(fs::exists(dir + "/" + f), f);
    QCOMPARE(lineCount(dir + "/metrics.csv"), 7);  // header + 6 steps
    const auto learned = test::readJsonFile(dir + "/learned_bank.json");
    QCOMPARE(learned["alpha"].size(), size_t(2));
    QCOMPARE(learned["alpha"][0].size(), size_t(4));
    QCOMPARE(learned["alpha"][0][0].size(), size_t(6));
  }

  void refusesToOverwriteARun() {
    const auto r = cli({"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--out", run_});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(run_ + ": already holds a run (run.json, metrics.csv, learned_bank.json, student.safetensors); "
                            "resume that run or choose another run folder"), qPrintable(r.err));
  }

  void resumeExtendsTheRun() {
    const auto r = cli({"distill", "--resume", "--out", run_, "--steps", "8", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.err.contains("resuming after step 6"));
    QCOMPARE(r.json()["step"].get<int>(), 8);
    QCOMPARE(lineCount(run_.toStdString() + "/metrics.csv"), 9);
  }

  // A run killed before its first checkpoint leaves run.json and metrics.csv: a new run is refused
  // there, --resume starts it again from step 0 without the old rows, and keeps the run's settings.
  void runFoldersNeverMix() {
    const auto killed = tmp_.path() + "/killed";
    fs::create_directories(killed.toStdString());
    for (const char* f : {"run.json", "metrics.csv"}) fs::copy_file(run_.toStdString() + "/" + f, killed.toStdString() + "/" + f);
    auto r = cli({"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--out", killed});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(killed + ": already holds a run (run.json, metrics.csv)"), qPrintable(r.err));

    r = cli({"distill", "--resume", "--out", killed, "--steps", "2", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.err.contains("resuming after step 0"));
    QCOMPARE(lineCount(killed.toStdString() + "/metrics.csv"), 3);  // header + steps 1, 2: none of the 8 old rows

    // Without --steps the run keeps its own length (the CLI's default of 200 used to leak in).
    r = cli({"distill", "--resume", "--out", killed, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.json()["step"].get<int>(), 2);
    QCOMPARE(test::readJsonFile(killed.toStdString() + "/run.json")["steps"].get<int>(), 2);

    // A setting that would change the run is refused, not silently ignored.
    r = cli({"distill", "--resume", "--out", killed, "--lr", "0.5"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("--lr cannot change when resuming"), qPrintable(r.err));

    // A damaged metrics.csv is named with its line, and left as it was.
    const auto metrics = killed.toStdString() + "/metrics.csv";
    std::string text;
    {
      std::ifstream in(metrics);
      std::getline(in, text);
    }
    std::ofstream(metrics) << text << "\ngarbage\n";
    r = cli({"distill", "--resume", "--out", killed, "--steps", "3"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QString::fromStdString(metrics) + ": line 2 is not a metrics row (\"garbage\")"), qPrintable(r.err));
    QCOMPARE(lineCount(metrics), 2);
  }

  // SIGHUP (a closed terminal) checkpoints and stops like Ctrl-C.
  void hangUpCheckpoints() {
    const auto dir = tmp_.path() + "/hup";
    QProcess p;
    p.setReadChannel(QProcess::StandardError);  // progress goes to stderr
    p.start(QStringLiteral(ATTNX_CLI_PATH), {"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--steps",
                                            "100000", "--batch-size", "1", "--seq-len", "32", "--checkpoint-every", "0",
                                            "--out", dir});
    QString err;
    while (!err.contains("step ") && p.waitForReadyRead(120000)) err += QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(err.contains("step "), qPrintable(err));
    ::kill(static_cast<pid_t>(p.processId()), SIGHUP);
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 130);
    QVERIFY(fs::exists(dir.toStdString() + "/student.safetensors"));
  }

  void evalPrunesAndCompares() {
    const auto r = cli({"eval", "--run", run_, "--data", held_, "--top-k", "1", "--windows", "3", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QCOMPARE(j["windows"].get<int>(), 3);
    QVERIFY(j["soft"]["kl_per_token"].get<double>() >= 0);
    // The teacher is the same model in both rows.
    QCOMPARE(j["soft"]["teacher_perplexity"].get<double>(), j["pruned"]["teacher_perplexity"].get<double>());
    QCOMPARE(j["active_masks"].get<int>(), 2 * 4);  // top-1: one mask per head
    QVERIFY(j["pruned_density"].get<double>() <= j["soft_density"].get<double>());
    QVERIFY(j["pruned_attention_flops"].get<double>() <= j["dense_attention_flops"].get<double>());
    QVERIFY(fs::exists(run_.toStdString() + "/plan.json"));
  }

  // A gated branch-mixture run: the gate is in the checkpoint, survives a resume, and eval reports
  // the gated student, the static mean-gate student and a plan made from the mean gate.
  void gatedDistillResumeAndEval() {
    const auto run = run_ + "-gated";
    auto r = cli({"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--val-data", held_, "--gate",
                  "--combine", "branch-mixture", "--steps", "3", "--batch-size", "2", "--seq-len", "64",
                  "--validate-every", "0", "--validation-windows", "2", "--out", run, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = cli({"distill", "--resume", "--out", run, "--steps", "4", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY(r.err.contains("resuming after step 3"));
    const auto dir = run.toStdString();
    const auto ckpt = SafetensorsFile::open(dir + "/student.safetensors");
    const auto* w = ckpt.find("gate.weight");
    QVERIFY(w && ckpt.find("gate.bias") && !ckpt.find("theta"));
    QCOMPARE(w->shape, (std::vector<int64_t>{2, 4, 6, 16}));  // layers, heads, masks, head size
    const auto learned = test::readJsonFile(dir + "/learned_bank.json");
    QCOMPARE(learned["alpha_source"].get<std::string>(), std::string("mean gate over the validation tokens"));
    for (const auto& layer : learned["alpha"])
      for (const auto& head : layer)
        for (const auto& a : head) QVERIFY(a.get<double>() > 0 && a.get<double>() < 1);

    r = cli({"eval", "--run", run, "--data", held_, "--top-k", "2", "--windows", "2", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QVERIFY(j["gated"].get<bool>());
    QVERIFY(j["soft"]["kl_per_token"].get<double>() >= 0);
    QVERIFY(j["static"]["kl_per_token"].get<double>() >= 0);
    QCOMPARE(j["active_masks"].get<int>(), 2 * 4 * 2);
    // The gate is not a constant: the gated and the static students differ.
    QVERIFY(j["soft"]["kl_per_token"].get<double>() != j["static"]["kl_per_token"].get<double>());
    // A flag error: a gate starting at 1 is refused with the field named.
    r = cli({"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--gate", "--init", "1", "--out", run + "-bad"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("initial_coefficient"), qPrintable(r.err));
  }

  void benchRunComparesTeacherAndCompiledStudent() {
    // After eval wrote plan.json: the compiled student of the run against its teacher, and its
    // perplexity equal to the dense-masked twin's (same plan through MaskMixtureAttention).
    const auto r = cli({"bench", "--run", run_, "--seq", "32,64", "--repeats", "1", "--warmup", "0", "--data", held_,
                        "--windows", "2", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    QCOMPARE(j["kind"].get<std::string>(), std::string("student"));
    QVERIFY(j["plan_from"].get<std::string>().rfind("plan.json (", 0) == 0);
    QCOMPARE(j["results"].size(), size_t{4});  // teacher and student at each length
    for (const auto& row : j["results"]) QVERIFY(row["time_ms"].get<double>() > 0 && row["peak_bytes"].get<int64_t>() > 0);
    const double compiled = j["quality"]["student_perplexity"].get<double>();
    const double twin = j["quality"]["dense_masked_student_perplexity"].get<double>();
    QVERIFY2(std::abs(compiled - twin) <= 1e-4 * twin, qPrintable(QString("%1 vs %2").arg(compiled).arg(twin)));
    QVERIFY(j["quality"]["kl_per_token"].get<double>() >= 0);

    // A pruning rule on the command line overrides plan.json, as in score, generate and eval: top-1
    // keeps one mask per head, so the student is no denser than with the plan, and still exact.
    const auto top1 = cli({"bench", "--run", run_, "--seq", "64", "--repeats", "1", "--warmup", "0", "--data", held_,
                           "--windows", "2", "--prune-top-k", "1", "--json"});
    QVERIFY2(top1.code == 0, qPrintable(top1.err));
    const auto t = top1.json();
    QCOMPARE(t["plan_from"].get<std::string>(), std::string("learned alpha pruned: top-1"));
    const auto density = [](const nlohmann::json& doc) {
      for (const auto& row : doc["results"])
        if (row["model"] == "student" && row["n"] == 64) return row["density"].get<double>();
      return -1.0;
    };
    QVERIFY(density(t) > 0 && density(t) <= density(j) + 1e-12);
    QVERIFY(std::abs(t["quality"]["student_perplexity"].get<double>() -
                     t["quality"]["dense_masked_student_perplexity"].get<double>()) <=
            1e-4 * t["quality"]["dense_masked_student_perplexity"].get<double>());
    QCOMPARE(cli({"bench", "--run", run_, "--prune-top-k", "1", "--prune-threshold", "0.1"}).code, 2);
  }

  void argumentErrors() {
    QCOMPARE(cli({"distill", "--teacher", model_, "--data", train_, "--out", run_ + "-x"}).code, 2);  // no --bank
    QCOMPARE(cli({"eval", "--run", run_, "--data", held_, "--top-k", "1", "--threshold", "0.1"}).code, 2);
    const auto r = cli({"eval", "--run", run_ + "-missing", "--data", held_});
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.contains("cannot open"));
  }

  // Each mask of the bank at n = 8 against its definition written out here.
  void masksMatchTheirDefinitions() {
    const auto r = cli({"masks", "--bank", bank_, "--n", "8", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = r.json();
    auto expect = [](const std::string& name, int i, int k) {
      if (k > i) return 0;
      if (name == "win-16" || name == "win-64" || name == "win-256" || name == "full") return 1;
      if (name == "sinks-4") return (k < 4 || k == i) ? 1 : 0;
      if (name == "prev-token") return (i - k <= 1) ? 1 : 0;
      return -1;
    };
    QCOMPARE(j["masks"].size(), size_t(6));
    for (const auto& m : j["masks"]) {
      const auto name = m["name"].get<std::string>();
      for (int i = 0; i < 8; ++i)
        for (int k = 0; k < 8; ++k) QCOMPARE(m["matrix"][i][k].get<int>(), expect(name, i, k));
    }
  }
};

QTEST_GUILESS_MAIN(TestCliDistill)
#include "test_cli_distill.moc"
