// The live plots: 100k points per curve arrive intact and replot; EMA smoothing against hand-computed
// values; threshold crossings where a hand calculation puts them; filters; the heat grid's cells;
// a user's zoom survives streaming; CSV series carry the legend's names (raw and smoothed apart) with
// the values fed in; titles; log-axis tick labels unique and of one format.
#include <QSet>
#include <QtTest>
#include <cmath>
#include <map>

#include "ui/export/figure_exporter.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/log_ticker.h"

#include "ui/plots/coefficient_grid.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/ema_smoother.h"
#include "ui/plots/loss_plot.h"

using namespace attnx::ui;

namespace {

// A value no formula in the plots could produce by accident: a fixed pseudo-random sequence.
double wiggle(int i, int curve) { return 1.0 + 0.5 * std::sin(0.001 * i + curve) + 1e-3 * ((i * 7919 + curve) % 101); }

TrainingSamples samples(int from, int count, int alphaCount) {
  TrainingSamples out;
  for (int i = from; i < from + count; ++i) {
    TrainingSample s;
    s.step = i + 1;
    s.kl = wiggle(i, 0);
    s.l1 = wiggle(i, 1);
    s.loss = wiggle(i, 2);
    s.validationKl = (i + 1) % 1000 == 0 ? wiggle(i, 3) : -1;
    for (int a = 0; a < alphaCount; ++a) s.alpha.push_back(float(wiggle(i, 10 + a)));
    out.push_back(std::move(s));
  }
  return out;
}

TrainingShape shape(int layers, int heads, QStringList masks) {
  TrainingShape s;
  s.layers = layers;
  s.heads = heads;
  s.maskNames = std::move(masks);
  return s;
}

// visibleCsv's rows, by series, in order.
std::map<QString, QVector<QPointF>> csvSeries(const QByteArray& csv) {
  std::map<QString, QVector<QPointF>> out;
  const QStringList lines = QString::fromUtf8(csv).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  for (int i = 1; i < lines.size(); ++i) {
    const int end = lines[i].lastIndexOf(QLatin1Char(','), lines[i].lastIndexOf(QLatin1Char(',')) - 1);
    const QStringList xy = lines[i].mid(end + 1).split(QLatin1Char(','));
    QString name = lines[i].left(end);
    name = name.mid(1, name.size() - 2).replace(QStringLiteral("\"\""), QStringLiteral("\""));
    out[name].push_back(QPointF(xy[0].toDouble(), xy[1].toDouble()));
  }
  return out;
}

// The legend's entries, as drawn.
QStringList legendNames(QCustomPlot* plot) {
  QStringList names;
  for (int i = 0; i < plot->legend->itemCount(); ++i)
    if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot->legend->item(i))) names << item->plottable()->name();
  return names;
}

// The labels an axis draws after a replot over `range`.
QVector<QString> tickLabels(QCustomPlot& plot, const QCPRange& range) {
  plot.yAxis->setRange(range);
  plot.replot();
  return plot.yAxis->tickVectorLabels();
}

}  // namespace

