// attnx-cli end to end: runs the real executable and checks its output against independent numbers
// (the float64 reference fixtures, GPT-2's tokenizer ids), its exit codes and its error lines.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

using Run = test::CliRun;

Run cli(const QStringList& args) { return test::runCli(args, 120000); }

QString joinIds(const nlohmann::json& ids) {
  QStringList parts;
  for (const auto& id : ids) parts << QString::number(id.get<int64_t>());
  return parts.join(',');
}

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  const QString model_ = QString::fromStdString(test::fixture("gpt2-tiny"));

 private Q_SLOTS:
  void version() {
    const auto r = cli({"--version"});
    QCOMPARE(r.code, 0);
    // The version, then which default model and tokenizer a command without --model would use.
    const auto lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines[0], QStringLiteral("attnx-cli " ATTNX_VERSION));
    QVERIFY2(lines[1].startsWith("default model: "), qPrintable(lines[1]));
    QVERIFY2(lines[2].startsWith("tokenizer: "), qPrintable(lines[2]));
    // With the model named by the environment, --version reports exactly that folder.
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("ATTNX_DEFAULT_MODEL", model_);
    p.setProcessEnvironment(env);
    p.start(ATTNX_CLI_PATH, {"--version"});
    QVERIFY(p.waitForFinished(30000));
    QVERIFY2(QString::fromUtf8(p.readAllStandardOutput()).contains("default model: " + model_), "ATTNX_DEFAULT_MODEL ignored");
  }

  void helpOnEverySubcommand_data() {
    QTest::addColumn<QString>("sub");
    for (const char* s : {"tokenize", "score", "generate", "bench"}) QTest::newRow(s) << s;
  }
  void helpOnEverySubcommand() {
    QFETCH(QString, sub);
    const auto r = cli({sub, "--help"});
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("--json"));
  }

  void wrongArgumentsExitTwoWithOneLine_data() {
    QTest::addColumn<QStringList>("args");
    QTest::newRow("unknown option") << QStringList{"score", "--bogus"};
    QTest::newRow("no subcommand") << QStringList{};
    QTest::newRow("unknown subcommand") << QStringList{"frobnicate"};
    QTest::newRow("score without input") << QStringList{"score", "--model", "x"};
    QTest::newRow("bad id list") << QStringList{"score", "--ids", "1,x,3", "--model", model_};
    QTest::newRow("greedy with temperature") << QStringList{"generate", "--prompt", "a", "--greedy", "--temperature", "0.5"};
    QTest::newRow("top-p out of range") << QStringList{"generate", "--prompt", "a", "--top-p", "1.5"};
    QTest::newRow("zero repetition penalty") << QStringList{"generate", "--prompt", "a", "--repetition-penalty", "0"};
    QTest::newRow("a hundred thousand threads") << QStringList{"score", "--ids", "1,2", "--model", model_, "--threads", "100000"};
    QTest::newRow("negative steps") << QStringList{"distill", "--steps", "-1", "--out", "x"};
    QTest::newRow("zero learning rate") << QStringList{"distill", "--lr", "0", "--out", "x"};
    QTest::newRow("bench length 0") << QStringList{"bench", "--seq", "0", "--model", model_};
  }
  void wrongArgumentsExitTwoWithOneLine() {
    QFETCH(QStringList, args);
    const auto r = cli(args);
    QCOMPARE(r.code, 2);
    QCOMPARE(r.err.trimmed().count('\n'), 0);
    QVERIFY2(r.err.contains("error"), qPrintable(r.err));
    QVERIFY2(r.err.size() < 300, qPrintable(r.err));  // CLI11's own range check printed DBL_MAX in 309 digits
  }

  // Bad files get exit 1 and one line naming the file and what is wrong.
  void badFilesExitOneNamingTheFile() {
    QTemporaryDir dir;
    const auto deep = dir.filePath("deep.json");
    std::ofstream(deep.toStdString()) << std::string(100000, '[') << std::string(100000, ']');
    auto r = cli({"masks", "--bank", deep, "--n", "16"});
    QCOMPARE(r.code, 1);
    QCOMPARE(r.err.trimmed(), "attnx-cli masks: " + deep + ": JSON nested more than 64 levels deep");

    r = cli({"score", "--ids", "7", "--model", model_});
    QCOMPARE(r.code, 1);
    QCOMPARE(r.err.trimmed(), QStringLiteral("attnx-cli score: --ids: 1 token; scoring needs at least 2 (the first token has no prediction)"));

    // A copy of the model with one NaN weight, and one whose eos_token_id is outside its vocabulary.
    const auto copyModel = [&](const QString& name) {
      const auto to = dir.filePath(name).toStdString();
      std::filesystem::copy(model_.toStdString(), to, std::filesystem::copy_options::recursive);
      return to;
    };
    const auto nanModel = copyModel("nan");
    {
      const auto st = SafetensorsFile::open(nanModel + "/model.safetensors");
      const TensorInfo* wte = st.find("wte.weight") ? st.find("wte.weight") : st.find("transformer.wte.weight");
      QVERIFY(wte && wte->dtype == DType::F32);
      // The data section ends the file (tensors tile it), so it starts file size - its size.
      const auto dataStart = std::filesystem::file_size(nanModel + "/model.safetensors") - st.tensors().back().end;
      std::fstream f(nanModel + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(dataStart + wte->begin + 4 * 5));
      const uint32_t nan = 0x7fc00000;
      f.write(reinterpret_cast<const char*>(&nan), 4);
    }
    r = cli({"score", "--ids", "1,2,3", "--model", QString::fromStdString(nanModel)});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.trimmed().endsWith("/model.safetensors: tensor " + QString::fromStdString(
                 SafetensorsFile::open(nanModel + "/model.safetensors").find("wte.weight") ? "wte.weight" : "transformer.wte.weight") +
                 " holds NaN or Inf values; the file is damaged"), qPrintable(r.err));

    const auto eosModel = copyModel("eos");
    auto config = test::readJsonFile(eosModel + "/config.json");
    config["eos_token_id"] = config["vocab_size"];
    std::ofstream(eosModel + "/config.json") << config.dump();
    r = cli({"score", "--ids", "1,2,3", "--model", QString::fromStdString(eosModel)});
    QCOMPARE(r.code, 1);
    QCOMPARE(r.err.trimmed(), QString::fromStdString("attnx-cli score: " + eosModel + "/config.json: field \"eos_token_id\" is " +
                                                     std::to_string(config["vocab_size"].get<int>()) + ", outside the vocabulary 0.." +
                                                     std::to_string(config["vocab_size"].get<int>() - 1)));
  }

  void badModelFolderExitsOne() {
    const auto r = cli({"score", "--ids", "1,2", "--model", "/nonexistent/gpt2"});
    QCOMPARE(r.code, 1);
    QCOMPARE(r.err.trimmed(), QStringLiteral("attnx-cli score: /nonexistent/gpt2: not a folder (expected a GPT-2 model folder)"));
  }

  // The acceptance check: score --ids on a checkpoint written by independent tooling agrees
  // with the independent reference within 1e-4 per token.
  void scoreMatchesReference() {
    const auto ref = test::readJsonFile(test::fixture("gpt2-tiny/reference.json"));
    for (const auto& seq : ref["sequences"]) {
      const auto r = cli({"score", "--ids", joinIds(seq["ids"]), "--model", model_, "--json"});
      QCOMPARE(r.code, 0);
      const auto got = r.json()["logprobs"].get<std::vector<double>>();
      const auto want = seq["logprobs"].get<std::vector<double>>();
      QCOMPARE(got.size(), want.size());
      double diff = 0;
      for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::abs(got[i] - want[i]));
      qInfo("score %s: max |Δ log-prob| = %.3g", seq["name"].get<std::string>().c_str(), diff);
      QVERIFY(diff < 1e-4);
    }
  }

  void greedyGenerateMatchesReference() {
    const auto ref = test::readJsonFile(test::fixture("gpt2-tiny/reference.json"))["greedy"];
    const auto r = cli({"generate", "--prompt-ids", joinIds(ref["prompt"]), "--max-new-tokens", "20", "--no-eos-stop",
                        "--model", model_, "--json"});
    QCOMPARE(r.code, 0);
    QCOMPARE(r.json()["ids"], ref["continuation"]);
  }

  // The same prompt with --repetition-penalty 1.3 against the reference's own penalised argmax loop
  // (which breaks the plain greedy continuation's "89, 89, 89").
  void penalizedGreedyGenerateMatchesReference() {
    const auto ref = test::readJsonFile(test::fixture("gpt2-tiny/reference.json"))["greedy"];
    const auto r = cli({"generate", "--prompt-ids", joinIds(ref["prompt"]), "--max-new-tokens", "20", "--no-eos-stop",
                        "--repetition-penalty", QString::number(ref["repetition_penalty"].get<double>()), "--model",
                        model_, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.json()["ids"], ref["penalized_continuation"]);
    QCOMPARE(r.json()["repetition_penalty"].get<double>(), 1.3);
  }

  void sampledGenerateIsReproducible() {
    const QStringList args{"generate", "--prompt-ids", "1,2,3", "--max-new-tokens", "15", "--temperature", "0.8",
                           "--top-k", "40", "--top-p", "0.9", "--seed", "5", "--model", model_, "--json"};
    const auto a = cli(args), b = cli(args);
    QCOMPARE(a.code, 0);
    QCOMPARE(a.json()["ids"], b.json()["ids"]);
    QCOMPARE(a.json()["greedy"], false);
  }

  // GPT-2's own ids for a few words (from its published vocabulary): "Hello" 15496, " world" 995, "!" 0.
  void tokenizeWithGpt2Vocabulary() {
    const auto r = cli({"tokenize", "--text", "Hello world!", "--model", model_, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(r.json()["ids"], nlohmann::json::parse("[15496, 995, 0]"));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
