// Figure export: PNG has the chosen size and DPI, SVG parses and renders, PDF is a complete PDF with
// the expected pages, CSV holds exactly the visible points, "export all" writes every file and an
// index; and `attnx-cli figures` on a small run writes the same set headless.
#include <QImage>
#include <cmath>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

#include "tests/support/tiny_run.h"
#include "ui/attention/heatmap_plot.h"
#include "ui/export/figure_exporter.h"
#include "ui/export/figure_registry.h"
#include "ui/plots/coefficient_grid.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/loss_plot.h"
#include "ui/plots/qcp.h"

using namespace attnx::ui;

namespace {

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Page objects ("/Type /Page", not "/Type /Pages") in a PDF.
int pdfPages(const QByteArray& pdf) {
  static const QRegularExpression page(QStringLiteral("/Type\\s*/Page(?![s\\w])"));
  int count = 0;
  auto it = page.globalMatch(QString::fromLatin1(pdf));
  while (it.hasNext()) {
    it.next();
    ++count;
  }
  return count;
}

void checkPdf(const QByteArray& pdf, int pages) {
  QVERIFY(pdf.startsWith("%PDF-"));
  QVERIFY(pdf.trimmed().endsWith("%%EOF"));
  QCOMPARE(pdfPages(pdf), pages);
}

void checkSvg(const QByteArray& svg) {
  QXmlStreamReader xml(svg);
  bool sawSvg = false;
  while (!xml.atEnd()) {
    xml.readNext();
    if (xml.isStartElement() && xml.name() == QLatin1String("svg")) sawSvg = true;
  }
  QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
  QVERIFY(sawSvg);
  QSvgRenderer renderer(svg);
  QVERIFY(renderer.isValid());
}

// Text as QSvgGenerator writes it: XML-escaped.
QByteArray svgText(const QString& text) { return text.toHtmlEscaped().toUtf8(); }

// The values of metrics.csv's column `name`, parsed here (not by the app's run reader).
QVector<double> metricsColumn(const QString& runDir, const QString& name, QStringList* header = nullptr) {
  QFile f(runDir + QStringLiteral("/metrics.csv"));
  if (!f.open(QIODevice::ReadOnly)) return {};
  const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  const QStringList head = lines.value(0).split(QLatin1Char(','));
  if (header) *header = head;
  const int col = head.indexOf(name);
  QVector<double> values;
  for (int i = 1; i < lines.size(); ++i) values << lines[i].split(QLatin1Char(',')).value(col).toDouble();
  return values;
}

// The y values of one series of an exported CSV ("series,x,y" rows).
QVector<double> csvValues(const QByteArray& csv, const QString& series) {
  QVector<double> values;
  const QString prefix = QLatin1Char('"') + QString(series).replace(QStringLiteral("\""), QStringLiteral("\"\"")) + QStringLiteral("\",");
  for (const QString& line : QString::fromUtf8(csv).split(QLatin1Char('\n')))
    if (line.startsWith(prefix)) values << line.mid(prefix.size()).section(QLatin1Char(','), 1, 1).toDouble();
  return values;
}

TrainingSamples someSamples(int count, int alphas) {
  TrainingSamples out;
  for (int i = 0; i < count; ++i) {
    TrainingSample s;
    s.step = i + 1;
    s.kl = 1.0 / (i + 1);
    s.l1 = 3 - 0.01 * i;
    s.loss = s.kl + 0.1 * s.l1;
    for (int a = 0; a < alphas; ++a) s.alpha.push_back(0.5f + 0.01f * float(a) - 0.001f * float(i));
    out.push_back(s);
  }
  return out;
}

}  // namespace

