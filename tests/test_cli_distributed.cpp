// Data-parallel attnx-cli distill (core/dist, torch.distributed's Gloo on 127.0.0.1): two real
// ranks reproduce the one-process run read back from the files, only rank 0 writes, resume works
// across world sizes, and every failure ends with a message naming a rank instead of a hang.
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/dist/dist_env.h"
#include "core/io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/distill_inputs.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

// A port nothing listens on right now (bound to 0 by the kernel, then released).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One rank of a job on 127.0.0.1, launched the torchrun way (environment variables).
std::unique_ptr<QProcess> startRank(int rank, int world, int port, const QStringList& args) {
  auto p = std::make_unique<QProcess>();
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("RANK"), QString::number(rank));
  env.insert(QStringLiteral("LOCAL_RANK"), QString::number(rank));
  env.insert(QStringLiteral("WORLD_SIZE"), QString::number(world));
  env.insert(QStringLiteral("MASTER_ADDR"), QStringLiteral("127.0.0.1"));
  env.insert(QStringLiteral("MASTER_PORT"), QString::number(port));
  env.insert(QStringLiteral("OMP_NUM_THREADS"), QStringLiteral("1"));  // two ranks share two cores
  p->setProcessEnvironment(env);
  p->start(QStringLiteral(ATTNX_CLI_PATH), args);
  return p;
}

test::CliRun finish(QProcess& p, int timeoutMs = 120000) {
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    return {};
  }
  return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

// metrics.csv as columns by header name, every row.
std::map<std::string, std::vector<double>> readMetrics(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream hs(line);
  for (std::string n; std::getline(hs, n, ',');) names.push_back(n);
  std::map<std::string, std::vector<double>> cols;
  while (std::getline(in, line)) {
    // Split by hand: getline drops a trailing empty cell (no validation at that step), which is -1 here.
    size_t from = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      const size_t comma = std::min(line.find(',', from), line.size());
      const std::string cell = line.substr(std::min(from, line.size()), comma - std::min(from, line.size()));
      cols[names[i]].push_back(cell.empty() ? -1.0 : std::stod(cell));
      from = comma + 1;
    }
  }
  return cols;
}

std::vector<double> flatAlpha(const std::string& learnedBank) {
  std::vector<double> out;
  for (const auto& l : test::readJsonFile(learnedBank)["alpha"])
    for (const auto& h : l)
      for (const auto& v : h) out.push_back(v.get<double>());
  return out;
}

}  // namespace

