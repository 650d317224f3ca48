// The Memory & speed view: analytic attention cost against the formula written out here, forward
// memory gauges, the bench JSON parser and progress lines, and the benchmark panel driving a
// stand-in attnx-cli (a shell script printing progress and a result, or hanging until cancelled).
#include <algorithm>

#include <QFile>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include "tests/support/tiny_run_session.h"
#include "ui/bridge/analysis_session.h"
#include "ui/memory/bench_panel.h"
#include "ui/memory/bench_results.h"
#include "ui/memory/memory_gauge.h"
#include "ui/memory/memory_view.h"
#include "ui/export/figure_exporter.h"
#include "ui/plots/qcp.h"

using namespace attnx::ui;

namespace {

const char* kBenchJson = R"({"kind":"attention-only","machine":{"cpu":"test"},"threads":2,"kernel_threads":2,"results":[
 {"plan":"dense","n":256,"time_ms":2.0,"peak_bytes":1048576,"flops":1e8,"gflops":50,"density":1,"skipped":false,"note":""},
 {"plan":"dense","n":128,"time_ms":0.5,"peak_bytes":262144,"flops":2.5e7,"gflops":50,"density":1,"skipped":false,"note":""},
 {"plan":"local-sinks","n":128,"time_ms":0.25,"peak_bytes":131072,"flops":5e6,"gflops":20,"density":0.2,"skipped":false,"note":""},
 {"plan":"local-sinks","n":256,"time_ms":0.5,"peak_bytes":262144,"flops":1e7,"gflops":20,"density":0.1,"skipped":false,"note":""},
 {"plan":"local-sinks","n":4096,"skipped":true,"note":"out of memory"}]})";

QString writeScript(const QString& path, const QString& body) {
  QFile f(path);
  f.open(QIODevice::WriteOnly);
  f.write(("#!/bin/sh\n" + body).toUtf8());
  f.close();
  f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  return path;
}

}  // namespace

