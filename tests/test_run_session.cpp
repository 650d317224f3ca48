// One owner of a run: the desktop's AnalysisSession and attnx-cli answer through the same core
// RunSession, so they must agree exactly on the same run folder (maps, per-head KL, the pruned
// student, per-token comparisons). Each number is also checked against an independent path: KL
// recomputed here from the maps, log-probabilities against attnx-cli score (core/eval/perplexity),
// and the teacher shared by the model panel, the analysis views and training, measured in resident
// memory with a model whose weights are ~130 MB.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/bench/memory_probe.h"
#include "core/eval/run_session.h"
#include "core/eval/teacher.h"
#include "core/util/allocator_tuning.h"
#include "tests/support/tiny_run_session.h"
#include "ui/attention/attention_view.h"
#include "ui/bridge/analysis_session.h"
#include "ui/bridge/model_session.h"
#include "ui/main_window/main_window.h"

using namespace attnx::ui;
using attnx::test::runCli;

namespace {

const QString kPrompt = QStringLiteral(
    "The little priest walked along the shore, looking at the grey waves as they came in, and said nothing at all.");

nlohmann::json cliJson(const QStringList& args) {
  const auto r = runCli(args);
  if (r.code != 0) qWarning("attnx-cli %s: %s", qPrintable(args.join(QLatin1Char(' '))), qPrintable(r.err));
  return r.code == 0 ? nlohmann::json::parse(r.out.toStdString()) : nlohmann::json();
}

double residentMiB() {
  attnx::releaseFreedMemory();
  return static_cast<double>(attnx::residentMemory().currentBytes) / (1024.0 * 1024.0);
}

}  // namespace