class TestFigureExport : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QCustomPlot* curves_ = nullptr;
  HeatmapPlot* heatmap_ = nullptr;

 private Q_SLOTS:
  void init() {
    curves_ = new QCustomPlot;
    curves_->resize(400, 300);
    auto* g = curves_->addGraph();
    g->setName(QStringLiteral("loss, \"KL\""));
    for (int x = 0; x < 10; ++x) g->addData(x, x * x);
    auto* h = curves_->addGraph();
    h->setName(QStringLiteral("other"));
    h->addData(3, -1);
    h->addData(8, 2);
    curves_->legend->setVisible(true);
    curves_->xAxis->setLabel(QStringLiteral("step"));
    curves_->xAxis->setRange(2, 5);
    heatmap_ = new HeatmapPlot;
    heatmap_->resize(400, 300);
    auto m = std::make_shared<std::vector<float>>(std::vector<float>{1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f});
    heatmap_->setMatrix(m, 3, {"a", "b", "c"}, false);
  }
  void cleanup() {
    delete curves_;
    delete heatmap_;
  }

  void pngHasTheChosenSizeAndDpi_data() {
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<double>("dpi");
    QTest::newRow("screen") << 800 << 600 << 96.0;
    QTest::newRow("print") << 2400 << 1500 << 300.0;
    QTest::newRow("odd") << 333 << 777 << 150.0;
  }
  void pngHasTheChosenSizeAndDpi() {
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(double, dpi);
    for (QWidget* fig : {static_cast<QWidget*>(curves_), static_cast<QWidget*>(heatmap_)}) {
      const QString path = tmp_.filePath(QStringLiteral("fig.png"));
      QCOMPARE(exportFigure(fig, path, FigureFormat::Png, {QSize(width, height), dpi}), QString());
      const QImage img(path);
      QCOMPARE(img.size(), QSize(width, height));
      QVERIFY(std::abs(img.dotsPerMeterX() - dpi / 0.0254) < 1.0);
      // Something was drawn: not a blank white image.
      bool ink = false;
      for (int y = 0; y < img.height() && !ink; y += 3)
        for (int x = 0; x < img.width() && !ink; x += 3) ink = img.pixel(x, y) != qRgb(255, 255, 255);
      QVERIFY(ink);
    }
  }

  // Token labels are thinned to fit the axis: an export larger than the widget must draw the labels
  // of the export's size (one per 16 px, at most 24 per axis), not the few that fit the widget.
  void heatmapLabelsFitTheExportSize() {
    const int n = 100;
    auto values = std::make_shared<std::vector<float>>(size_t(n) * n, 0.f);
    QStringList tokens;
    for (int i = 0; i < n; ++i) tokens << QStringLiteral("t%1").arg(i);
    HeatmapPlot small;
    small.resize(small.minimumSize());
    small.show();  // a hidden widget keeps QCustomPlot's default viewport whatever its size
    QVERIFY(QTest::qWaitForWindowExposed(&small));
    small.setMatrix(values, n, tokens, false);
    small.replot();
    // Thinned labels read "index token" ("15 t15"): count those an SVG export of 1200 x 800 draws.
    const QString svg = QString::fromUtf8(renderFigure(&small, FigureFormat::Svg, {QSize(1200, 800), 96.0}));
    int count = 0;
    for (auto it = QRegularExpression(QStringLiteral(">(\\d+) t\\1<")).globalMatch(svg); it.hasNext(); it.next()) ++count;
    // n = 100 tokens, at most 24 labels per axis: every 5th token, 20 labels on each of the two axes.
    QCOMPARE(count, 40);
  }

  void svgParses() {
    for (QWidget* fig : {static_cast<QWidget*>(curves_), static_cast<QWidget*>(heatmap_)}) {
      const QString path = tmp_.filePath(QStringLiteral("fig.svg"));
      QCOMPARE(exportFigure(fig, path, FigureFormat::Svg, {QSize(640, 480), 96}), QString());
      const QByteArray svg = readAll(path);
      checkSvg(svg);
      // The canvas is the chosen pixel size (width and height attributes are physical lengths at 96 dpi).
      QCOMPARE(QSvgRenderer(svg).viewBox(), QRect(0, 0, 640, 480));
    }
    // Text of the plot is in the SVG as text (vectors, not a bitmap).
    QVERIFY(readAll(tmp_.filePath(QStringLiteral("fig.svg"))).contains("query token"));
  }

  void pdfIsComplete() {
    const QString path = tmp_.filePath(QStringLiteral("fig.pdf"));
    QCOMPARE(exportFigure(curves_, path, FigureFormat::Pdf, {QSize(1200, 800), 300}), QString());
    checkPdf(readAll(path), 1);
    // Page size: 1200 x 800 px at 300 dpi = 288 x 192 pt.
    static const QRegularExpression box(QStringLiteral("/MediaBox \\[0 0 ([0-9.]+) ([0-9.]+)\\]"));
    const auto m = box.match(QString::fromLatin1(readAll(path)));
    QVERIFY(m.hasMatch());
    QVERIFY2(std::fabs(m.captured(1).toDouble() - 288) < 0.01 && std::fabs(m.captured(2).toDouble() - 192) < 0.01,
             qPrintable(m.captured(0)));
  }

  void csvHoldsTheVisiblePoints() {
    const QString path = tmp_.filePath(QStringLiteral("fig.csv"));
    QCOMPARE(exportVisibleCsv(curves_, path), QString());
    QCOMPARE(readAll(path), QByteArray("series,x,y\n"
                                       "\"loss, \"\"KL\"\"\",2,4\n"
                                       "\"loss, \"\"KL\"\"\",3,9\n"
                                       "\"loss, \"\"KL\"\"\",4,16\n"
                                       "\"loss, \"\"KL\"\"\",5,25\n"
                                       "\"other\",3,-1\n"));
  }

  void badOptionsAndGoneFiguresAreErrors() {
    QVERIFY(exportFigure(curves_, tmp_.filePath(QStringLiteral("x.png")), FigureFormat::Png, {QSize(0, 10), 96}).contains(QStringLiteral("size")));
    QVERIFY(exportFigure(curves_, tmp_.filePath(QStringLiteral("x.png")), FigureFormat::Png, {QSize(100, 100), 0}).contains(QStringLiteral("dpi")));
    QVERIFY(!exportFigure(nullptr, tmp_.filePath(QStringLiteral("x.png")), FigureFormat::Png, {}).isEmpty());
    QVERIFY(!exportFigure(curves_, QStringLiteral("/proc/no/such/dir/x.png"), FigureFormat::Png, {}).isEmpty());
    FigureFormat f;
    QVERIFY(formatOfPath(QStringLiteral("a/b.SVG"), &f) && f == FigureFormat::Svg);
    QVERIFY(!formatOfPath(QStringLiteral("a/b.jpg"), &f));
  }

  void exportAllWritesEveryFigureAndAnIndex() {
    FigureRegistry registry;
    registry.add(QStringLiteral("curves"), QStringLiteral("Curves"), QStringLiteral("test curves"), curves_);
    registry.add(QStringLiteral("heatmap"), QStringLiteral("Heatmap"), QStringLiteral("test heatmap"), heatmap_);
    {
      auto* gone = new QCustomPlot;
      registry.add(QStringLiteral("gone"), QStringLiteral("Gone"), QString(), gone);
      delete gone;  // skipped from now on
    }
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(QStringLiteral("Bad Id"), {}, {}, curves_));
    const QString dir = tmp_.filePath(QStringLiteral("all"));
    QStringList written;
    QCOMPARE(exportAllFigures(registry, dir, {QSize(800, 500), 120}, QJsonObject{{"run", "/tmp/run"}}, &written), QString());
    const QStringList expected{"curves.png", "curves.pdf", "curves.svg", "curves.csv", "heatmap.png", "heatmap.pdf", "heatmap.svg",
                               "all-figures.pdf", "index.json"};
    QCOMPARE(written.size(), expected.size());
    for (const auto& f : expected) QVERIFY2(QFile::exists(dir + QLatin1Char('/') + f), qPrintable(f));
    checkPdf(readAll(dir + QStringLiteral("/all-figures.pdf")), 2);
    checkPdf(readAll(dir + QStringLiteral("/heatmap.pdf")), 1);
    checkSvg(readAll(dir + QStringLiteral("/heatmap.svg")));
    QCOMPARE(QImage(dir + QStringLiteral("/curves.png")).size(), QSize(800, 500));
    const auto index = QJsonDocument::fromJson(readAll(dir + QStringLiteral("/index.json"))).object();
    QCOMPARE(index[QStringLiteral("format")].toString(), QStringLiteral("attnx-figures"));
    QCOMPARE(index[QStringLiteral("context")].toObject()[QStringLiteral("run")].toString(), QStringLiteral("/tmp/run"));
    QVERIFY(QDateTime::fromString(index[QStringLiteral("created")].toString(), Qt::ISODate).isValid());
    const auto figures = index[QStringLiteral("figures")].toArray();
    QCOMPARE(figures.size(), 2);
    QCOMPARE(figures[1].toObject()[QStringLiteral("id")].toString(), QStringLiteral("heatmap"));
    QCOMPARE(figures[1].toObject()[QStringLiteral("files")].toArray().size(), 3);  // no curves: no CSV
  }

  // The training figures carry their title into every format and index.json, read from the
  // figure as drawn (the coefficient plot's names its filter); context keys come from the provider.
  void trainingFiguresCarryTheirDrawnTitles() {
    TrainingShape shape;
    shape.layers = 2;
    shape.heads = 2;
    shape.maskNames = QStringList{QStringLiteral("win-16"), QStringLiteral("sinks-4")};
    LossPlot loss;
    loss.addSamples(someSamples(20, 0));
    loss.replotNow();
    CoefficientPlot coefficients;
    coefficients.setShape(shape);
    coefficients.addSamples(someSamples(20, 8));
    coefficients.setFilter(1, 0, CoefficientPlot::kAll);
    coefficients.replotNow();
    CoefficientGrid grid;
    grid.setShape(shape);
    grid.setAlpha(someSamples(20, 8).back().alpha);
    FigureRegistry registry;
    registry.add(QStringLiteral("loss-curves"), QStringLiteral("Loss curves"), {}, &loss);
    registry.add(QStringLiteral("coefficients"), QStringLiteral("Coefficients"), {}, &coefficients,
                 [&coefficients] { return coefficients.figureContext(); });
    registry.add(QStringLiteral("coefficient-grid"), QStringLiteral("Coefficient grid"), {}, &grid,
                 [] { return QJsonObject{{"prompt", "p"}, {"title", "not this"}}; });
    const QString dir = tmp_.filePath(QStringLiteral("training"));
    QCOMPARE(exportAllFigures(registry, dir, {QSize(900, 600), 96}, {}), QString());
    const QStringList drawn{QStringLiteral("Distillation loss against training step"),
                            QStringLiteral("Mixture coefficients α against step: layer 1, head 0, every mask"),
                            QStringLiteral("Mixture coefficients α of every layer, head and mask")};
    QCOMPARE(plotTitle(&loss), drawn[0]);
    QCOMPARE(plotTitle(&coefficients), drawn[1]);
    QCOMPARE(grid.exportTitle(), drawn[2]);
    const auto figures = QJsonDocument::fromJson(readAll(dir + QStringLiteral("/index.json"))).object()[QStringLiteral("figures")].toArray();
    QCOMPARE(figures.size(), 3);
    const QStringList ids{QStringLiteral("loss-curves"), QStringLiteral("coefficients"), QStringLiteral("coefficient-grid")};
    for (int i = 0; i < 3; ++i) {
      const auto f = figures[i].toObject();
      QCOMPARE(f[QStringLiteral("title")].toString(), drawn[i]);
      const QByteArray svg = readAll(dir + QLatin1Char('/') + ids[i] + QStringLiteral(".svg"));
      checkSvg(svg);
      QVERIFY2(svg.contains(svgText(drawn[i])), qPrintable(ids[i]));
    }
    QCOMPARE(figures[1].toObject()[QStringLiteral("layer")].toInt(), 1);
    QCOMPARE(figures[1].toObject()[QStringLiteral("head")].toInt(), 0);
    QCOMPARE(figures[2].toObject()[QStringLiteral("prompt")].toString(), QStringLiteral("p"));
    // The grid draws itself (ExportRenderable): title, axis label and colour scale label in the SVG,
    // a cell of the largest α in its darkest colour in the PNG.
    const QByteArray gridSvg = readAll(dir + QStringLiteral("/coefficient-grid.svg"));
    QVERIFY(gridSvg.contains(">layer<"));
    QVERIFY(gridSvg.contains(svgText(QStringLiteral("head (masks side by side)"))));
    QVERIFY(QImage(dir + QStringLiteral("/coefficient-grid.png")).size() == QSize(900, 600));
    QVERIFY(QImage(dir + QStringLiteral("/coefficient-grid.png")).save(QStringLiteral("/tmp/attnx-coefficient-grid.png")));
  }

  void headlessFiguresFromTheCli() {
    const QString problem = attnx::test::makeTinyRun(tmp_.filePath(QStringLiteral("cli")));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    const QString out = tmp_.filePath(QStringLiteral("cli/figures"));
    const auto r = attnx::test::runCli({"figures", "--run", tmp_.filePath(QStringLiteral("cli/run")), "--out", out, "--prompt",
                                        "The garden was quiet.", "--layer", "1", "--head", "3", "--width", "640", "--height", "480"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto index = QJsonDocument::fromJson(readAll(out + QStringLiteral("/index.json"))).object();
    QCOMPARE(index[QStringLiteral("context")].toObject()[QStringLiteral("prompt")].toString(), QStringLiteral("The garden was quiet."));
    QStringList ids;
    for (const auto& f : index[QStringLiteral("figures")].toArray()) {
      ids << f.toObject()[QStringLiteral("id")].toString();
      for (const auto& file : f.toObject()[QStringLiteral("files")].toArray())
        QVERIFY2(QFile::exists(out + QLatin1Char('/') + file.toString()), qPrintable(file.toString()));
    }
    QCOMPARE(ids, (QStringList{"loss-curves", "coefficients", "coefficient-grid", "attention-teacher", "attention-student",
                               "attention-difference", "attention-overview", "analytic-cost"}));
    QCOMPARE(QImage(out + QStringLiteral("/attention-teacher.png")).size(), QSize(640, 480));
    checkPdf(readAll(out + QStringLiteral("/all-figures.pdf")), 8);
    // Every figure's SVG draws the title index.json gives it.
    for (const auto& f : index[QStringLiteral("figures")].toArray()) {
      const QString id = f.toObject()[QStringLiteral("id")].toString(), title = f.toObject()[QStringLiteral("title")].toString();
      QVERIFY2(!title.isEmpty() && readAll(out + QLatin1Char('/') + id + QStringLiteral(".svg")).contains(svgText(title)), qPrintable(id + QStringLiteral(": ") + title));
    }
    // Loss curves from metrics.csv: the raw KL as written, the smoothed one the EMA (weight 0.6,
    // debiased) of it worked out here.
    const QString runDir = tmp_.filePath(QStringLiteral("cli/run"));
    const QVector<double> kl = metricsColumn(runDir, QStringLiteral("kl"));
    QVERIFY(kl.size() >= 3);
    const QByteArray lossCsv = readAll(out + QStringLiteral("/loss-curves.csv"));
    const QString klName = QStringLiteral("KL (teacher ‖ student)");
    QCOMPARE(csvValues(lossCsv, klName), kl);
    const QVector<double> smooth = csvValues(lossCsv, klName + QStringLiteral(", smoothed (EMA 0.60)"));
    QCOMPARE(smooth.size(), kl.size());
    double num = 0, den = 0;
    for (int i = 0; i < kl.size(); ++i) {
      num = 0.6 * num + 0.4 * kl[i];
      den = 0.6 * den + 0.4;
      QVERIFY(std::fabs(smooth[i] - num / den) <= 1e-9 * std::fabs(num / den));
    }
    // Coefficients of layer 1, head 3, one series per mask of the run's bank, named as in metrics.csv.
    QStringList header;
    metricsColumn(runDir, QStringLiteral("kl"), &header);
    const QByteArray coeffCsv = readAll(out + QStringLiteral("/coefficients.csv"));
    int masks = 0;
    for (const QString& column : header) {
      if (!column.startsWith(QStringLiteral("a.L1.H3."))) continue;
      ++masks;
      const QString name = QStringLiteral("L1 H3 ") + column.mid(8);
      QVector<double> expected;
      for (double v : metricsColumn(runDir, column)) expected << double(float(v));  // the app keeps α as float
      QCOMPARE(csvValues(coeffCsv, name), expected);
      QCOMPARE(csvValues(coeffCsv, name + QStringLiteral(", smoothed (EMA 0.60)")).size(), expected.size());
    }
    QVERIFY(masks >= 2);
    // A head that does not exist, and an empty prompt: exit 1 with a message.
    auto bad = attnx::test::runCli({"figures", "--run", tmp_.filePath(QStringLiteral("cli/run")), "--out", out, "--layer", "7"});
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains(QStringLiteral("does not exist")), qPrintable(bad.err));
    bad = attnx::test::runCli({"figures", "--run", tmp_.filePath(QStringLiteral("cli/run")), "--out", out, "--prompt", " "});
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains(QStringLiteral("empty")), qPrintable(bad.err));
  }
};

QTEST_MAIN(TestFigureExport)
#include "test_figure_export.moc"