class TestMemoryView : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::shared_ptr<AnalysisSession> session_;

 private Q_SLOTS:
  void initTestCase() {
    const QString problem = attnx::test::loadTinyRunSession(tmp_.path(), &session_);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
  }

  // Dense causal attention: L * H * n(n+1)/2 pairs, 4d FLOPs each; L=2, H=4, d=8.
  void analyticCostTable() {
    MemoryView view;
    view.setSession(session_);
    view.setLength(32);
    const double dense = 2.0 * 4 * (32.0 * 33 / 2) * 4 * 8;
    // The table shows four significant digits.
    auto near = [](double shown, double exact) { return std::fabs(shown - exact) <= 1e-3 * exact; };
    QVERIFY(near(view.costTable()->item(0, 1)->text().toDouble(), dense / 1e9));
    QVERIFY(near(view.costTable()->item(0, 2)->text().toDouble(), 2.0 * 4 * 32 * 32 * 4 / (1024.0 * 1024.0)));
    const auto c = session_->analyticCost(32);
    QCOMPARE(c.denseFlops, dense);
    QVERIFY(c.prunedFlops <= c.softFlops);
    QVERIFY(c.softFlops <= c.denseFlops);
    QCOMPARE(view.costPlot()->graphCount(), 3);
    // Curves at 16, 32 and the context 64.
    QCOMPARE(view.costPlot()->graph(0)->dataCount(), 3);
    QCOMPARE(view.costPlot()->graph(0)->data()->at(2)->value, 2.0 * 4 * (64.0 * 65 / 2) * 4 * 8);
  }

  void measuringFillsTheGauges() {
    MemoryView view;
    view.setSession(session_);
    view.setLength(64);
    QSignalSpy measured(&view, &MemoryView::measured);
    view.measure();
    QTRY_COMPARE_WITH_TIMEOUT(measured.count(), 1, 60000);
    const qint64 weights = session_->summary().teacherParameterBytes;
    QCOMPARE(view.teacherGauge()->currentBytes(), weights);
    QVERIFY(view.teacherGauge()->peakBytes() >= weights);
    QVERIFY(view.studentGauge()->currentBytes() > weights);
    // The forward's own tensors include at least its fp32 logits, (64, vocab): a lower bound computed
    // from the shapes alone. (The peak over the weights is what the tracking allocator counted.)
    const qint64 logits = 64LL * session_->summary().vocab * 4;
    QVERIFY2(view.teacherGauge()->peakBytes() - weights >= logits,
             qPrintable(QStringLiteral("%1 < %2").arg(view.teacherGauge()->peakBytes() - weights).arg(logits)));
    QVERIFY(view.studentGauge()->peakBytes() - view.studentGauge()->currentBytes() >= logits);
    // Teacher and student are two forwards, each gauge showing its own: the peaks over the weights
    // are what the session measures for the teacher and for the soft student, measured again here.
    const StudentKind soft = StudentKind::Soft;
    const auto teacher = session_->measureForward(nullptr, 64), student = session_->measureForward(&soft, 64);
    QCOMPARE(view.teacherGauge()->peakBytes() - weights, qint64(teacher.tensorPeakBytes));
    // (The student's first forward also builds its cached masks: a few KiB more than a later one.)
    const qint64 studentShown = view.studentGauge()->peakBytes() - view.studentGauge()->currentBytes();
    QVERIFY2(std::llabs(studentShown - student.tensorPeakBytes) <= student.tensorPeakBytes / 100,
             qPrintable(QStringLiteral("%1 against %2").arg(studentShown).arg(student.tensorPeakBytes)));
    // At n = 64 both peaks are the fp32 logits, 64 × vocab × 4 bytes (+ a little): equal, and the
    // student's gauge says why instead of leaving two identical bars unexplained.
    QVERIFY2(teacher.tensorPeakBytes < logits * 101 / 100, qPrintable(QString::number(teacher.tensorPeakBytes)));
    QVERIFY2(view.studentGauge()->toolTip().contains(QStringLiteral("the logits")), qPrintable(view.studentGauge()->toolTip()));
    QVERIFY(view.teacherGauge()->toolTip().contains(QStringLiteral("teacher forward of 64 tokens")));
  }

  // The run's own plan beside the fixed ones: the session's run folder goes to attnx-cli bench
  // --attention-only --run, and the real CLI's report has a "learned:run" curve; plans with equal
  // peak memory say so in the legend.
  void benchmarksTheRunsPlan() {
    MemoryView view;
    view.setSession(session_);
    const QString run = tmp_.path() + QStringLiteral("/run");
    QCOMPARE(view.runFolder(), run);
    QCOMPARE(view.benchPanel()->arguments().mid(view.benchPanel()->arguments().size() - 2), (QStringList{QStringLiteral("--run"), run}));
    BenchPanel* panel = view.benchPanel();
    panel->setProgram(QStringLiteral(ATTNX_CLI_PATH));
    panel->setSequenceLengths(QStringLiteral("64,128"));
    QSignalSpy finished(panel, &BenchPanel::finished);
    panel->start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(panel->statusText()));
    QVERIFY2(panel->report().plans().contains(QStringLiteral("learned:run")), qPrintable(panel->report().plans().join(QLatin1Char(' '))));
    const BenchReport report = panel->report();
    const QStringList plans = report.plans();
    QCOMPARE(panel->memoryPlot()->graphCount(), plans.size());
    // Two plans whose peak memory is the same at every n (the fixed plans often are): the later
    // one's legend entry names the earlier, worked out here from the report's rows.
    int coinciding = 0;
    for (int i = 0; i < plans.size(); ++i) {
      QString earlier;
      for (int j = 0; j < i && earlier.isEmpty(); ++j) {
        const auto a = report.rowsOf(plans[j]), b = report.rowsOf(plans[i]);
        bool same = a.size() == b.size();
        for (int k = 0; same && k < a.size(); ++k) same = a[k].n == b[k].n && a[k].peakBytes == b[k].peakBytes;
        if (same) earlier = plans[j];
      }
      const QString name = panel->memoryPlot()->graph(i)->name();
      QCOMPARE(name, earlier.isEmpty() ? plans[i] : QStringLiteral("%1 (same as %2)").arg(plans[i], earlier));
      coinciding += earlier.isEmpty() ? 0 : 1;
    }
    qInfo("%d of %d plans coincide in peak memory with an earlier one", coinciding, int(plans.size()));
    QVERIFY(exportFigure(panel->memoryPlot(), QStringLiteral("/tmp/attnx-bench-memory.png"), FigureFormat::Png, {QSize(900, 600), 96}).isEmpty());
  }

  // A pruning rule chosen in the Attention view reaches the benchmark as the same --prune-* option.
  void benchmarksTheRuleTheViewsUse() {
    auto pruned = std::make_shared<AnalysisSession>();
    const QString run = tmp_.path() + QStringLiteral("/run");
    QVERIFY(pruned->loadRun(run, {}, session_->core()->teacher(), attnx::PruningRule::topKRule(1)).isEmpty());
    MemoryView view;
    view.setSession(pruned);
    const QStringList args = view.benchPanel()->arguments();
    QCOMPARE(args.mid(args.size() - 4), (QStringList{QStringLiteral("--run"), run, QStringLiteral("--prune-top-k"), QStringLiteral("1")}));
  }

  void parsesBenchOutput() {
    const auto r = parseBenchReport(kBenchJson);
    QCOMPARE(r.threads, 2);
    QCOMPARE(r.rows.size(), 5);
    QCOMPARE(r.plans(), (QStringList{"dense", "local-sinks"}));
    const auto dense = r.rowsOf(QStringLiteral("dense"));
    QCOMPARE(dense.size(), 2);
    QCOMPARE(dense[0].n, 128);  // sorted by n
    QCOMPARE(dense[1].peakBytes, 1048576.0);
    QCOMPARE(r.rowsOf(QStringLiteral("local-sinks")).size(), 2);  // the skipped row is left out
    QVERIFY(r.rows[4].skipped);
    QCOMPARE(r.rows[4].note, QStringLiteral("out of memory"));
  }

  void rejectsBadBenchOutput_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("not json") << QByteArray("bench: oops") << "not JSON";
    QTest::newRow("wrong kind") << QByteArray(R"({"kind":"model","results":[]})") << "expected \"attention-only\"";
    QTest::newRow("no results") << QByteArray(R"({"kind":"attention-only"})") << "no \"results\"";
    QTest::newRow("no plan") << QByteArray(R"({"kind":"attention-only","results":[{"n":1}]})") << "result 0: no \"plan\"";
    QTest::newRow("bad n") << QByteArray(R"({"kind":"attention-only","results":[{"plan":"dense","n":0}]})") << "\"n\"";
    QTest::newRow("negative time") << QByteArray(R"({"kind":"attention-only","results":[{"plan":"d","n":8,"time_ms":-1}]})") << "time_ms";
  }
  void rejectsBadBenchOutput() {
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    QString error;
    try {
      parseBenchReport(json);
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    QVERIFY2(error.contains(message), qPrintable(error));
  }

  void parsesProgressLines() {
    const auto p = parseBenchProgress(QStringLiteral("bench: [3/12] local-sinks n=1024"));
    QVERIFY(p);
    QCOMPARE(p->index, 3);
    QCOMPARE(p->total, 12);
    QCOMPARE(p->plan, QStringLiteral("local-sinks"));
    QCOMPARE(p->n, 1024);
    QVERIFY(!parseBenchProgress(QStringLiteral("bench: warming up")));
    QVERIFY(!parseBenchProgress(QStringLiteral("[3/12] dense n=1")));
  }

  void panelRunsTheBenchmark() {
    QFile json(tmp_.path() + QStringLiteral("/bench.json"));
    QVERIFY(json.open(QIODevice::WriteOnly));
    json.write(kBenchJson);
    json.close();
    const QString script = writeScript(tmp_.path() + QStringLiteral("/fake-cli.sh"),
                                       QStringLiteral("echo \"$@\" > '%1/args.txt'\n"
                                                      "echo 'bench: [1/2] dense n=128' >&2\n"
                                                      "echo 'bench: [2/2] local-sinks n=128' >&2\n"
                                                      "cat '%1/bench.json'\n").arg(tmp_.path()));
    BenchPanel panel;
    panel.setProgram(script);
    panel.setSequenceLengths(QStringLiteral("128, 256"));
    const QString cores = QString::number(std::max(1, QThread::idealThreadCount()));
    QCOMPARE(panel.arguments(), (QStringList{"bench", "--attention-only", "--seq", "128,256", "--sparse-threads", cores, "--json"}));
    QSignalSpy progress(&panel, &BenchPanel::progress);
    QSignalSpy finished(&panel, &BenchPanel::finished);
    panel.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QCOMPARE(progress.count(), 2);
    QCOMPARE(progress.at(1).at(0).toInt(), 2);
    QCOMPARE(progress.at(1).at(1).toInt(), 2);
    QFile args(tmp_.path() + QStringLiteral("/args.txt"));
    QVERIFY(args.open(QIODevice::ReadOnly));
    QCOMPARE(args.readAll().trimmed(), ("bench --attention-only --seq 128,256 --sparse-threads " + cores + " --json").toUtf8());
    QVERIFY2(panel.statusText().contains(QStringLiteral("kernels on 2 thread(s), dense on 2")), qPrintable(panel.statusText()));
    // One graph per plan in each plot, points sorted by n, memory in MiB.
    QCOMPARE(panel.timePlot()->graphCount(), 2);
    QCOMPARE(panel.timePlot()->graph(0)->name(), QStringLiteral("dense"));
    QCOMPARE(panel.timePlot()->graph(0)->dataCount(), 2);
    QCOMPARE(panel.timePlot()->graph(0)->data()->at(0)->key, 128.0);
    QCOMPARE(panel.timePlot()->graph(0)->data()->at(0)->value, 0.5);
    QCOMPARE(panel.memoryPlot()->graph(0)->data()->at(1)->value, 1.0);
    QCOMPARE(panel.memoryPlot()->graph(1)->data()->at(0)->value, 0.125);
  }

  void panelCancelsAndReportsFailures() {
    const QString hang = writeScript(tmp_.path() + QStringLiteral("/hang.sh"),
                                     QStringLiteral("echo 'bench: [1/5] dense n=128' >&2\nexec sleep 60\n"));
    BenchPanel panel;
    panel.setProgram(hang);
    QSignalSpy progress(&panel, &BenchPanel::progress);
    QSignalSpy finished(&panel, &BenchPanel::finished);
    panel.start();
    QTRY_COMPARE_WITH_TIMEOUT(progress.count(), 1, 30000);
    QVERIFY(panel.isRunning());
    panel.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY(panel.statusText().contains(QStringLiteral("cancelled")));

    const QString fail = writeScript(tmp_.path() + QStringLiteral("/fail.sh"),
                                     QStringLiteral("echo 'attnx-cli bench: unknown plan' >&2\nexit 1\n"));
    panel.setProgram(fail);
    panel.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 30000);
    QVERIFY2(panel.statusText().contains(QStringLiteral("unknown plan")), qPrintable(panel.statusText()));

    panel.setProgram(tmp_.path() + QStringLiteral("/no-such-program"));
    panel.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, 30000);
    QVERIFY2(panel.statusText().contains(QStringLiteral("Could not start")), qPrintable(panel.statusText()));
  }
};

QTEST_MAIN(TestMemoryView)
#include "test_memory_view.moc"