class TestRunSession : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::shared_ptr<AnalysisSession> session_;
  QString run_;

 private Q_SLOTS:
  void initTestCase() {
    const QString problem = attnx::test::loadTinyRunSession(tmp_.path(), &session_);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    run_ = tmp_.path() + QStringLiteral("/run");
  }

  // attnx-cli attention --json and the desktop's session: the same maps and KL for both students,
  // the pruned one described the same way; and the KL is what the maps say (recomputed here).
  // A pruning rule (the Attention view's, attnx-cli's --prune-*) gives the same pruned student both ways.
  void attentionAgreesWithTheCli_data() {
    QTest::addColumn<QString>("student");
    QTest::addColumn<int>("topK");  // 0: the run's default plan
    QTest::newRow("soft") << QStringLiteral("soft") << 0;
    QTest::newRow("pruned") << QStringLiteral("pruned") << 0;
    QTest::newRow("pruned, top-1 rule") << QStringLiteral("pruned") << 1;
  }
  void attentionAgreesWithTheCli() {
    QFETCH(QString, student);
    QFETCH(int, topK);
    const auto kind = student == QLatin1String("soft") ? StudentKind::Soft : StudentKind::Pruned;
    auto session = session_;
    QStringList args{"attention", "--run", run_, "--prompt", kPrompt, "--student", student, "--json"};
    if (topK > 0) {
      session = std::make_shared<AnalysisSession>();
      const QString problem = session->loadRun(run_, {}, session_->core()->teacher(), attnx::PruningRule::topKRule(topK));
      QVERIFY2(problem.isEmpty(), qPrintable(problem));
      QVERIFY2(session->summary().prunedDescription.contains(QStringLiteral("top-%1").arg(topK)),
               qPrintable(session->summary().prunedDescription));
      args << "--prune-top-k" << QString::number(topK);
      // Another plan than the run's default: other pruned maps.
      QVERIFY(session->attentionMaps(kPrompt, kind)->studentMaps != session_->attentionMaps(kPrompt, kind)->studentMaps);
    }
    const auto desk = session->attentionMaps(kPrompt, kind);
    const auto cli = cliJson(args);
    QVERIFY(!cli.is_null());
    QCOMPARE(cli["pruned_plan"].get<std::string>(), session->summary().prunedDescription.toStdString());
    QCOMPARE(cli["ids"].get<std::vector<int>>(), desk->prompt.ids);
    const int L = desk->layers, H = desk->heads, n = desk->n;
    QCOMPARE(cli["maps"].size(), size_t(L * H));
    double worstMap = 0, worstKl = 0, worstRecomputed = 0;
    for (const auto& head : cli["maps"]) {
      const int l = head["layer"], h = head["head"];
      const float* t = desk->teacherHead(l, h);
      const float* s = desk->studentHead(l, h);
      double kl = 0;
      for (int i = 0; i < n; ++i) {
        double rowSum = 0;  // the student's row, normalised for the KL (method: where each attends)
        for (int j = 0; j < n; ++j) rowSum += head["student"][i][j].get<double>();
        for (int j = 0; j < n; ++j) {
          worstMap = std::max(worstMap, std::abs(head["teacher"][i][j].get<double>() - t[i * n + j]));
          worstMap = std::max(worstMap, std::abs(head["student"][i][j].get<double>() - s[i * n + j]));
          const double p = head["teacher"][i][j], q = head["student"][i][j].get<double>() / std::max(rowSum, 1e-10);
          if (p > 0) kl += p * (std::log(p) - std::log(std::max(q, 1e-10))) / n;
        }
      }
      worstKl = std::max(worstKl, std::abs(head["kl"].get<double>() - desk->headKl[static_cast<size_t>(l) * H + h]));
      worstRecomputed = std::max(worstRecomputed, std::abs(kl - head["kl"].get<double>()));
      QCOMPARE(cli["head_kl"][l][h].get<double>(), head["kl"].get<double>());
      if (!desk->teacherRoles.empty())
        QCOMPARE(QString::fromStdString(cli["roles"][l][h]["kind"]), desk->teacherRoles[static_cast<size_t>(l) * H + h].kind);
    }
    qInfo("%s: worst map difference %.3g, KL difference %.3g, KL against the maps %.3g", qPrintable(student), worstMap,
          worstKl, worstRecomputed);
    QVERIFY(worstMap < 1e-6);  // the JSON prints floats with enough digits to round-trip
    QVERIFY(worstKl < 1e-12);
    QVERIFY(worstRecomputed < 1e-5);  // float maps in the JSON vs the session's double arithmetic
    if (kind == StudentKind::Pruned) QVERIFY(*std::max_element(desk->headKl.begin(), desk->headKl.end()) > 0);
  }

  // A branch-mixture student (the committed study's run on the embedded teacher) has attention rows
  // that sum to sum(alpha), not 1: the per-head KL normalises them, so it is never negative and
  // equals the KL recomputed here from the maps with each student row divided by its sum.
  void headKlOfABranchMixtureIsAProperKl() {
    const QString run = QDir::cleanPath(QStringLiteral(ATTNX_FIXTURES_DIR "/../../docs/study/runs/windows-sinks-s0"));
    // The committed run.json names the teacher where the study ran; the embedded model is in the tree.
    const QString teacher = QDir::cleanPath(QStringLiteral(ATTNX_FIXTURES_DIR "/../../resources/default-model"));
    AnalysisSession mixture;
    const QString problem = mixture.loadRun(run, teacher);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(mixture.summary().combine, QStringLiteral("branch-mixture"));
    const auto maps = mixture.attentionMaps(kPrompt, StudentKind::Soft);
    const int n = maps->n;
    double worst = 0, farthestRowSum = 0;
    for (int l = 0; l < maps->layers; ++l)
      for (int h = 0; h < maps->heads; ++h) {
        const float* t = maps->teacherHead(l, h);
        const float* s = maps->studentHead(l, h);
        double kl = 0;
        for (int i = 0; i < n; ++i) {
          double rowSum = 0;
          for (int j = 0; j <= i; ++j) rowSum += s[i * n + j];
          farthestRowSum = std::max(farthestRowSum, std::abs(rowSum - 1));
          for (int j = 0; j <= i; ++j)
            if (t[i * n + j] > 0)
              kl += t[i * n + j] * (std::log(double(t[i * n + j])) - std::log(std::max(s[i * n + j] / rowSum, 1e-10))) / n;
        }
        const double got = maps->headKl[static_cast<size_t>(l) * maps->heads + h];
        QVERIFY2(got >= 0, qPrintable(QStringLiteral("L%1 H%2: KL %3").arg(l).arg(h).arg(got)));
        worst = std::max(worst, std::abs(got - kl));
      }
    qInfo("branch mixture: student rows sum up to %.3f away from 1; worst KL difference %.3g", farthestRowSum, worst);
    QVERIFY(farthestRowSum > 0.05);  // the case this test is about: rows that are not distributions
    QVERIFY(worst < 1e-5);
  }

  // attnx-cli compare and the desktop's Completions comparisons along the same completion: the same
  // KL per token; the log-probabilities equal attnx-cli score's for teacher and student.
  void compareAgreesWithTheCliAndWithScore() {
    const auto cli = cliJson({"compare", "--run", run_, "--prompt", kPrompt, "--new-tokens", "6", "--student", "soft", "--json"});
    QVERIFY(!cli.is_null());
    const auto prompt = cli["prompt_ids"].get<std::vector<int>>();
    const auto completion = cli["completion_ids"].get<std::vector<int>>();
    QCOMPARE(prompt, session_->encode(kPrompt).ids);
    // The completion is the teacher's greedy one, as the desktop's generate gives it.
    attnx::SamplingOptions greedy;
    greedy.maxNewTokens = 6;
    greedy.stopOnEos = true;
    QCOMPARE(session_->generate(prompt, nullptr, greedy, {}), completion);
    const auto desk = session_->compare(prompt, completion, StudentKind::Soft);
    QCOMPARE(desk.size(), completion.size());

    QStringList all;
    for (int id : prompt) all << QString::number(id);
    for (int id : completion) all << QString::number(id);
    const auto teacher = cliJson({"score", "--model", session_->summary().teacherDir, "--ids", all.join(QLatin1Char(',')), "--json"});
    const auto student = cliJson({"score", "--run", run_, "--student", "soft", "--ids", all.join(QLatin1Char(',')), "--json"});
    QVERIFY(!teacher.is_null() && !student.is_null());
    for (size_t t = 0; t < completion.size(); ++t) {
      const auto& c = cli["tokens"][t];
      QCOMPARE(c["id"].get<int>(), completion[t]);
      QVERIFY(std::abs(c["kl"].get<double>() - desk[t].kl) < 1e-12);
      QCOMPARE(QString::fromStdString(c["teacher_top"][0]["token"]).replace(QLatin1Char('\n'), QStringLiteral("\u23CE")),
               desk[t].teacherTop[0].label);
      // score's logprobs[k] is the log-probability of ids[k + 1].
      const size_t k = prompt.size() - 1 + t;
      QVERIFY2(std::abs(c["teacher_logprob"].get<double>() - teacher["logprobs"][k].get<double>()) < 1e-4,
               qPrintable(QString::number(t)));
      QVERIFY2(std::abs(c["student_logprob"].get<double>() - student["logprobs"][k].get<double>()) < 1e-4,
               qPrintable(QString::number(t)));
    }
  }

  // The model panel's teacher is the analysis views' teacher when it is the run's: the same object,
  // and no second copy in resident memory; a session that loads its own costs the weights again.
  void oneTeacherInMemory() {
    const QString big = tmp_.path() + QStringLiteral("/big");
    auto r = runCli({"pretrain", "--data", attnx::test::tinyRunText(), "--out", big + QStringLiteral("/teacher"), "--layers", "2",
                     "--heads", "4", "--width", "512", "--context", "64", "--steps", "1", "--batch-size", "1", "--seq-len",
                     "16", "--warmup", "0", "--validate-every", "0", "--checkpoint-every", "0"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const QString teacherDir = big + QStringLiteral("/teacher/model");
    r = runCli({"distill", "--teacher", teacherDir, "--bank", QString::fromStdString(attnx::test::fixture("../../resources/banks/local-sinks.json")),
                "--data", attnx::test::tinyRunText(), "--steps", "1", "--batch-size", "1", "--seq-len", "16", "--validate-every",
                "0", "--checkpoint-every", "0", "--out", big + QStringLiteral("/run")});
    QVERIFY2(r.code == 0, qPrintable(r.err));

    ModelSession model;
    QVERIFY(model.load(teacherDir).isEmpty());
    const double weightsMiB = static_cast<double>(model.teacher()->parameterBytes()) / (1024.0 * 1024.0);
    const double before = residentMiB();
    AnalysisSession shared;
    QVERIFY(shared.loadRun(big + QStringLiteral("/run"), {}, model.teacher()).isEmpty());
    QCOMPARE(shared.core()->teacher().get(), model.teacher().get());
    const double afterShared = residentMiB();
    AnalysisSession own;
    QVERIFY(own.loadRun(big + QStringLiteral("/run")).isEmpty());
    QVERIFY(own.core()->teacher().get() != model.teacher().get());
    const double afterOwn = residentMiB();
    qInfo("weights %.1f MiB; resident %.1f MiB with the model panel's teacher, +%.1f MiB for a session sharing it, "
          "+%.1f MiB for one loading its own", weightsMiB, before, afterShared - before, afterOwn - afterShared);
    QVERIFY(weightsMiB > 100);
    QVERIFY(afterShared - before < 0.2 * weightsMiB);
    QVERIFY(afterOwn - afterShared > 0.8 * weightsMiB);  // the measurement sees a second copy
  }

  // The window: open the model, open the run: the analysis views load on a worker thread and share
  // the model panel's teacher; a broken run's error reaches the user instead of vanishing.
  void windowSharesItsTeacherAndReportsErrors() {
    MainWindow w;
    QSignalSpy model(&w, &MainWindow::modelLoaded);
    w.openModel(session_->summary().teacherDir, /*quiet=*/true);
    QTRY_COMPARE_WITH_TIMEOUT(model.count(), 1, 60000);
    QVERIFY(model.at(0).at(0).toBool());
    QSignalSpy analysis(&w, &MainWindow::analysisLoaded);
    QVERIFY(w.openRun(run_, /*quiet=*/true));
    QTRY_COMPARE_WITH_TIMEOUT(analysis.count(), 1, 60000);
    QVERIFY2(analysis.at(0).at(0).toBool(), qPrintable(analysis.at(0).at(1).toString()));
    QVERIFY(!w.isAnalysisLoading());
    QCOMPARE(w.attentionView()->session()->core()->teacher().get(), w.modelSession()->teacher().get());

    // A run whose teacher folder is gone: the curves open, the analysis reports the folder.
    const QString broken = tmp_.path() + QStringLiteral("/broken");
    QDir().mkpath(broken);
    for (const auto& f : QDir(run_).entryList(QDir::Files)) QFile::copy(run_ + QLatin1Char('/') + f, broken + QLatin1Char('/') + f);
    QFile runJson(broken + QStringLiteral("/run.json"));
    QVERIFY(runJson.open(QIODevice::ReadOnly));
    auto config = nlohmann::json::parse(runJson.readAll().toStdString());
    runJson.close();
    config["teacher"] = (broken + QStringLiteral("/no-such-teacher")).toStdString();
    QVERIFY(runJson.open(QIODevice::WriteOnly | QIODevice::Truncate));
    runJson.write(QByteArray::fromStdString(config.dump()));
    runJson.close();
    analysis.clear();
    QVERIFY(w.openRun(broken, /*quiet=*/true));
    QTRY_COMPARE_WITH_TIMEOUT(analysis.count(), 1, 60000);
    QVERIFY(!analysis.at(0).at(0).toBool());
    QVERIFY2(analysis.at(0).at(1).toString().contains(QStringLiteral("no-such-teacher")), qPrintable(analysis.at(0).at(1).toString()));
  }
};

QTEST_MAIN(TestRunSession)
#include "test_run_session.moc"
