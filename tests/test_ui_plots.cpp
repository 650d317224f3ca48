// The live plots: 100k points per curve arrive intact and replot; EMA smoothing against hand-computed
// values; threshold crossings where a hand calculation puts them; filters; the heat grid's cells;
// a user's zoom survives streaming.
#include <QtTest>
#include <cmath>

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
