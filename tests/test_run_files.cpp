// Hostile and damaged run files: every JSON loader refuses deep nesting and repeated keys with a
// message naming the file, metrics.csv never mixes or loses rows, and a config.json that does
// not describe a plausible GPT-2 is refused before anything is allocated. Expected messages and
// rows are written out by hand here.
#include "core/eval/attention_plan.h"
#include "core/eval/pruning_profile.h"
#include "core/eval/run_artifacts.h"
#include "core/masks/mask_bank.h"
#include "core/model/gpt2_config.h"
#include "core/study/study_config.h"
#include "core/train/distill_config.h"
#include "core/train/metrics_log.h"
#include "core/util/json_document.h"
#include "tests/support/test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>

using namespace attnx;
using attnx::test::errorOf;

namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeAll(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

const std::string kHeader = "step,loss,val";

}  // namespace

class TestRunFiles : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // ---- JSON documents ----

  // Every loader of a file a user hands attnx, on the same hostile texts.
  void everyLoaderRefusesHostileJson_data() {
    QTest::addColumn<QString>("loader");
    for (const char* name : {"mask bank", "plan", "pruning profile", "run.json", "config.json", "study config"})
      QTest::newRow(name) << QString(name);
  }

  void everyLoaderRefusesHostileJson() {
    QFETCH(QString, loader);
    QTemporaryDir dir;
    const std::string path = dir.filePath("file.json").toStdString();
    const std::map<QString, std::function<void(const std::string&)>> load = {
        {"mask bank", [&](const std::string& t) { MaskBank::fromJsonText(t, path); }},
        {"plan", [&](const std::string& t) { AttentionPlan::fromJsonText(t, path); }},
        {"pruning profile", [&](const std::string& t) { PruningProfile::fromJsonText(t, path); }},
        {"run.json", [&](const std::string& t) { DistillConfig::fromJsonText(t, path); }},
        {"config.json", [&](const std::string& t) { Gpt2Config::fromJsonText(t, path); }},
        {"study config", [&](const std::string& t) { writeAll(path, t); StudyConfig::load(path); }},
    };
    const auto& read = load.at(loader);
    // 100,000 levels: a recursive reader or printer would overflow the stack (it did: SIGSEGV).
    QCOMPARE(errorOf([&] { read(std::string(100000, '[') + std::string(100000, ']')); }),
             path + ": JSON nested more than 64 levels deep");
    QCOMPARE(errorOf([&] { read("{\"a\": {\"b\": 1, \"b\": 2}}"); }), path + ": the key \"b\" appears twice in one object");
    QCOMPARE(errorOf([&] { read("{\n  \"a\": 1,\n  \"b\": }"); }), path + ": not valid JSON (line 3, column 8)");
    QCOMPARE(errorOf([&] { read("{\"a\": 1e999}"); }), path + ": not valid JSON (a number too large to represent)");
    QCOMPARE(errorOf([&] { read(std::string("{\"a\": 1}\0{", 10)); }), path + ": not valid JSON (a NUL byte at line 1, column 9)");
  }

  // 64 levels are read; 65 are not.
  void depthLimitIsExact() {
    const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    QCOMPARE(parseJsonDocument(nested(64), "f").dump().size(), size_t(128));
    QCOMPARE(errorOf([&] { parseJsonDocument(nested(65), "f"); }), std::string("f: JSON nested more than 64 levels deep"));
  }

  // A header of 200,000 entries is read whole (the callback parser rescanned parents: quadratic).
  void manyEntriesAreRead() {
    std::string text = "{";
    for (int i = 0; i < 200000; ++i) text += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"shape\":[" + std::to_string(i) + "]}";
    text += "}";
    const auto j = parseJsonDocument(text, "many.json");
    QCOMPARE(j.size(), size_t(200000));
    QCOMPARE(j["t199999"]["shape"][0].get<int>(), 199999);
  }

  // ---- metrics.csv ----

  void newLogHasHeaderAndRows() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("metrics.csv").toStdString();
    auto log = MetricsLog::open(path, kHeader, 0);
    log.append("1,0.5,");
    log.append("2,0.25,0.3");
    QCOMPARE(readAll(path), std::string("step,loss,val\n1,0.5,\n2,0.25,0.3\n"));
  }

  // A crash between checkpoints: rows after the checkpoint's step, and a row torn by the crash, go.
  void resumeDropsRowsAfterCheckpointAndTornRow() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("metrics.csv").toStdString();
    writeAll(path, "step,loss,val\n1,0.5,\n2,0.4,\n3,0.3,\n4,0.2");
    auto log = MetricsLog::open(path, kHeader, 2);
    QCOMPARE(log.rowsDropped(), int64_t(2));
    log.append("3,0.31,");
    QCOMPARE(readAll(path), std::string("step,loss,val\n1,0.5,\n2,0.4,\n3,0.31,\n"));
  }

  // A run killed before its first checkpoint keeps no rows; an empty file gets its header.
  void resumeAtStepZeroKeepsOnlyTheHeader() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("metrics.csv").toStdString();
    writeAll(path, "step,loss,val\n1,0.5,\n2,0.4,\n");
    QCOMPARE(MetricsLog::open(path, kHeader, 0).rowsDropped(), int64_t(2));
    QCOMPARE(readAll(path), std::string("step,loss,val\n"));
    writeAll(path, "");
    MetricsLog::open(path, kHeader, 0);
    QCOMPARE(readAll(path), std::string("step,loss,val\n"));
  }

  void damagedFilesAreRefusedNamingTheLine_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("another run's header") << "step,loss,kl\n1,2,3\n"
        << "%P: line 1 is not this run's header (another run's metrics, or another mask bank or model?); "
           "move the file away or choose another run folder";
    QTest::newRow("garbage row") << "step,loss,val\n1,0.5,\nxyz\n2,0.4,\n"
        << "%P: line 3 is not a metrics row (\"xyz\"); the file is damaged: remove that line to continue the run";
    QTest::newRow("row of another width") << "step,loss,val\n1,0.5,,7\n"
        << "%P: line 2 is not a metrics row (\"1,0.5,,7\"); the file is damaged: remove that line to continue the run";
    QTest::newRow("two runs in one file") << "step,loss,val\n1,0.5,\n2,0.4,\n1,0.9,\n"
        << "%P: line 4 logs step 1 after step 2 (rows of two runs in one file?); keep one run's rows to continue";
  }

  void damagedFilesAreRefusedNamingTheLine() {
    QFETCH(QString, text);
    QFETCH(QString, message);
    QTemporaryDir dir;
    const std::string path = dir.filePath("metrics.csv").toStdString();
    writeAll(path, text.toStdString());
    QCOMPARE(QString::fromStdString(errorOf([&] { MetricsLog::open(path, kHeader, 10); })),
             message.replace("%P", QString::fromStdString(path)));
    QCOMPARE(QString::fromStdString(readAll(path)), text);  // nothing lost
  }

  // A write that fails (here: past the file-size limit, as on a full disk) throws; earlier rows stay.
  void failedWriteThrows() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("metrics.csv").toStdString();
    auto log = MetricsLog::open(path, kHeader, 0);
    log.append("1,0.5,");
    const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    QVERIFY(getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small = old;
    small.rlim_cur = 24;
    QVERIFY(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string error = errorOf([&] { log.append("2," + std::string(100, '9') + ","); });
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, oldHandler);
    QCOMPARE(error, path + ": cannot write the row of step 2 (File too large)");
    QVERIFY(readAll(path).rfind("step,loss,val\n1,0.5,\n", 0) == 0);
  }

  // ---- learned_bank.json ----

  // Ragged alpha rows with the right total count were read misaligned; now each row is checked.
  void learnedBankAlphaIsCheckedRowByRow_data() {
    QTest::addColumn<QString>("alpha");
    QTest::addColumn<QString>("message");
    QTest::newRow("ragged rows") << "[[[0.5, 0.1], [0.2]], [[0.3, 0.3], [0.1, 0.9, 0.1]]]"
                                 << "alpha[0][1] must be a list of 2 numbers (one per mask of the bank), got [0.2]";
    QTest::newRow("heads differ") << "[[[0.5, 0.1], [0.2, 0.1]], [[0.3, 0.3]]]" << "alpha[1] has 1 heads, alpha[0] has 2";
    QTest::newRow("negative") << "[[[0.5, -0.1]]]" << "alpha[0][0][1] must be a finite number >= 0, got -0.1";
    QTest::newRow("not a number") << "[[[0.5, \"x\"]]]" << "alpha[0][0][1] must be a finite number >= 0, got \"x\"";
    QTest::newRow("no layers") << "[]" << "field \"alpha\" must be a non-empty list of layers";
  }

  void learnedBankAlphaIsCheckedRowByRow() {
    QFETCH(QString, alpha);
    QFETCH(QString, message);
    QTemporaryDir dir;
    DistillConfig config;
    config.bankPath = "bank.json";
    config.dataPath = "train.txt";
    writeAll(dir.filePath("run.json").toStdString(), config.toJsonText());
    const std::string bank = R"({"format": "attnx-mask-bank", "version": 2, "name": "b", "masks": [)"
                             R"({"name": "win2", "family": "window", "w": 2}, {"name": "sink", "family": "sinks", "k": 1}]})";
    const std::string learned = dir.filePath("learned_bank.json").toStdString();
    writeAll(learned, R"({"format": "attnx-learned-bank", "version": 1, "step": 3, "bank": )" + bank +
                          R"(, "alpha": )" + alpha.toStdString() + "}");
    QCOMPARE(QString::fromStdString(errorOf([&] { RunArtifacts::load(dir.path().toStdString()); })),
             QString::fromStdString(learned + ": ") + message);
  }

  // ---- config.json ----

  void implausibleConfigsAreRefused_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("a million layers") << R"({"n_layer": 1000000})" << "c.json: invalid GPT-2 config: n_layer must be at most 1024, got 1000000";
    QTest::newRow("n_embd 1e9") << R"({"n_embd": 1000000000, "n_head": 10})"
                                << "c.json: invalid GPT-2 config: n_embd must be at most 65536, got 1000000000";
    QTest::newRow("vocab 2^40") << R"({"vocab_size": 1099511627776})"
                                << "c.json: invalid GPT-2 config: vocab_size must be at most 2^24, got 1099511627776";
    QTest::newRow("context 2^30") << R"({"n_positions": 1073741824})"
                                  << "c.json: invalid GPT-2 config: n_positions must be at most 2^20, got 1073741824";
    QTest::newRow("eos past the vocabulary") << R"({"vocab_size": 100, "eos_token_id": 100})"
                                             << "c.json: field \"eos_token_id\" is 100, outside the vocabulary 0..99";
    QTest::newRow("negative eos") << R"({"eos_token_id": -1})" << "c.json: field \"eos_token_id\" is -1, outside the vocabulary 0..50256";
  }

  void implausibleConfigsAreRefused() {
    QFETCH(QString, json);
    QFETCH(QString, message);
    QCOMPARE(QString::fromStdString(errorOf([&] { Gpt2Config::fromJsonText(json.toStdString(), "c.json"); })), message);
  }

  void gpt2XlConfigIsAccepted() {
    const auto c = Gpt2Config::fromJsonText(R"({"n_layer": 48, "n_embd": 1600, "n_head": 25, "eos_token_id": 50256})", "xl.json");
    QCOMPARE(c.numLayers, int64_t(48));
    QCOMPARE(c.headDim(), int64_t(64));
  }
};

QTEST_APPLESS_MAIN(TestRunFiles)
#include "test_run_files.moc"