class TestCliDistributed : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString model_, bank_, train_, held_;
  double worst_ = 0;  // the largest relative difference seen between 1 and 2 ranks

  QString dir(const char* name) const { return tmp_.path() + QLatin1Char('/') + QLatin1String(name); }

  QStringList distill(const QString& out, int steps) const {
    return {"distill", "--teacher", model_, "--bank", bank_, "--data", train_, "--val-data", held_,
            "--steps", QString::number(steps), "--batch-size", "4", "--seq-len", "32", "--lr", "0.05",
            "--warmup", "1", "--lambda-l1", "0.01", "--checkpoint-every", "2", "--validate-every", "2",
            "--validation-windows", "3", "--dist-timeout", "30", "--out", out};
  }

  // Both ranks of one job to completion; rank 1 is given its own --out, which must stay unwritten.
  void runTwoRanks(const QStringList& rank0, const QStringList& rank1) {
    const int port = freePort();
    auto p0 = startRank(0, 2, port, rank0);
    auto p1 = startRank(1, 2, port, rank1);
    const auto r0 = finish(*p0), r1 = finish(*p1);
    QVERIFY2(r0.code == 0, qPrintable(r0.err));
    QVERIFY2(r1.code == 0, qPrintable(r1.err));
    QVERIFY2(r0.err.contains("rank 0 of 2") && r0.err.contains("all-reduce"), qPrintable(r0.err));
    QVERIFY2(!r1.err.contains("step "), qPrintable(r1.err));  // progress is rank 0's alone
  }

  void compareRuns(const std::string& a, const std::string& b, size_t rows) {
    const auto ma = readMetrics(a + "/metrics.csv"), mb = readMetrics(b + "/metrics.csv");
    QCOMPARE(ma.size(), mb.size());
    for (const auto& [name, col] : ma) {
      if (name == "tokens_per_s" || name == "elapsed_s") continue;  // timings
      const auto& other = mb.at(name);
      QCOMPARE(col.size(), rows);
      QCOMPARE(other.size(), rows);
      for (size_t i = 0; i < rows; ++i) {
        const double d = std::abs(col[i] - other[i]), rel = d / std::max(1e-3, std::abs(col[i]));
        worst_ = std::max(worst_, rel);
        QVERIFY2(rel < 2e-4, qPrintable(QStringLiteral("%1 row %2: %3 vs %4").arg(QString::fromStdString(name))
                                             .arg(i + 1).arg(col[i], 0, 'g', 9).arg(other[i], 0, 'g', 9)));
      }
    }
    const auto aa = flatAlpha(a + "/learned_bank.json"), ab = flatAlpha(b + "/learned_bank.json");
    QCOMPARE(aa.size(), ab.size());
    for (size_t i = 0; i < aa.size(); ++i) {
      worst_ = std::max(worst_, std::abs(aa[i] - ab[i]) / std::max(1e-3, std::abs(aa[i])));
      QVERIFY2(std::abs(aa[i] - ab[i]) <= 2e-4 * std::max(1e-3, std::abs(aa[i])), qPrintable(QString::number(i)));
    }
  }

 private Q_SLOTS:
  void initTestCase() {
    const auto in = test::makeDistillInputs(tmp_.path().toStdString(), 11);
    model_ = in.teacher, bank_ = in.bank, train_ = in.train, held_ = in.held;
    QVERIFY2(fs::exists(train_.toStdString()), "run scripts/fetch_data.sh first");
  }

  // The torchrun variables: one process unless WORLD_SIZE > 1, then nothing is guessed.
  void environmentIsReadStrictly() {
    std::map<std::string, std::string> vars;
    const auto read = [&] {
      return readDistEnv([&](const char* n) { return vars.count(n) ? vars[n].c_str() : nullptr; });
    };
    QVERIFY(!read().distributed());
    vars = {{"WORLD_SIZE", "1"}};
    QVERIFY(!read().distributed());
    vars = {{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}};
    const auto e = read();
    QVERIFY(e.distributed() && e.rank == 3 && e.worldSize == 4 && e.masterPort == 29500 && !e.localRankGiven);
    vars.erase("RANK");
    QVERIFY(test::errorOf(read).find("RANK is not set") != std::string::npos);
    vars["RANK"] = "4";
    QVERIFY(test::errorOf(read).find("RANK=\"4\" must be an integer in [0, 3]") != std::string::npos);
    vars["RANK"] = "1";
    vars["MASTER_PORT"] = "http";
    QVERIFY(test::errorOf(read).find("MASTER_PORT=\"http\"") != std::string::npos);
    // Shares: contiguous, the first n % world ranks one longer; a batch must divide evenly.
    QCOMPARE(shareOf(7, 0, 3), (std::pair<int64_t, int64_t>{0, 3}));
    QCOMPARE(shareOf(7, 2, 3), (std::pair<int64_t, int64_t>{5, 7}));
    const std::vector<std::vector<int64_t>> batch = {{1}, {2}, {3}, {4}};
    QCOMPARE(localShare(batch, 1, 2), (std::vector<std::vector<int64_t>>{{3}, {4}}));
    QVERIFY(test::errorOf([&] { localShare(batch, 0, 3); }).find("must be a multiple") != std::string::npos);
  }

  // pretrain on 2 ranks: the loss curve and the validation loss of the one-process run.
  void pretrainOnTwoRanks() {
    const auto args = [this](const char* out) {
      return QStringList{"pretrain", "--data", train_, "--val-data", held_, "--layers", "1", "--heads", "2",
                         "--width", "32", "--context", "32", "--seq-len", "16", "--batch-size", "4", "--steps", "3",
                         "--warmup", "1", "--validate-every", "3", "--validation-windows", "3",
                         "--checkpoint-every", "0", "--dist-timeout", "30", "--out", dir(out)};
    };
    const auto one = test::runCli(args("pre-one"));
    QVERIFY2(one.code == 0, qPrintable(one.err));
    const int port = freePort();
    auto p0 = startRank(0, 2, port, args("pre-two")), p1 = startRank(1, 2, port, args("pre-stray"));
    const auto r0 = finish(*p0), r1 = finish(*p1);
    QVERIFY2(r0.code == 0 && r1.code == 0, qPrintable(r0.err + r1.err));
    QVERIFY(!fs::exists(dir("pre-stray").toStdString()));
    const auto a = readMetrics(dir("pre-one").toStdString() + "/metrics.csv");
    const auto b = readMetrics(dir("pre-two").toStdString() + "/metrics.csv");
    for (const char* col : {"loss", "grad_norm", "val_loss"})
      for (size_t i = 0; i < 3; ++i)
        QVERIFY2(std::abs(a.at(col)[i] - b.at(col)[i]) <= 2e-4 * std::abs(a.at(col)[i]),
                 qPrintable(QStringLiteral("%1 row %2: %3 vs %4").arg(QLatin1String(col)).arg(i + 1)
                                .arg(a.at(col)[i], 0, 'g', 9).arg(b.at(col)[i], 0, 'g', 9)));
    QCOMPARE(test::readJsonFile(dir("pre-two").toStdString() + "/pretrain.json")["world_size"].get<int>(), 2);
  }

  // Same global batch, 1 process against 2 ranks: every logged number and the learned α agree.
  void twoRanksReproduceOneProcess() {
    auto one = test::runCli(distill(dir("one"), 4));
    QVERIFY2(one.code == 0, qPrintable(one.err));
    runTwoRanks(distill(dir("two"), 4), distill(dir("stray"), 4));
    compareRuns(dir("one").toStdString(), dir("two").toStdString(), 4);
    const auto run = test::readJsonFile(dir("two").toStdString() + "/run.json");
    QCOMPARE(run["world_size"].get<int>(), 2);
    QCOMPARE(run["dist_backend"].get<std::string>(), std::string("gloo"));
    QCOMPARE(test::readJsonFile(dir("one").toStdString() + "/run.json")["world_size"].get<int>(), 1);
    // Rank 0 alone wrote: rank 1's --out was never created, and the run folder holds only the run.
    QVERIFY(!fs::exists(dir("stray").toStdString()));
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(dir("two").toStdString())) files.insert(e.path().filename().string());
    QCOMPARE(files, (std::set<std::string>{"run.json", "metrics.csv", "learned_bank.json", "student.safetensors"}));
  }

  // Each run continues with the other world size (1 -> 2 ranks, 2 ranks -> 1) and they still agree.
  void resumeChangesTheWorldSize() {
    const auto extend = [](const QString& out) {
      return QStringList{"distill", "--resume", "--out", out, "--steps", "6", "--dist-timeout", "30"};
    };
    runTwoRanks(extend(dir("one")), extend(dir("stray")));
    const auto r = test::runCli(extend(dir("two")));
    QVERIFY2(r.code == 0, qPrintable(r.err));
    compareRuns(dir("one").toStdString(), dir("two").toStdString(), 6);
    QCOMPARE(test::readJsonFile(dir("one").toStdString() + "/run.json")["world_size"].get<int>(), 2);
    QCOMPARE(test::readJsonFile(dir("two").toStdString() + "/run.json")["world_size"].get<int>(), 1);
    qInfo("largest relative difference, 1 process vs 2 ranks: %.3g", worst_);
  }

  void batchMustDivideByTheWorldSize() {
    const int port = freePort();
    auto args = distill(dir("odd"), 2);
    args[args.indexOf(QStringLiteral("--batch-size")) + 1] = QStringLiteral("3");
    auto p0 = startRank(0, 2, port, args), p1 = startRank(1, 2, port, args);
    const auto r0 = finish(*p0), r1 = finish(*p1);
    QCOMPARE(r0.code, 1);
    QVERIFY2(r0.err.contains("must divide by world_size (2)"), qPrintable(r0.err));
    QVERIFY(r1.code != 0);
  }

  // SIGKILL of rank 1 mid-run: rank 0 ends non-zero within seconds naming rank 1; its last
  // checkpoint stays good (a one-process resume continues from it).
  void aKilledRankStopsTheOther() {
    const int port = freePort();
    auto args = distill(dir("killed"), 100000);
    args[args.indexOf(QStringLiteral("--dist-timeout")) + 1] = QStringLiteral("60");
    auto p0 = startRank(0, 2, port, args), p1 = startRank(1, 2, port, args);
    QString err;
    p0->setReadChannel(QProcess::StandardError);
    while (!err.contains(QStringLiteral("checkpoint at step 2")) && p0->waitForReadyRead(60000))
      err += QString::fromUtf8(p0->readAllStandardError());
    QVERIFY2(err.contains(QStringLiteral("checkpoint at step 2")), qPrintable(err));
    ::kill(static_cast<pid_t>(p1->processId()), SIGKILL);
    QElapsedTimer t;
    t.start();
    QVERIFY(p0->waitForFinished(20000));
    const double seconds = t.elapsed() / 1000.0;
    err += QString::fromUtf8(p0->readAllStandardError());
    qInfo("rank 0 ended %.1f s after rank 1 was killed", seconds);
    QVERIFY(p0->exitCode() != 0);
    QVERIFY2(err.contains(QStringLiteral("rank 0 of 2")) && err.contains(QStringLiteral("rank 1 stopped answering")),
             qPrintable(err));
    QVERIFY2(err.contains(QStringLiteral("last good checkpoint")), qPrintable(err));
    p1->waitForFinished();
    const int saved = std::stoi(SafetensorsFile::open(dir("killed").toStdString() + "/student.safetensors").metadata().at("step"));
    QVERIFY(saved >= 2);
    const auto resumed = test::runCli({"distill", "--resume", "--out", dir("killed"), "--steps", QString::number(saved + 1)});
    QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
    QVERIFY2(resumed.err.contains(QStringLiteral("resuming after step %1").arg(saved)), qPrintable(resumed.err));
  }

  // Ctrl-C on one rank only: both stop after the same step, rank 0 checkpoints, both exit 130.
  void anInterruptedRankStopsEveryRank() {
    const int port = freePort();
    auto p0 = startRank(0, 2, port, distill(dir("interrupted"), 100000));
    auto p1 = startRank(1, 2, port, distill(dir("interrupted"), 100000));
    QString err;
    p0->setReadChannel(QProcess::StandardError);
    while (!err.contains(QStringLiteral("step ")) && p0->waitForReadyRead(60000))
      err += QString::fromUtf8(p0->readAllStandardError());
    ::kill(static_cast<pid_t>(p1->processId()), SIGINT);
    QElapsedTimer t;
    t.start();
    const auto r0 = finish(*p0, 20000), r1 = finish(*p1, 20000);
    qInfo("both ranks ended %.1f s after rank 1's SIGINT", t.elapsed() / 1000.0);
    QCOMPARE(r0.code, 130);
    QCOMPARE(r1.code, 130);
    QVERIFY2(r0.err.contains(QStringLiteral("rank 1 was interrupted")), qPrintable(r0.err));
    const auto ckpt = SafetensorsFile::open(dir("interrupted").toStdString() + "/student.safetensors");
    const auto rows = readMetrics(dir("interrupted").toStdString() + "/metrics.csv").at("step");
    QCOMPARE(std::stoi(ckpt.metadata().at("step")), int(rows.back()));
  }

  // A rank whose peer never comes up ends at --dist-timeout with a message, whichever side it is.
  void aLonelyRankTimesOut() {
    for (int rank : {0, 1}) {
      const int port = freePort();
      auto args = distill(dir("lonely"), 2);
      args[args.indexOf(QStringLiteral("--dist-timeout")) + 1] = QStringLiteral("2");
      QElapsedTimer t;
      t.start();
      auto p = startRank(rank, 2, port, args);
      const auto r = finish(*p, 30000);
      const double seconds = t.elapsed() / 1000.0;
      qInfo("rank %d alone gave up after %.1f s", rank, seconds);
      QCOMPARE(r.code, 1);
      QVERIFY(seconds < 15);
      QVERIFY2(r.err.contains(rank == 0 ? QStringLiteral("rank 0 of 2: not every rank joined the job at 127.0.0.1:")
                                        : QStringLiteral("rank 1 of 2: could not reach rank 0's rendezvous store")),
               qPrintable(r.err));
      QVERIFY(!fs::exists(dir("lonely").toStdString() + "/metrics.csv"));
    }
  }
};

QTEST_APPLESS_MAIN(TestCliDistributed)
#include "test_cli_distributed.moc"
