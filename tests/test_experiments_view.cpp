// The Experiments view on the committed study (docs/study) and on folders the test writes: every
// expected number is read here from the files themselves (study.csv, metrics.csv), not from the view.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <map>

#include "ui/experiments/experiment_table_model.h"
#include "ui/experiments/experiments_view.h"
#include "ui/experiments/pareto_plot.h"
#include "ui/experiments/run_curves_plot.h"
#include "ui/export/figure_registry.h"

using namespace attnx::ui;

namespace {

QString studyDir() { return QDir::cleanPath(QStringLiteral(ATTNX_FIXTURES_DIR "/../../docs/study")); }

QString readAll(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

void writeFile(const QString& path, const QByteArray& text) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(text);
}

// study.csv split naively: the committed file has no quoted fields (checked), so a plain split is an
// independent reading of it.
struct PlainCsv {
  QStringList header;
  QVector<QStringList> rows;
  QString cell(int row, const char* column) const { return rows[row][header.indexOf(QLatin1String(column))]; }
};

PlainCsv readPlainCsv(const QString& path) {
  PlainCsv csv;
  const QString text = readAll(path);
  if (text.contains(QLatin1Char('"'))) return csv;
  const auto lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  if (lines.isEmpty()) return csv;
  csv.header = lines[0].split(QLatin1Char(','));
  for (int i = 1; i < lines.size(); ++i) csv.rows << lines[i].split(QLatin1Char(','));
  return csv;
}

// (step, val_kl) of every validated row of a metrics.csv, and the first row's coefficients.
struct MetricsTruth {
  QVector<double> steps, validationKl;
  QVector<double> firstAlpha;
};

MetricsTruth readMetrics(const QString& path) {
  MetricsTruth m;
  const auto lines = readAll(path).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  if (lines.isEmpty()) return m;
  const auto header = lines[0].split(QLatin1Char(','));
  const int step = static_cast<int>(header.indexOf(QLatin1String("step")));
  const int val = static_cast<int>(header.indexOf(QLatin1String("val_kl")));
  for (int i = 1; i < lines.size(); ++i) {
    const auto cells = lines[i].split(QLatin1Char(','));
    if (i == 1)
      for (int c = 0; c < header.size(); ++c)
        if (header[c].startsWith(QLatin1String("a.L"))) m.firstAlpha << cells[c].toDouble();
    if (cells[val].isEmpty()) continue;
    m.steps << cells[step].toDouble();
    m.validationKl << cells[val].toDouble();
  }
  return m;
}

bool copyTree(const QString& from, const QString& to) {
  if (!QDir().mkpath(to)) return false;
  QDirIterator it(from, QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    const QString src = it.next();
    const QString dst = to + QLatin1Char('/') + QDir(from).relativeFilePath(src);
    if (it.fileInfo().isDir() ? !QDir().mkpath(dst) : !QFile::copy(src, dst)) return false;
  }
  return true;
}

int sourceRowOfId(const ExperimentsView& view, const QString& id) {
  for (int r = 0; r < view.tableModel()->rowCount(); ++r)
    if (view.tableModel()->row(r).id == id) return r;
  return -1;
}

void selectSourceRows(ExperimentsView& view, const QVector<int>& rows) {
  auto* sel = view.tableView()->selectionModel();
  sel->clearSelection();
  for (int r : rows)
    sel->select(view.sortModel()->mapFromSource(view.tableModel()->index(r, 0)),
                QItemSelectionModel::Select | QItemSelectionModel::Rows);
}

}  // namespace

