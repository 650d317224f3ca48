// The Completions view on a small distillation run (offscreen): the teacher's streamed tokens are
// exactly what `attnx-cli generate` gives for the same seed and settings, divergence marks follow
// the token ids, hover text holds the KL and both top-5 lists, cancel stops, errors are shown.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "tests/support/tiny_run_session.h"
#include "ui/bridge/analysis_session.h"
#include "ui/completions/completions_view.h"
#include "ui/completions/token_text_view.h"

using namespace attnx::ui;

namespace {
const QString kPrompt = QStringLiteral("The garden was quiet when the priest");
}

class TestCompletionsView : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::shared_ptr<AnalysisSession> session_;

  std::vector<int> cliTeacherTokens(quint64 seed, int tokens) {
    const auto r = attnx::test::runCli({"generate", "--model", tmp_.path() + QStringLiteral("/teacher/model"), "--prompt", kPrompt,
                                        "--max-new-tokens", QString::number(tokens), "--temperature", "1", "--top-k", "40",
                                        "--top-p", "1", "--repetition-penalty", "1.25", "--seed", QString::number(seed), "--json"});
    if (r.code != 0) qWarning("%s", qPrintable(r.err));
    const auto j = nlohmann::json::parse(r.out.toStdString());
    return j["ids"].get<std::vector<int>>();
  }

 private Q_SLOTS:
  void initTestCase() {
    const QString problem = attnx::test::loadTinyRunSession(tmp_.path(), &session_);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
  }

  void teacherAndStudentSideBySide() {
    CompletionsView view;
    view.resize(1200, 700);
    view.setSession(session_);
    view.setPrompt(kPrompt);
    SamplingOptions s;
    s.greedy = false;
    s.temperature = 1.0;
    s.topK = 40;
    s.topP = 1.0;
    s.repetitionPenalty = 1.25;  // reaches the generator: the CLI below is given the same
    s.seed = 11;
    s.maxNewTokens = 8;
    view.setSampling(s);
    view.setSamples(2);
    QSignalSpy tokens(&view, &CompletionsView::tokenAdded);
    QSignalSpy finished(&view, &CompletionsView::finished);
    view.start();
    QVERIFY(view.isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(view.sampleCount(), 2);
    int expectedSignals = 0;
    for (int sample = 0; sample < 2; ++sample) {
      // Sample k uses seed + k; the teacher's continuation is attnx-cli generate's for that seed.
      const auto teacher = view.tokens(sample, false);
      const auto student = view.tokens(sample, true);
      QCOMPARE(teacher, cliTeacherTokens(11 + sample, 8));
      QVERIFY(!student.empty());
      expectedSignals += static_cast<int>(teacher.size() + student.size());
      TokenTextView* t = view.teacherText(sample);
      TokenTextView* st = view.studentText(sample);
      QCOMPARE(t->tokenCount(), static_cast<int>(teacher.size()));
      // The split is the first differing position; before it nothing is marked, after it the
      // tokens are set apart, not compared position by position.
      size_t split = std::min(teacher.size(), student.size());
      for (size_t i = 0; i < split; ++i)
        if (teacher[i] != student[i]) split = i;
      for (size_t i = 0; i < student.size(); ++i) {
        const QString tip = st->tokenToolTip(static_cast<int>(i));
        QCOMPARE(tip.contains(QStringLiteral("split here")), i == split && split < teacher.size());
        QCOMPARE(tip.contains(QStringLiteral("after the split")), i > split && split < teacher.size());
      }
      const QString tip = st->tokenToolTip(0);
      QVERIFY2(tip.contains(QStringLiteral("KL(teacher")) && tip.contains(QStringLiteral("teacher")) && tip.contains(QStringLiteral("student")),
               qPrintable(tip));
    }
    QCOMPARE(tokens.count(), expectedSignals);  // streamed: one signal per token
  }

  // compare(): one entry per new token, KL >= 0, five candidates each, sorted, summing to at most 1.
  void comparisonsAreDistributions() {
    const auto prompt = session_->encode(kPrompt).ids;
    const auto completion = session_->generate(prompt, nullptr, SamplingOptions{}, {});
    QVERIFY(!completion.empty());
    const auto cmp = session_->compare(prompt, completion, StudentKind::Soft);
    QCOMPARE(cmp.size(), completion.size());
    for (const auto& c : cmp) {
      QVERIFY(c.kl >= -1e-9);
      QCOMPARE(c.teacherTop.size(), size_t(5));
      QCOMPARE(c.studentTop.size(), size_t(5));
      double sum = 0;
      for (size_t k = 0; k < 5; ++k) {
        sum += c.teacherTop[k].probability;
        if (k > 0) QVERIFY(c.teacherTop[k].probability <= c.teacherTop[k - 1].probability);
      }
      QVERIFY(sum <= 1 + 1e-9);
    }
  }

  // The pruned student the desktop shows for a run is the one attnx-cli runs for the same folder
  // (RunArtifacts::defaultPlan: here no plan.json, so the learned alpha at threshold 0.05): the
  // same description and the same density.
  void prunedStudentIsTheClis() {
    const auto r = attnx::test::runCli({"eval", "--run", tmp_.path() + QStringLiteral("/run"), "--data",
                                        attnx::test::tinyRunText(), "--windows", "2", "--seq-len", "32", "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(session_->summary().prunedDescription.toStdString(), j["plan_from"].get<std::string>());
    QVERIFY(session_->summary().prunedDescription.startsWith(QStringLiteral("no plan.json")));
    QCOMPARE(session_->analyticCost(32).prunedDensity, j["pruned_density"].get<double>());
  }

  // Greedy: one sample (three would be identical), the sampling controls off; the summary says where
  // the texts split (the first differing token, found here from the ids) and the mean KL.
  void greedyGivesOneSampleAndASummary() {
    CompletionsView view;
    view.setSession(session_);
    view.setPrompt(kPrompt);
    view.setSamples(3);
    SamplingOptions s;
    s.greedy = true;
    s.maxNewTokens = 8;
    view.setSampling(s);
    QSignalSpy finished(&view, &CompletionsView::finished);
    view.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    QCOMPARE(view.sampleCount(), 1);
    const auto& t = view.tokens(0, false);
    const auto& st = view.tokens(0, true);
    size_t agree = 0;
    while (agree < std::min(t.size(), st.size()) && t[agree] == st[agree]) ++agree;
    const QString expected = agree == std::min(t.size(), st.size()) ? QStringLiteral("all %1").arg(agree) : QString::number(agree);
    QVERIFY2(view.statusText().contains(QStringLiteral("agree on the first %1 token").arg(expected)), qPrintable(view.statusText()));
    QVERIFY(view.statusText().contains(QStringLiteral("mean KL")));
  }

  void cancelStops() {
    CompletionsView view;
    view.setSession(session_);
    view.setPrompt(kPrompt);
    view.setSamples(16);
    view.setMaxNewTokens(30);
    QSignalSpy finished(&view, &CompletionsView::finished);
    view.start();
    view.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QVERIFY(view.statusText().contains(QStringLiteral("Stopped")));
  }

  void emptyPromptAndNoRun() {
    CompletionsView view;
    QSignalSpy failed(&view, &CompletionsView::failed);
    view.start();
    QCOMPARE(failed.count(), 1);
    QVERIFY(view.statusText().contains(QStringLiteral("No run")));
    view.setSession(session_);
    view.setPrompt(QString());
    view.start();
    QCOMPARE(failed.count(), 2);
    QVERIFY(view.statusText().contains(QStringLiteral("empty")));
  }

  // A prompt longer than the context keeps its end and leaves room for the new tokens.
  void longPromptLeavesRoom() {
    CompletionsView view;
    view.setSession(session_);
    QString text;
    for (int i = 0; i < 40; ++i) text += QStringLiteral("the garden wall ");
    view.setPrompt(text);
    view.setSamples(1);
    view.setMaxNewTokens(10);
    QSignalSpy finished(&view, &CompletionsView::finished);
    view.start();
    QVERIFY2(view.statusText().contains(QStringLiteral("last 54 tokens")), qPrintable(view.statusText()));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QVERIFY(view.tokens(0, false).size() <= 10);
  }
};

QTEST_MAIN(TestCompletionsView)
#include "test_completions_view.moc"
