// The Attention view on a small distillation run made by attnx-cli (offscreen): maps, per-head KL
// against a naive loop over the maps, empty / too-long prompts, latest-wins requests, pooled
// display and exact cells on zoom, and the 1024-token display path (timed, printed, not asserted).
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <map>
#include <random>

#include "tests/support/tiny_run_session.h"
#include "ui/attention/attention_view.h"
#include "ui/attention/head_grid.h"
#include "ui/attention/heatmap_plot.h"
#include "ui/attention/heatmap_sampling.h"
#include "ui/bridge/analysis_session.h"

using namespace attnx::ui;

class TestAttentionView : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::shared_ptr<AnalysisSession> session_;

 private Q_SLOTS:
  void initTestCase() {
    const QString problem = attnx::test::loadTinyRunSession(tmp_.path(), &session_);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(session_->summary().layers, 2);
    QCOMPARE(session_->summary().heads, 4);
    QCOMPARE(session_->summary().context, 64);
  }

  void loadRunReportsAMissingRun() {
    AnalysisSession s;
    const QString error = s.loadRun(tmp_.path() + QStringLiteral("/no-such-run"));
    QVERIFY2(error.contains(QStringLiteral("cannot open")), qPrintable(error));
    QVERIFY(!s.isLoaded());
  }

  // Pooling: hand-computed cases, the value of largest magnitude per block.
  void poolingKeepsTheExtremeOfEachBlock() {
    const std::vector<float> m = {1, 2, 3, 4,  //
                                  5, 6, 7, 8,  //
                                  -9, 0, 0, 0,  //
                                  0, 0, 0, 0.5f};
    QCOMPARE(poolExtreme(m.data(), 4, 0, 4, 0, 4, 2, 2), (std::vector<float>{6, 8, -9, 0.5f}));
    // 3 rows into 2 cells: rows {0}, {1, 2}; columns 1..3 into 2 cells: {1}, {2, 3}.
    QCOMPARE(poolExtreme(m.data(), 4, 0, 3, 1, 4, 2, 2), (std::vector<float>{2, 4, 6, 8}));
    // More cells than source: one cell per source element.
    QCOMPARE(poolExtreme(m.data(), 4, 2, 3, 0, 2, 5, 5), (std::vector<float>{-9, 0}));
  }

  void mapsAndPerHeadKl() {
    AttentionView view;
    view.resize(1400, 800);
    view.setSession(session_);
    view.setPrompt(QStringLiteral("Father Brown looked at the garden, and the garden looked back."));
    QSignalSpy shown(&view, &AttentionView::mapsShown);
    view.requestMaps();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 60000);
    const auto maps = view.maps();
    QVERIFY(maps);
    QCOMPARE(maps->layers, 2);
    QCOMPARE(maps->heads, 4);
    QCOMPARE(maps->n, static_cast<int>(session_->encode(QStringLiteral("Father Brown looked at the garden, and the garden looked back.")).ids.size()));
    const int n = maps->n;
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 4; ++h) {
        const float* t = maps->teacherHead(l, h);
        const float* s = maps->studentHead(l, h);
        double kl = 0;
        for (int i = 0; i < n; ++i) {
          double rowT = 0, rowS = 0, rowKl = 0;
          for (int j = 0; j < n; ++j) {
            if (j > i) {  // causal: nothing above the diagonal
              QCOMPARE(t[i * n + j], 0.0f);
              QCOMPARE(s[i * n + j], 0.0f);
            }
            rowT += t[i * n + j];
            rowS += s[i * n + j];
            if (t[i * n + j] > 0)
              rowKl += t[i * n + j] * (std::log(std::max<double>(t[i * n + j], 1e-10)) - std::log(std::max<double>(s[i * n + j], 1e-10)));
          }
          QVERIFY(std::fabs(rowT - 1) < 1e-4);
          QVERIFY(std::fabs(rowS - 1) < 1e-4);
          kl += rowKl / n;
        }
        QVERIFY2(std::fabs(kl - maps->headKl[l * 4 + h]) < 1e-4 * std::max(1.0, kl),
                 qPrintable(QStringLiteral("L%1 H%2: %3 vs %4").arg(l).arg(h).arg(kl).arg(maps->headKl[l * 4 + h])));
      }
    // The large plots show the selected head exactly; the difference is teacher - student.
    view.selectHead(1, 2);
    const float* t = maps->teacherHead(1, 2);
    const float* s = maps->studentHead(1, 2);
    QCOMPARE(view.teacherPlot()->valueAt(n - 1, 0), static_cast<double>(t[(n - 1) * n]));
    QCOMPARE(view.studentPlot()->valueAt(n - 1, 3), static_cast<double>(s[(n - 1) * n + 3]));
    QCOMPARE(view.differencePlot()->valueAt(5, 2), static_cast<double>(t[5 * n + 2] - s[5 * n + 2]));
    QCOMPARE(view.overview()->layers(), 2);
    QCOMPARE(view.overview()->heads(), 4);
    view.setLogScale(true);
    QVERIFY(view.teacherPlot()->logScale());
    QVERIFY(!view.grab().isNull());
  }

  // The overview's head roles: on a prompt longer than 16 tokens every teacher head gets a role whose
  // shares match sums taken here over the maps themselves (query rows 16..n-1), delimiters found by
  // this test's own rule (the decoded token is punctuation and spaces only); each head's tooltip
  // carries its note and its badge matches its kind. A short prompt gets no roles.
  void headRolesMatchTheMaps() {
    const QString prompt = QStringLiteral(
        "Father Brown looked at the garden, and the garden looked back. \"Well,\" he said; the priest "
        "walked on, slowly, past the hedge and the gate, and then he stopped.\nThe end.");
    AttentionView view;
    view.resize(1400, 800);
    view.setSession(session_);
    view.setPrompt(prompt);
    QSignalSpy shown(&view, &AttentionView::mapsShown);
    view.requestMaps();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 60000);
    const auto maps = view.maps();
    const int n = maps->n;
    QVERIFY(n > 30);
    QCOMPARE(maps->teacherRoles.size(), size_t(8));
    std::vector<bool> delimiter(n);
    int delimiters = 0;
    for (int j = 0; j < n; ++j) {
      const QString text = session_->decode({maps->prompt.ids[j]});
      delimiter[j] = !text.isEmpty() && std::all_of(text.begin(), text.end(), [](QChar c) { return c.isPunct() || c.isSpace(); });
      delimiters += delimiter[j];
    }
    QVERIFY(delimiters >= 8);
    QCOMPARE(maps->delimiterShare, double(delimiters) / n);
    const std::map<QString, QString> badgeOf{{"previous-token", "P"}, {"sink", "S"}, {"self", "I"},
                                            {"delimiter", "D"}, {"local", "L"}, {"broad", ""}};
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 4; ++h) {
        const float* t = maps->teacherHead(l, h);
        double prev = 0, sink = 0, self = 0, delim = 0, local = 0;
        for (int i = 16; i < n; ++i) {
          prev += t[i * n + i - 1];
          sink += t[i * n];
          self += t[i * n + i];
          for (int j = 0; j <= i; ++j) {
            if (delimiter[j]) delim += t[i * n + j];
            if (i - j < AttentionMapSet::kRoleLocalWidth) local += t[i * n + j];
          }
        }
        const double rows = n - 16;
        const HeadRole& r = maps->teacherRoles[l * 4 + h];
        for (auto [got, want] : {std::pair{r.previousToken, prev}, {r.sink, sink}, {r.self, self}, {r.delimiter, delim}, {r.local, local}})
          QVERIFY2(std::fabs(got - want / rows) < 1e-5, qPrintable(QStringLiteral("L%1H%2: %3 vs %4").arg(l).arg(h).arg(got).arg(want / rows)));
        QVERIFY2(badgeOf.count(r.kind), qPrintable(r.kind));
        QCOMPARE(view.overview()->badge(l, h), badgeOf.at(r.kind));
        QVERIFY(view.overview()->toolTipFor(l, h).contains(QStringLiteral("Teacher head on this prompt: ") + r.kind));
      }
    // Short prompts: no roles, no badges.
    const auto shortMaps = session_->attentionMaps(QStringLiteral("Father Brown looked back."), StudentKind::Soft);
    QVERIFY(shortMaps->teacherRoles.empty());
  }

  void emptyPromptSaysSo() {
    AttentionView view;
    view.setSession(session_);
    view.setPrompt(QStringLiteral("   \n"));
    QSignalSpy failed(&view, &AttentionView::failed);
    view.requestMaps();
    QCOMPARE(failed.count(), 1);
    QVERIFY2(view.statusText().contains(QStringLiteral("empty")), qPrintable(view.statusText()));
    QVERIFY(!view.maps());
  }

  void tooLongPromptIsCutToTheContext() {
    AttentionView view;
    view.setSession(session_);
    QString longText;
    for (int i = 0; i < 40; ++i) longText += QStringLiteral("the garden wall ");
    const int tokens = static_cast<int>(session_->encode(longText).originalTokens);
    QVERIFY(tokens > 64);
    view.setPrompt(longText);
    QSignalSpy shown(&view, &AttentionView::mapsShown);
    view.requestMaps();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 60000);
    QCOMPARE(view.maps()->n, 64);
    QVERIFY(view.maps()->prompt.truncated());
    QVERIFY2(view.statusText().contains(QStringLiteral("showing the first 64")), qPrintable(view.statusText()));
    QVERIFY(view.statusText().contains(QString::number(tokens)));
  }

  // Two requests in a row: only the second one's maps are shown.
  void latestRequestWins() {
    AttentionView view;
    view.setSession(session_);
    QSignalSpy shown(&view, &AttentionView::mapsShown);
    view.setPrompt(QStringLiteral("A first prompt that should be superseded by the next one"));
    view.requestMaps();
    view.setPrompt(QStringLiteral("Second."));
    view.requestMaps();
    QTRY_VERIFY_WITH_TIMEOUT(!view.isBusy(), 60000);
    QTest::qWait(200);  // a stale result, if any were delivered, would arrive now
    QCOMPARE(shown.count(), 1);
    QCOMPARE(view.maps()->prompt.ids, session_->encode(QStringLiteral("Second.")).ids);
  }

  void pruningAStudentChangesItsMaps() {
    const QString prompt = QStringLiteral("The little priest sat down by the fire and said nothing for a while.");
    const auto soft = AttentionView::prepare(*session_, prompt, StudentKind::Soft, nullptr);
    const auto pruned = AttentionView::prepare(*session_, prompt, StudentKind::Pruned, nullptr);
    QCOMPARE(soft.maps->teacher, pruned.maps->teacher);  // the same teacher
    QVERIFY(soft.maps->studentMaps != pruned.maps->studentMaps);
    // Cancelled before it starts: no result.
    std::atomic<bool> cancelled{true};
    QVERIFY(!AttentionView::prepare(*session_, prompt, StudentKind::Soft, &cancelled).maps);
  }

  // 1024 tokens on the display path: pooled to at most kMaxCellsPerAxis cells per axis, exact cells
  // once zoomed in. The time of setMatrix (pool + colour + replot) is printed for the report.
  void largeMapsArePooledAndExactOnZoom() {
    const int n = 1024;
    auto m = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * n, 0.0f);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0, 1);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) (*m)[static_cast<size_t>(i) * n + j] = u(rng);
    QStringList tokens;
    for (int i = 0; i < n; ++i) tokens << QStringLiteral("t%1").arg(i);
    HeatmapPlot plot;
    plot.setScale(HeatmapScale::Linear);  // raw weights in the cells
    plot.resize(500, 450);
    plot.show();
    QElapsedTimer timer;
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      timer.start();
      plot.setMatrix(m, n, tokens, false);
      best = std::min(best, timer.nsecsElapsed() / 1e6);
    }
    qInfo("heatmap display path, 1024 tokens: %.1f ms (best of 3, pool + colour + replot)", best);
    QCOMPARE(plot.displayedCells(), QSize(HeatmapPlot::kMaxCellsPerAxis, HeatmapPlot::kMaxCellsPerAxis));
    QCOMPARE(plot.valueAt(700, 3), static_cast<double>((*m)[700 * n + 3]));
    // Zoom to keys 100..119 and queries 200..219: 20 x 20 cells holding the exact weights.
    plot.setVisibleRange(QCPRange(99.5, 119.5), QCPRange(199.5, 219.5));
    QCOMPARE(plot.displayedCells(), QSize(20, 20));
    for (int r = 0; r < 20; ++r)
      for (int c = 0; c < 20; ++c) QCOMPARE(plot.cellValue(c, r), static_cast<double>((*m)[(200 + r) * n + 100 + c]));
  }

  // Without square cells a map fills its widget: no padding around it (square cells are the default).
  void mapsFillTheirWidgetWithoutSquareCells() {
    auto m = std::make_shared<std::vector<float>>(40 * 40, 0.5f);
    HeatmapPlot plot;
    QVERIFY(plot.squareCells());
    plot.setSquareCells(false);
    plot.resize(330, 700);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setMatrix(m, 40, QStringList(), false);
    QTest::qWait(50);
    QCOMPARE(plot.plotLayout()->margins(), QMargins());
    QVERIFY(plot.axisRect()->rect().height() > 2 * plot.axisRect()->rect().width());
  }

  // Square cells (setSquareCells), as imshow draws them: in a tall, a wide and a square widget, and zoomed to a
  // range twice as tall as wide, one key spans as many pixels as one query (within a pixel or two
  // of rounding), and the map is centred: the padding on either side differs by at most a pixel.
  void cellsAreSquareAndCentred_data() {
    QTest::addColumn<QSize>("size");
    QTest::addColumn<double>("keys");     // visible keys
    QTest::addColumn<double>("queries");  // visible queries
    QTest::newRow("tall") << QSize(330, 700) << 40.0 << 40.0;
    QTest::newRow("wide") << QSize(900, 400) << 40.0 << 40.0;
    QTest::newRow("square") << QSize(500, 500) << 40.0 << 40.0;
    QTest::newRow("zoomed 10 x 20") << QSize(600, 600) << 10.0 << 20.0;
  }
  void cellsAreSquareAndCentred() {
    QFETCH(QSize, size);
    QFETCH(double, keys);
    QFETCH(double, queries);
    const int n = 40;
    auto m = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * n, 0.5f);
    QStringList tokens;
    for (int i = 0; i < n; ++i) tokens << QStringLiteral("w%1").arg(i);
    HeatmapPlot plot;
    plot.setSquareCells(true);
    plot.resize(size);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setMatrix(m, n, tokens, false);
    if (keys < n) plot.setVisibleRange(QCPRange(4.5, 4.5 + keys), QCPRange(9.5, 9.5 + queries));
    QTest::qWait(50);  // the queued replots that settle labels and padding
    const QRect area = plot.axisRect()->rect();
    const double keyPx = area.width() / keys, queryPx = area.height() / queries;
    qInfo("%dx%d widget: data area %dx%d, %.2f x %.2f px per cell", size.width(), size.height(), area.width(),
          area.height(), keyPx, queryPx);
    // Rounding the data area to whole pixels shifts the far edge by at most a pixel or two.
    QVERIFY2(std::abs(keyPx - queryPx) * std::max(keys, queries) <= 2.0, "cells are not square");
    // Padding on one axis only (the map fills the other, as far as labels and colour bar allow),
    // split evenly so the map is centred.
    const QMargins pad = plot.plotLayout()->margins();
    QVERIFY(pad.left() + pad.right() == 0 || pad.top() + pad.bottom() == 0);
    QVERIFY(pad.left() + pad.right() + pad.top() + pad.bottom() > 0 || size == QSize(500, 500));
    QVERIFY(std::abs(pad.left() - pad.right()) <= 1 && std::abs(pad.top() - pad.bottom()) <= 1);
  }

  // The default colour scale divides each query row by its largest weight: every displayed cell is
  // the weight over its row's maximum, computed here by hand; the linear scale shows the raw weight.
  void rowMaxScaleIsTheDefault() {
    const int n = 5;
    auto m = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * n, 0.0f);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) (*m)[static_cast<size_t>(i) * n + j] = 0.01f * static_cast<float>((i * 7 + j * 3) % 11 + 1);
    HeatmapPlot plot;
    QCOMPARE(plot.scale(), HeatmapScale::RowMax);
    plot.resize(400, 400);
    plot.setMatrix(m, n, QStringList(), false);
    for (int r = 0; r < n; ++r) {
      float rowMax = 0;
      for (int c = 0; c <= r; ++c) rowMax = std::max(rowMax, (*m)[static_cast<size_t>(r) * n + c]);
      for (int c = 0; c <= r; ++c)
        QVERIFY(std::abs(plot.cellValue(c, r) - (*m)[static_cast<size_t>(r) * n + c] / rowMax) < 1e-6);
    }
    QCOMPARE(plot.valueAt(4, 2), static_cast<double>((*m)[4 * n + 2]));  // the tooltip's value stays the weight
    plot.setScale(HeatmapScale::Linear);
    QCOMPARE(plot.cellValue(2, 4), static_cast<double>((*m)[4 * n + 2]));
  }

  // Token labels: at round indices (a step of 1, 2 or 5 times a power of ten), the same ones on both
  // axes, and no more than one per 18 px of the shorter axis.
  void tickLabelsAreThinnedToRoundSteps() {
    const int n = 1024;
    auto m = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * n, 0.001f);
    QStringList tokens;
    for (int i = 0; i < n; ++i) tokens << QStringLiteral("t%1").arg(i);
    HeatmapPlot plot;
    plot.resize(600, 560);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setMatrix(m, n, tokens, false);
    QTest::qWait(100);
    auto ticks = [](QCPAxis* axis) { return axis->ticker().dynamicCast<QCPAxisTickerText>()->ticks().keys(); };
    const auto keys = ticks(plot.xAxis), queries = ticks(plot.yAxis);
    QCOMPARE(keys, queries);
    QVERIFY(keys.size() >= 2);
    const int step = static_cast<int>(keys[1] - keys[0]);
    QVERIFY2(QList<int>({1, 2, 5, 10, 20, 50, 100, 200, 500}).contains(step), qPrintable(QString::number(step)));
    for (double k : keys) QCOMPARE(static_cast<int>(k) % step, 0);
    const int shorter = std::min(plot.axisRect()->width(), plot.axisRect()->height());
    QVERIFY2(keys.size() <= shorter / 18 + 1, qPrintable(QStringLiteral("%1 labels on %2 px").arg(keys.size()).arg(shorter)));
  }

  // Auto shows teacher, student and difference side by side as far as they fit at kAutoMapWidth
  // each, else fewer; the explicit modes show what they name.
  void mapModes() {
    AttentionView view;
    view.setSession(session_);
    view.resize(2400, 800);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QCOMPARE(view.mapMode(), AttentionMapMode::Auto);
    QTRY_COMPARE(view.visiblePlots().size(), 3);
    view.resize(900, 800);
    QTRY_COMPARE(view.visiblePlots(), QList<HeatmapPlot*>{view.teacherPlot()});
    view.setMapMode(AttentionMapMode::SideBySide);
    QCOMPARE(view.visiblePlots().size(), 3);
    view.setMapMode(AttentionMapMode::Difference);
    QCOMPARE(view.visiblePlots(), QList<HeatmapPlot*>{view.differencePlot()});
    view.setMapMode(AttentionMapMode::Student);
    QCOMPARE(view.visiblePlots(), QList<HeatmapPlot*>{view.studentPlot()});
  }

  // The pruning rule in the form: shown from the session, and Apply asks for the rule given.
  void pruningRuleIsShownAndRequested() {
    AttentionView view;
    view.setSession(session_);
    QVERIFY(!view.pruningRule());  // the run's plan
    view.setPruningRule(attnx::PruningRule::topKRule(2));
    QSignalSpy asked(&view, &AttentionView::pruningRuleRequested);
    for (auto* b : view.findChildren<QPushButton*>())
      if (b->text() == QStringLiteral("Apply")) b->click();
    QCOMPARE(asked.count(), 1);
    const auto rule = asked.at(0).at(0).value<std::optional<attnx::PruningRule>>();
    QVERIFY(rule && rule->kind == attnx::PruningRule::Kind::TopK && rule->topK == 2);
    // A session opened with a threshold rule shows it.
    auto pruned = std::make_shared<AnalysisSession>();
    QVERIFY(pruned->loadRun(session_->summary().runDir, {}, session_->core()->teacher(),
                            attnx::PruningRule::thresholdRule(0.2)).isEmpty());
    view.setSession(pruned);
    const auto shown = view.pruningRule();
    QVERIFY(shown && shown->kind == attnx::PruningRule::Kind::Threshold && std::abs(shown->threshold - 0.2) < 1e-9);
  }
};

QTEST_MAIN(TestAttentionView)
#include "test_attention_view.moc"