class TestUiPlots : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void emaMatchesHandComputedValues() {
    // w = 0.5: s1 = x1; s2 = (0.25·x1 + 0.5·x2) / 0.75; s3 = (0.125·x1 + 0.25·x2 + 0.5·x3) / 0.875.
    const auto s = EmaSmoother::smooth({2.0, 4.0, 8.0}, 0.5);
    QCOMPARE(s[0], 2.0);
    QCOMPARE(s[1], (0.25 * 2 + 0.5 * 4) / 0.75);
    QCOMPARE(s[2], (0.125 * 2 + 0.25 * 4 + 0.5 * 8) / 0.875);
    QCOMPARE(EmaSmoother::smooth({3.0, 5.0}, 0.0)[1], 5.0);
  }

  void lossPlotKeepsHundredThousandPointsPerCurve() {
    LossPlot plot;
    plot.resize(800, 500);
    plot.setSmoothing(0.5);
    constexpr int kPoints = 100000;
    // Streamed in batches, as the controller delivers them.
    for (int from = 0; from < kPoints; from += 5000) plot.addSamples(samples(from, 5000, 0));
    QCOMPARE(plot.pointCount(LossPlot::Kl), kPoints);
    QCOMPARE(plot.pointCount(LossPlot::Total), kPoints);
    QCOMPARE(plot.pointCount(LossPlot::Validation), kPoints / 1000);
    for (int i : {0, 1, 4999, 5000, 77777, kPoints - 1}) {
      const auto it = plot.rawGraph(LossPlot::Kl)->data()->at(i);
      QCOMPARE(it->key, double(i + 1));
      QCOMPARE(it->value, wiggle(i, 0));
      QCOMPARE(plot.rawGraph(LossPlot::L1)->data()->at(i)->value, wiggle(i, 1));
    }
    // The smoothed curve starts as the hand-computed EMA.
    const double x0 = wiggle(0, 0), x1 = wiggle(1, 0);
    QCOMPARE(plot.smoothGraph(LossPlot::Kl)->data()->at(1)->value, (0.25 * x0 + 0.5 * x1) / 0.75);
    QVERIFY(plot.replotPending());
    plot.replotNow();
    QVERIFY(!plot.replotPending());
    QCOMPARE(plot.xAxis->range().upper, double(kPoints));  // following the newest data
    plot.setLogScale(true);
    plot.replotNow();
    QCOMPARE(plot.yAxis->scaleType(), QCPAxis::stLogarithmic);
  }

  void aUsersZoomSurvivesStreaming() {
    LossPlot plot;
    plot.resize(600, 400);
    plot.addSamples(samples(0, 100, 0));
    plot.replotNow();
    plot.setFollowLatest(false);  // what a drag or wheel does
    plot.xAxis->setRange(10, 20);
    plot.addSamples(samples(100, 100, 0));
    plot.replotNow();
    QCOMPARE(plot.xAxis->range().lower, 10.0);
    QCOMPARE(plot.xAxis->range().upper, 20.0);
    plot.setFollowLatest(true);
    plot.replotNow();
    QCOMPARE(plot.xAxis->range().upper, 200.0);
  }

  void coefficientPlotStoresEveryCurveAndFilters() {
    CoefficientPlot plot;
    plot.resize(800, 500);
    plot.setShape(shape(2, 3, {QStringLiteral("a"), QStringLiteral("b")}));  // 12 curves
    constexpr int kPoints = 100000;
    for (int from = 0; from < kPoints; from += 10000) plot.addSamples(samples(from, 10000, 12));
    QCOMPARE(plot.curveCount(), 12);
    QCOMPARE(plot.pointCount(), kPoints);
    for (int c : {0, 5, 11})
      for (int i : {0, 12345, kPoints - 1}) QCOMPARE(plot.value(c, i), double(float(wiggle(i, 10 + c))));
    QCOMPARE(plot.drawnCurveCount(), 12);
    plot.setFilter(1, CoefficientPlot::kAll, 1);  // layer 1, every head, mask "b"
    QCOMPARE(plot.filteredCurves(), (QVector<int>{7, 9, 11}));  // (1·3 + h)·2 + 1
    QCOMPARE(plot.drawnCurveCount(), 3);
    QCOMPARE(plot.curveName(9), QStringLiteral("L1 H1 b"));
    plot.replotNow();
    QCOMPARE(plot.xAxis->range().upper, double(kPoints));
    // Every α here is far above a threshold of 0.001: the axis still reaches down to its line.
    plot.setThreshold(0.001);
    plot.replotNow();
    QVERIFY2(plot.yAxis->range().lower < 0.001 && plot.yAxis->range().upper > 0.001,
             qPrintable(QStringLiteral("%1..%2").arg(plot.yAxis->range().lower).arg(plot.yAxis->range().upper)));
  }

  void crossingsOfThePruningThreshold() {
    CoefficientPlot plot;
    plot.setShape(shape(1, 1, {QStringLiteral("m")}));
    plot.setThreshold(0.05);
    TrainingSamples s;
    const float values[] = {0.1f, 0.08f, 0.04f, 0.06f, 0.07f};
    for (int i = 0; i < 5; ++i) {
      TrainingSample m;
      m.step = i + 1;
      m.alpha = {values[i]};
      s.push_back(m);
    }
    plot.addSamples(s.mid(0, 3));
    plot.addSamples(s.mid(3));  // a crossing between two batches is found too
    const auto& x = plot.crossings(0);
    QCOMPARE(x.size(), 2);
    // Down between step 2 (0.08) and 3 (0.04): 2 + (0.05 − 0.08)/(0.04 − 0.08) = 2.75.
    QVERIFY(std::abs(x[0].step - 2.75) < 1e-5);
    QVERIFY(!x[0].upward);
    // Up between step 3 (0.04) and 4 (0.06): 3.5.
    QVERIFY(std::abs(x[1].step - 3.5) < 1e-5);
    QVERIFY(x[1].upward);
    plot.setThreshold(0.065);  // now only 0.06 → 0.07 crosses (up), and 0.08 → 0.04 (down)
    QCOMPARE(plot.crossings(0).size(), 2);
    QVERIFY(std::abs(plot.crossings(0)[1].step - 4.5) < 1e-5);
  }

  // Raw under the legend's name, smoothed as "<name>, smoothed (EMA 0.50)", each with the values fed
  // in (the EMA worked out here by hand: TensorBoard's debiased form), the raw curve in its colour.
  void lossCsvNamesTheLegendsSeries() {
    LossPlot plot;
    plot.resize(800, 500);
    plot.setSmoothing(0.5);
    plot.addSamples(samples(0, 40, 0));
    plot.replotNow();
    const auto csv = csvSeries(visibleCsv(&plot));
    const QStringList legend = legendNames(&plot);
    QCOMPARE(legend, (QStringList{QStringLiteral("KL (teacher ‖ student)"), QStringLiteral("Σ|α| (right axis)"),
                                  QStringLiteral("total loss")}));  // no validation in 40 steps: no entry
    QCOMPARE(int(csv.size()), 6);
    for (int s = 0; s < 3; ++s) {
      const QString name = legend[s];
      QVERIFY2(csv.count(name) && csv.count(name + QStringLiteral(", smoothed (EMA 0.50)")), qPrintable(name));
      const auto& raw = csv.at(name);
      const auto& smooth = csv.at(name + QStringLiteral(", smoothed (EMA 0.50)"));
      QCOMPARE(raw.size(), 40);
      double num = 0, den = 0;
      for (int i = 0; i < 40; ++i) {
        QCOMPARE(raw[i].x(), double(i + 1));
        QCOMPARE(raw[i].y(), wiggle(i, s));
        num = 0.5 * num + 0.5 * wiggle(i, s);
        den = 0.5 * den + 0.5;  // 1 − 0.5^(i+1)
        QVERIFY(std::fabs(smooth[i].y() - num / den) <= 1e-12 * std::fabs(num / den));
      }
      const QColor raw0 = plot.rawGraph(LossPlot::Series(s))->pen().color(), smooth0 = plot.smoothGraph(LossPlot::Series(s))->pen().color();
      QCOMPARE(raw0.rgb(), smooth0.rgb());  // the series' colour, not grey
      QVERIFY(raw0.alpha() < 255);          // but light
    }
    // Smoothing off: one curve per series, under the plain name.
    plot.setSmoothing(0);
    QCOMPARE(int(csvSeries(visibleCsv(&plot)).size()), 3);
    QVERIFY(csvSeries(visibleCsv(&plot)).count(legend[0]));
  }

  void coefficientCsvNamesTheLegendsSeries() {
    CoefficientPlot plot;
    plot.resize(800, 500);
    plot.setSmoothing(0.5);
    plot.setShape(shape(1, 2, {QStringLiteral("a"), QStringLiteral("b")}));
    plot.addSamples(samples(0, 30, 4));
    plot.addSamples(samples(30, 10, 4));  // the EMA continues across batches
    plot.setFilter(0, 1, CoefficientPlot::kAll);
    plot.replotNow();
    const auto csv = csvSeries(visibleCsv(&plot));
    const QStringList legend = legendNames(&plot);
    QCOMPARE(legend, (QStringList{QStringLiteral("L0 H1 a"), QStringLiteral("L0 H1 b"), QStringLiteral("crosses the pruning threshold")}));
    for (int k = 0; k < 2; ++k) {
      const int curve = 2 + k;  // (0·2 + 1)·2 + k
      const auto& raw = csv.at(legend[k]);
      const auto& smooth = csv.at(legend[k] + QStringLiteral(", smoothed (EMA 0.50)"));
      QCOMPARE(raw.size(), 40);
      // A plain EMA that starts at the first value: s₀ = x₀, sᵢ = 0.5·sᵢ₋₁ + 0.5·xᵢ.
      double ema = double(float(wiggle(0, 10 + curve)));
      for (int i = 0; i < 40; ++i) {
        const double x = double(float(wiggle(i, 10 + curve)));
        ema = i == 0 ? x : 0.5 * ema + 0.5 * x;
        QCOMPARE(raw[i].y(), x);
        QVERIFY(std::fabs(smooth[i].y() - ema) <= 1e-12);
      }
    }
    // The drawn title names the filter.
    QVERIFY2(plotTitle(&plot).contains(QStringLiteral("layer 0, head 1")), qPrintable(plotTitle(&plot)));
    QCOMPARE(plot.figureContext()[QStringLiteral("head")].toInt(), 1);
  }

  // Curves with the same points say so in the legend; the CSV keeps the plain names.
  void coincidingCurvesAreNamed() {
    CoefficientPlot plot;
    plot.setShape(shape(1, 1, {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")}));
    TrainingSamples s;
    for (int i = 0; i < 5; ++i) {
      TrainingSample m;
      m.step = i + 1;
      m.alpha = {0.5f, 0.3f + 0.01f * i, 0.5f};
      s.push_back(m);
    }
    plot.addSamples(s);
    QCOMPARE(legendNames(&plot).mid(0, 3), (QStringList{QStringLiteral("L0 H0 a"), QStringLiteral("L0 H0 b"),
                                                         QStringLiteral("L0 H0 c (same as L0 H0 a)")}));
    QVERIFY(csvSeries(visibleCsv(&plot)).count(QStringLiteral("L0 H0 c")));
  }

  void plotsHaveTitles() {
    LossPlot loss;
    CoefficientPlot coefficients;
    CoefficientGrid grid;
    QCOMPARE(plotTitle(&loss), QStringLiteral("Distillation loss against training step"));
    QVERIFY(!plotTitle(&coefficients).isEmpty());
    QCOMPARE(grid.exportTitle(), plotTitle(&grid));
    QVERIFY(!grid.exportTitle().isEmpty());
  }

  // Labels on a log axis: each once, all powers ("1e+05", drawn 10⁵) or all plain, never mixed.
  void logAxisLabelsAreUniqueAndOfOneFormat_data() {
    QTest::addColumn<double>("lower");
    QTest::addColumn<double>("upper");
    QTest::addColumn<QStringList>("expected");  // empty: check uniqueness and format only
    QTest::newRow("1..1e6") << 1.0 << 1e6
                            << QStringList{"1e+00", "1e+01", "1e+02", "1e+03", "1e+04", "1e+05", "1e+06"};
    QTest::newRow("1..3") << 1.0 << 3.0 << QStringList{"1", "2", "3"};
    QTest::newRow("1.5..2.5") << 1.5 << 2.5 << QStringList{};
    QTest::newRow("3..40") << 3.0 << 40.0 << QStringList{"5", "10", "20"};
    QTest::newRow("1.4e4..7e5") << 1.4e4 << 7e5 << QStringList{"2e+04", "5e+04", "1e+05", "2e+05", "5e+05"};
    QTest::newRow("1e-9..1e9") << 1e-9 << 1e9 << QStringList{};
    QTest::newRow("0.02..0.9") << 0.02 << 0.9 << QStringList{"0.02", "0.05", "0.1", "0.2", "0.5"};
  }
  void logAxisLabelsAreUniqueAndOfOneFormat() {
    QFETCH(double, lower);
    QFETCH(double, upper);
    QFETCH(QStringList, expected);
    QCustomPlot plot;
    plot.resize(500, 400);
    setLogAxis(plot.yAxis);
    const auto labels = tickLabels(plot, QCPRange(lower, upper));
    QVERIFY2(labels.size() >= 2, qPrintable(QStringList(labels.begin(), labels.end()).join(QLatin1Char(' '))));
    QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
    int powers = 0;
    for (const auto& l : labels) powers += l.contains(QLatin1Char('e')) ? 1 : 0;
    QVERIFY(powers == 0 || powers == labels.size());
    if (!expected.isEmpty()) QCOMPARE(QStringList(labels.begin(), labels.end()), expected);
    // Each label states its tick exactly.
    const auto ticks = plot.yAxis->tickVector();
    for (int i = 0; i < ticks.size(); ++i) QVERIFY(std::fabs(labels[i].toDouble() - ticks[i]) <= 1e-9 * ticks[i]);
  }

  void gridShowsTheLatestCoefficients() {
    CoefficientGrid grid;
    grid.resize(500, 300);
    grid.setShape(shape(2, 2, {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")}));
    std::vector<float> alpha(12);
    for (int i = 0; i < 12; ++i) alpha[i] = 0.1f * i;
    grid.setAlpha(alpha);
    // alpha index (l·2 + h)·3 + k
    QCOMPARE(grid.cell(0, 0, 0), double(0.0f));
    QCOMPARE(grid.cell(1, 0, 2), double(0.1f * 8));
    QCOMPARE(grid.cell(1, 1, 1), double(0.1f * 10));
    grid.setAlpha(std::vector<float>(5, 1.f));  // a wrong size is ignored
    QCOMPARE(grid.cell(1, 1, 1), double(0.1f * 10));
    grid.replot();
  }
};

QTEST_MAIN(TestUiPlots)
#include "test_ui_plots.moc"