class TestExperimentsView : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void opensTheCommittedStudy() {
    ExperimentsView view;
    QString error;
    QVERIFY2(view.openFolder(studyDir(), &error), qPrintable(error));
    // Data lines of study.csv, counted from the file.
    const auto lines = readAll(studyDir() + QStringLiteral("/study.csv")).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QVERIFY(lines.size() > 1);
    QCOMPARE(view.rowCount(), static_cast<int>(lines.size() - 1));
    QCOMPARE(view.folder(), QDir(studyDir()).absolutePath());
    // λ₁ and combine of a learned row come from the study (its config or the run's run.json).
    const int learned = sourceRowOfId(view, QStringLiteral("learned/windows-sinks/s0/budget-ft-0.25@512"));
    QVERIFY(learned >= 0);
    QCOMPARE(view.tableModel()->row(learned).lambdaL1, 0.01);
    QCOMPARE(view.tableModel()->row(learned).combine, QStringLiteral("branch-mixture"));
    // A fixed baseline has no λ₁: its cell stays empty rather than invented.
    const int fixed = sourceRowOfId(view, QStringLiteral("baseline/window-sinks/window-64-sinks-4@512"));
    QVERIFY(fixed >= 0);
    QVERIFY(view.tableModel()->data(view.tableModel()->index(fixed, ExperimentTableModel::Lambda)).toString().isEmpty());
    // Every run's curves show from the start: one row of each distinct run (the "run" column of the CSV) is selected.
    const auto header = lines[0].split(QLatin1Char(','));
    const int runColumn = static_cast<int>(header.indexOf(QLatin1String("run")));
    QSet<QString> runs;
    for (int i = 1; i < lines.size(); ++i)
      if (const QString run = lines[i].split(QLatin1Char(','))[runColumn]; !run.isEmpty()) runs.insert(run);
    QCOMPARE(view.selectedRunFolders().size(), static_cast<int>(runs.size()));
  }

  void sortsByKlNumerically() {
    ExperimentsView view;
    QVERIFY(view.openFolder(studyDir()));
    const PlainCsv csv = readPlainCsv(studyDir() + QStringLiteral("/study.csv"));
    QVERIFY(!csv.rows.isEmpty());
    QVector<double> expected;
    for (int r = 0; r < csv.rows.size(); ++r) expected << csv.cell(r, "kl_per_token").toDouble();
    std::sort(expected.begin(), expected.end());
    for (Qt::SortOrder order : {Qt::AscendingOrder, Qt::DescendingOrder}) {
      view.tableView()->sortByColumn(ExperimentTableModel::Kl, order);
      QVector<double> shown;
      for (int p = 0; p < view.sortModel()->rowCount(); ++p)
        shown << view.sortModel()->index(p, ExperimentTableModel::Kl).data(ExperimentTableModel::kSortRole).toDouble();
      if (order == Qt::DescendingOrder) std::reverse(shown.begin(), shown.end());
      QCOMPARE(shown, expected);
    }
  }

  void scatterHasOneSeriesPerKind() {
    ExperimentsView view;
    QVERIFY(view.openFolder(studyDir()));
    const PlainCsv csv = readPlainCsv(studyDir() + QStringLiteral("/study.csv"));
    std::map<QString, int> expected;  // series name -> points with a density and a KL
    for (int r = 0; r < csv.rows.size(); ++r) {
      if (csv.cell(r, "density").isEmpty() || csv.cell(r, "kl_per_token").isEmpty()) continue;
      const QString prefix = csv.cell(r, "kind") == QLatin1String("learned") ? QStringLiteral("learned: ") : QStringLiteral("fixed: ");
      ++expected[prefix + csv.cell(r, "family")];
    }
    QCOMPARE(expected.size(), size_t(5));  // windows-sinks learned; window, block, duo, random fixed
    const auto graphs = view.scatterPlot()->seriesGraphs();
    QCOMPARE(static_cast<size_t>(graphs.size()), expected.size());
    for (QCPGraph* g : graphs) {
      QVERIFY2(expected.count(g->name()), qPrintable(g->name()));
      QCOMPARE(g->dataCount(), expected[g->name()]);
      QVERIFY(view.scatterPlot()->legend->hasItemWithPlottable(g));
    }
    // Series are told apart by colour and by marker.
    for (int i = 0; i < graphs.size(); ++i)
      for (int j = i + 1; j < graphs.size(); ++j) {
        QVERIFY(graphs[i]->scatterStyle().pen().color() != graphs[j]->scatterStyle().pen().color());
        QVERIFY(graphs[i]->scatterStyle().shape() != graphs[j]->scatterStyle().shape());
      }
  }

  void paretoFrontOfAHandMadeStudy() {
    QTemporaryDir tmp;
    // A dominates nothing cheaper; C is beaten by B (cheaper and lower KL); the baseline E would
    // dominate everything but the front is the learned plans'. The quoted variant has a comma.
    writeFile(tmp.filePath(QStringLiteral("study.csv")),
              "id,kind,family,variant,seed,target,n,density,kl_per_token,student_perplexity,top1_agreement,model_ms,run,plan\n"
              "A,learned,bank,budget,0,0.1,64,0.1,0.5,200,0.5,1.0,,\n"
              "B,learned,bank,budget,0,0.2,64,0.2,0.3,150,0.6,1.0,,\n"
              "C,learned,bank,budget,0,0.3,64,0.3,0.4,140,0.6,1.0,,\n"
              "D,learned,bank,budget,0,0.5,64,0.5,0.1,160,0.7,1.0,,\n"
              "E,baseline,window-sinks,\"window 8, 4 sinks\",,,64,0.05,0.05,120,0.8,1.0,,\n"
              "F,learned,bank,budget,0,0.1,128,0.05,0.01,110,0.9,2.0,,\n");
    ExperimentsView view;
    QString error;
    QVERIFY2(view.openFolder(tmp.path(), &error), qPrintable(error));
    QCOMPARE(view.rowCount(), 6);
    // F is measured at another length: it is not compared with the n = 64 points.
    QCOMPARE(view.scatterPlot()->lengths(), (QVector<double>{64, 128}));
    QCOMPARE(view.scatterPlot()->length(), 64.0);
    QCOMPARE(view.tableModel()->row(4).variant, QStringLiteral("window 8, 4 sinks"));
    auto frontIds = [&] {
      QStringList ids;
      for (int r : view.scatterPlot()->frontRows()) ids << view.tableModel()->row(r).id;
      return ids;
    };
    QCOMPARE(frontIds(), (QStringList{QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("D")}));
    QCPGraph* front = view.scatterPlot()->frontGraph();
    QCOMPARE(front->lineStyle(), QCPGraph::lsStepLeft);
    QCOMPARE(front->dataCount(), 3);
    const double x[] = {0.1, 0.2, 0.5}, y[] = {0.5, 0.3, 0.1};
    for (int i = 0; i < 3; ++i) {
      QCOMPARE(front->data()->at(i)->key, x[i]);
      QCOMPARE(front->data()->at(i)->value, y[i]);
    }
    // By perplexity C (140) beats B and D (160) is dominated by C.
    view.scatterPlot()->setMetric(ParetoPlot::Metric::Perplexity);
    QCOMPARE(frontIds(), (QStringList{QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("C")}));
    view.scatterPlot()->setLength(128);
    QCOMPARE(frontIds(), QStringList{QStringLiteral("F")});
    QCOMPARE(view.scatterPlot()->seriesGraphs().size(), 1);
  }

  void clickOnAPointSelectsItsRowAndAsksToOpenTheRun() {
    ExperimentsView view;
    view.resize(1280, 800);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY(view.openFolder(studyDir()));
    ParetoPlot* plot = view.scatterPlot();
    plot->replot();
    const PlainCsv csv = readPlainCsv(studyDir() + QStringLiteral("/study.csv"));
    // A learned point with no other point within the pick radius, so the click is unambiguous.
    int target = -1;
    for (int r = 0; r < view.rowCount() && target < 0; ++r) {
      if (view.tableModel()->row(r).kind != QLatin1String("learned")) continue;
      const QPointF p = plot->pixelOfRow(r);
      bool alone = p.x() >= 0;
      for (int o = 0; o < view.rowCount() && alone; ++o) {
        const QPointF q = plot->pixelOfRow(o);
        if (o != r && q.x() >= 0 && std::hypot(p.x() - q.x(), p.y() - q.y()) <= ParetoPlot::kPickRadiusPx) alone = false;
      }
      if (alone) target = r;
    }
    QVERIFY(target >= 0);
    QSignalSpy spy(&view, &ExperimentsView::openRunRequested);
    QTest::mouseClick(plot, Qt::LeftButton, Qt::NoModifier, plot->pixelOfRow(target).toPoint());
    QCOMPARE(spy.count(), 1);
    // The run column of that row in study.csv, resolved against the study folder.
    int csvRow = -1;
    for (int r = 0; r < csv.rows.size(); ++r)
      if (csv.cell(r, "id") == view.tableModel()->row(target).id) csvRow = r;
    QVERIFY(csvRow >= 0);
    QCOMPARE(spy.at(0).at(0).toString(), QDir::cleanPath(studyDir() + QLatin1Char('/') + csv.cell(csvRow, "run")));
    const auto selected = view.tableView()->selectionModel()->selectedRows();
    QCOMPARE(selected.size(), 1);
    QCOMPARE(view.sortModel()->mapToSource(selected.first()).row(), target);

    // A double-click on a row asks for its run; on a fixed plan without a run it does not.
    spy.clear();
    const QModelIndex learnedCell = view.sortModel()->mapFromSource(view.tableModel()->index(target, 0));
    Q_EMIT view.tableView()->doubleClicked(learnedCell);
    QCOMPARE(spy.count(), 1);
    const int fixed = sourceRowOfId(view, QStringLiteral("baseline/window-sinks/window-64-sinks-4@512"));
    Q_EMIT view.tableView()->doubleClicked(view.sortModel()->mapFromSource(view.tableModel()->index(fixed, 0)));
    QCOMPARE(spy.count(), 1);
  }

  void selectingTwoRunsOverlaysTheirCurves() {
    ExperimentsView view;
    QVERIFY(view.openFolder(studyDir()));
    const int s0 = sourceRowOfId(view, QStringLiteral("learned/windows-sinks/s0/soft@512"));
    const int s1 = sourceRowOfId(view, QStringLiteral("learned/windows-sinks/s1/budget-0.1@512"));
    QVERIFY(s0 >= 0 && s1 >= 0);
    selectSourceRows(view, {s0, s1});
    QCOMPARE(view.selectedRunFolders().size(), 2);
    RunCurvesPlot* kl = view.klCurvesPlot();
    int validationCurves = 0;
    for (int i = 0; i < kl->graphCount(); ++i)
      if (kl->graph(i)->name().endsWith(QLatin1String("validation KL"))) ++validationCurves;
    QCOMPARE(validationCurves, 2);
    for (const QString& run : {QStringLiteral("windows-sinks-s0"), QStringLiteral("windows-sinks-s1")}) {
      const MetricsTruth truth = readMetrics(studyDir() + QStringLiteral("/runs/") + run + QStringLiteral("/metrics.csv"));
      QVERIFY(!truth.steps.isEmpty());
      QCPGraph* g = kl->graphNamed(RunCurvesPlot::validationName(run));
      QVERIFY2(g, qPrintable(run));
      QVERIFY(g->name().contains(run));
      QCOMPARE(g->dataCount(), static_cast<int>(truth.steps.size()));
      for (int i = 0; i < g->dataCount(); ++i) {
        QCOMPARE(g->data()->at(i)->key, truth.steps[i]);
        QCOMPARE(g->data()->at(i)->value, truth.validationKl[i]);
      }
      QVERIFY(kl->graphNamed(RunCurvesPlot::trainingName(run)));
      // Mean |α| of the first step, from the coefficient columns (written with 6 significant digits).
      QCPGraph* a = view.alphaCurvesPlot()->graphNamed(view.alphaCurvesPlot()->alphaName(run));
      QVERIFY2(a, qPrintable(run));
      double sum = 0;
      for (double v : truth.firstAlpha) sum += std::abs(v);
      QVERIFY(std::abs(a->data()->at(0)->value - sum / truth.firstAlpha.size()) < 1e-6);
    }
    // Distinct colours per run.
    QVERIFY(kl->graphNamed(RunCurvesPlot::validationName(QStringLiteral("windows-sinks-s0")))->pen().color() !=
            kl->graphNamed(RunCurvesPlot::validationName(QStringLiteral("windows-sinks-s1")))->pen().color());
  }

  void corruptStudyCsvIsNamed() {
    QTemporaryDir tmp;
    writeFile(tmp.filePath(QStringLiteral("study.csv")),
              "id,kind,family,variant,seed,target,n,density,kl_per_token\nA,learned,bank,budget,0\n");
    ExperimentsView view;
    QVERIFY(view.openFolder(studyDir()));
    const int before = view.rowCount();
    QString error;
    QVERIFY(!view.openFolder(tmp.path(), &error));
    QVERIFY2(error.contains(QLatin1String("study.csv")), qPrintable(error));
    QVERIFY2(view.statusText().contains(QLatin1String("study.csv")), qPrintable(view.statusText()));
    // The view keeps what it showed.
    QCOMPARE(view.rowCount(), before);
    QCOMPARE(view.folder(), QDir(studyDir()).absolutePath());

    // Beside a good study.json the study opens from the JSON and the bad CSV is reported.
    QTemporaryDir both;
    QVERIFY(QFile::copy(studyDir() + QStringLiteral("/study.json"), both.filePath(QStringLiteral("study.json"))));
    writeFile(both.filePath(QStringLiteral("study.csv")), "id,kind\n\"unterminated\n");
    QVERIFY(view.openFolder(both.path(), &error));
    QCOMPARE(view.rowCount(), before);
    QVERIFY2(view.statusText().contains(QLatin1String("study.csv")), qPrintable(view.statusText()));
    // Its runs/ folder was not copied: the status says so and no row offers a run to open.
    QVERIFY2(view.statusText().contains(QLatin1String("runs/windows-sinks-s0")), qPrintable(view.statusText()));
    for (int r = 0; r < view.rowCount(); ++r) QVERIFY(view.tableModel()->row(r).runFolder.isEmpty());

    // Neither a study nor runs.
    QTemporaryDir empty;
    QVERIFY(!view.openFolder(empty.path(), &error));
    QVERIFY(error.contains(empty.path()));
  }

  void opensAPlainFolderOfRuns() {
    QTemporaryDir tmp;
    for (const char* run : {"windows-sinks-s0", "duo-s0"})
      QVERIFY(copyTree(studyDir() + QStringLiteral("/runs/") + QLatin1String(run), tmp.filePath(QLatin1String(run))));
    // A run that has not logged a step: no metrics.csv. It is listed, its KL empty, the file named.
    QVERIFY(QDir().mkpath(tmp.filePath(QStringLiteral("fresh"))));
    QVERIFY(QFile::copy(studyDir() + QStringLiteral("/runs/duo-s0/run.json"), tmp.filePath(QStringLiteral("fresh/run.json"))));
    ExperimentsView view;
    QString error;
    QVERIFY2(view.openFolder(tmp.path(), &error), qPrintable(error));
    QCOMPARE(view.rowCount(), 3);
    QVERIFY2(view.statusText().contains(QStringLiteral("fresh/metrics.csv")), qPrintable(view.statusText()));
    for (const char* run : {"windows-sinks-s0", "duo-s0"}) {
      const int r = sourceRowOfId(view, QLatin1String(run));
      QVERIFY(r >= 0);
      const MetricsTruth truth = readMetrics(tmp.filePath(QLatin1String(run)) + QStringLiteral("/metrics.csv"));
      QCOMPARE(view.tableModel()->row(r).klPerToken, truth.validationKl.last());
      QCOMPARE(view.tableModel()->row(r).runFolder, QDir(tmp.filePath(QLatin1String(run))).absolutePath());
    }
    QVERIFY(qIsNaN(view.tableModel()->row(sourceRowOfId(view, QStringLiteral("fresh"))).klPerToken));
    // Selecting the run without metrics.csv says so instead of drawing nothing silently.
    selectSourceRows(view, {sourceRowOfId(view, QStringLiteral("fresh"))});
    QVERIFY2(view.statusText().contains(QStringLiteral("metrics.csv")), qPrintable(view.statusText()));

    // One run folder on its own.
    QVERIFY(view.openFolder(tmp.filePath(QStringLiteral("duo-s0")), &error));
    QCOMPARE(view.rowCount(), 1);
  }

  void registersItsFigures() {
    ExperimentsView view;
    FigureRegistry registry;
    view.registerFigures(registry);
    QVERIFY(registry.find(QStringLiteral("experiments-pareto")));
    QCOMPARE(registry.find(QStringLiteral("experiments-pareto"))->widget.data(), static_cast<QWidget*>(view.scatterPlot()));
    QVERIFY(registry.find(QStringLiteral("experiments-kl-curves")));
    QVERIFY(registry.find(QStringLiteral("experiments-alpha-curves")));
  }

  // ATTNX_EXPERIMENTS_SCREENSHOT=/tmp/experiments.png saves the view at 1280×700 (and a 1600×1000
  // twin) with two runs selected, to look at the layout.
  void screenshotWhenAsked() {
    const QString path = qEnvironmentVariable("ATTNX_EXPERIMENTS_SCREENSHOT");
    if (path.isEmpty()) QSKIP("set ATTNX_EXPERIMENTS_SCREENSHOT to save a screenshot");
    for (const QSize size : {QSize(1280, 700), QSize(1600, 1000)}) {
      ExperimentsView view;
      view.resize(size);
      view.show();
      QVERIFY(QTest::qWaitForWindowExposed(&view));
      QVERIFY(view.openFolder(studyDir()));
      selectSourceRows(view, {sourceRowOfId(view, QStringLiteral("learned/windows-sinks/s0/budget-ft-0.25@512")),
                              sourceRowOfId(view, QStringLiteral("learned/windows-sinks/s1/budget-ft-0.25@512")),
                              sourceRowOfId(view, QStringLiteral("baseline/duo/s0-0.25@512"))});
      QTest::qWait(50);
      QString out = path;
      if (size.width() != 1280) out.replace(QLatin1String(".png"), QStringLiteral("-%1.png").arg(size.width()));
      QVERIFY(view.grab().save(out));
      if (size.width() != 1280) continue;
      // The other measure on a log axis, at the small size.
      view.scatterPlot()->setMetric(ParetoPlot::Metric::Perplexity, false);
      view.scatterPlot()->setLogY(true);
      view.klCurvesPlot()->setLogY(true);
      QVERIFY(view.grab().save(QString(out).replace(QLatin1String(".png"), QLatin1String("-perplexity-log.png"))));
    }
  }
};

QTEST_MAIN(TestExperimentsView)
#include "test_experiments_view.moc"
