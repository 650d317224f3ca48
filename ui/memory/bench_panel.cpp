#include "ui/memory/bench_panel.h"

#include <algorithm>

#include <QJsonObject>
#include <QCoreApplication>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QThread>
#include <QVBoxLayout>
#include "ui/plots/qcp.h"

#include "ui/export/figure_registry.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/log_ticker.h"

namespace attnx::ui {

namespace {
const QColor kPalette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                           QColor(148, 103, 189), QColor(140, 86, 75)};

void setupLogLogPlot(QCustomPlot* p, const QString& title, const QString& yLabel) {
  setPlotTitle(p, title);
  p->xAxis->setLabel(QObject::tr("sequence length n (tokens)"));
  p->yAxis->setLabel(yLabel);
  setLogAxis(p->xAxis);
  setLogAxis(p->yAxis);
  p->legend->setVisible(true);
  p->legend->setFont(QFont(p->font().family(), 8));
  placeLegendBelow(p, 3);  // off the data: the dense points crowd the top left
  p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  p->setMinimumSize(300, 220);
}
}  // namespace

BenchPanel::BenchPanel(QWidget* parent) : QWidget(parent) {
  program_ = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("attnx-cli"));
  seq_ = new QLineEdit(QStringLiteral("128,256,512,1024,2048"), this);
  seq_->setToolTip(tr("Sequence lengths to benchmark, comma-separated"));
  run_ = new QPushButton(tr("Run benchmark"), this);
  run_->setToolTip(tr("Run attnx-cli bench --attention-only in the background"));
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setToolTip(tr("Stop the benchmark"));
  cancel_->setEnabled(false);
  bar_ = new QProgressBar(this);
  bar_->setRange(0, 1);
  bar_->setValue(0);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  timePlot_ = new QCustomPlot(this);
  memoryPlot_ = new QCustomPlot(this);
  setupLogLogPlot(timePlot_, tr("Attention time against sequence length"), tr("time per call (ms)"));
  setupLogLogPlot(memoryPlot_, tr("Attention peak memory against sequence length"), tr("peak memory (MiB)"));

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Lengths"), this));
  controls->addWidget(seq_, 1);
  controls->addWidget(run_);
  controls->addWidget(cancel_);
  controls->addWidget(bar_, 1);
  auto* plots = new QHBoxLayout;
  plots->addWidget(timePlot_);
  plots->addWidget(memoryPlot_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(controls);
  layout->addWidget(status_);
  layout->addLayout(plots, 1);

  connect(run_, &QPushButton::clicked, this, &BenchPanel::start);
  connect(cancel_, &QPushButton::clicked, this, &BenchPanel::cancel);
  connect(&process_, &QProcess::readyReadStandardOutput, this, [this] { stdout_ += process_.readAllStandardOutput(); });
  connect(&process_, &QProcess::readyReadStandardError, this, &BenchPanel::readStderr);
  connect(&process_, &QProcess::finished, this, &BenchPanel::onFinished);
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e != QProcess::FailedToStart) return;
    run_->setEnabled(true);
    cancel_->setEnabled(false);
    setStatus(tr("Could not start %1: %2").arg(program_, process_.errorString()), true);
    Q_EMIT finished(false);
  });
  setStatus(tr("Times and peak memory of dense attention and the compiled plans, measured by attnx-cli bench."));
}

BenchPanel::~BenchPanel() {
  if (isRunning()) {
    process_.kill();
    process_.waitForFinished(2000);
  }
}

void BenchPanel::setProgram(const QString& program) { program_ = program; }
void BenchPanel::setExtraArguments(const QStringList& args) { extra_ = args; }
void BenchPanel::setSequenceLengths(const QString& commaSeparated) { seq_->setText(commaSeparated); }
QString BenchPanel::statusText() const { return status_->text(); }
int BenchPanel::progressValue() const { return bar_->value(); }

void BenchPanel::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

QStringList BenchPanel::arguments() const {
  QString seq = seq_->text();
  seq.remove(QLatin1Char(' '));
  // Our kernels on every core, as the benchmarks in bench/BENCH.md run them; dense keeps LibTorch's setting.
  return QStringList{QStringLiteral("bench"), QStringLiteral("--attention-only"), QStringLiteral("--seq"), seq,
                     QStringLiteral("--sparse-threads"), QString::number(std::max(1, QThread::idealThreadCount())),
                     QStringLiteral("--json")} + extra_;
}

void BenchPanel::start() {
  if (isRunning()) return;
  stdout_.clear();
  stderrTail_.clear();
  stderrBuffer_.clear();
  cancelled_ = false;
  bar_->setRange(0, 0);  // busy until the first progress line says how many steps there are
  run_->setEnabled(false);
  cancel_->setEnabled(true);
  setStatus(tr("Starting %1 %2").arg(program_, arguments().join(QLatin1Char(' '))));
  process_.start(program_, arguments());
}

void BenchPanel::cancel() {
  if (!isRunning()) return;
  cancelled_ = true;
  process_.kill();
}

void BenchPanel::readStderr() {
  const QByteArray chunk = process_.readAllStandardError();
  stderrTail_ = (stderrTail_ + chunk).right(2000);
  stderrBuffer_ += QString::fromUtf8(chunk);
  int newline;
  while ((newline = stderrBuffer_.indexOf(QLatin1Char('\n'))) >= 0) {
    const QString line = stderrBuffer_.left(newline);
    stderrBuffer_.remove(0, newline + 1);
    if (const auto p = parseBenchProgress(line)) {
      bar_->setRange(0, p->total);
      bar_->setValue(p->index);
      setStatus(tr("Benchmarking %1 at n = %2 (%3 of %4)\u2026").arg(p->plan).arg(p->n).arg(p->index).arg(p->total));
      Q_EMIT progress(p->index, p->total);
    }
  }
}

void BenchPanel::onFinished(int exitCode, QProcess::ExitStatus status) {
  stdout_ += process_.readAllStandardOutput();
  readStderr();  // progress lines still in the pipe
  if (!stderrBuffer_.isEmpty()) {
    stderrBuffer_ += QLatin1Char('\n');
    readStderr();
  }
  run_->setEnabled(true);
  cancel_->setEnabled(false);
  bar_->setRange(0, 1);
  if (cancelled_) {
    bar_->setValue(0);
    setStatus(tr("Benchmark cancelled."));
    Q_EMIT finished(false);
    return;
  }
  if (status != QProcess::NormalExit || exitCode != 0) {
    bar_->setValue(0);
    setStatus(tr("The benchmark failed (exit %1): %2").arg(exitCode).arg(QString::fromUtf8(stderrTail_).trimmed().right(400)), true);
    Q_EMIT finished(false);
    return;
  }
  try {
    showReport(parseBenchReport(stdout_));
  } catch (const std::exception& e) {
    setStatus(tr("Could not read the benchmark's output: %1").arg(QString::fromStdString(e.what())), true);
    Q_EMIT finished(false);
    return;
  }
  bar_->setValue(1);
  Q_EMIT finished(true);
}

void BenchPanel::showReport(const BenchReport& report) {
  report_ = report;
  for (QCustomPlot* p : {timePlot_, memoryPlot_}) p->clearGraphs();
  const QStringList plans = report.plans();
  int colour = 0, skipped = 0;
  for (const auto& r : report.rows) skipped += r.skipped ? 1 : 0;
  for (const QString& plan : plans) {
    const auto rows = report.rowsOf(plan);
    // Plans often coincide (equal peak memory): each its own dash and marker, later ones thinner.
    const int index = colour++;
    for (QCustomPlot* p : {timePlot_, memoryPlot_}) {
      auto* g = p->addGraph();
      g->setName(plan);
      setCsvSeriesName(g, plan);
      applyDistinctStyle(g, index, kPalette[index % 6]);
      for (const auto& r : rows) g->addData(r.n, p == timePlot_ ? r.timeMs : r.peakBytes / (1024.0 * 1024.0));
    }
  }
  for (QCustomPlot* p : {timePlot_, memoryPlot_}) {
    markCoincidentSeries(p);
    p->rescaleAxes();
    // Log axes need room on both sides of the extreme points to show them.
    p->xAxis->scaleRange(1.3, p->xAxis->range().center());
    p->yAxis->scaleRange(1.5, p->yAxis->range().center());
    p->replot();
  }
  // "AMD EPYC, 2 cores, load 7.1, LibTorch 1.13.0": the fields a reader needs to weigh the times.
  const QJsonObject& m = report.machine;
  QStringList machine;
  if (m.contains(QStringLiteral("cpu"))) machine << m.value(QStringLiteral("cpu")).toString();
  if (m.contains(QStringLiteral("logical_cores"))) machine << tr("%1 cores").arg(m.value(QStringLiteral("logical_cores")).toInt());
  if (m.contains(QStringLiteral("load_1min"))) machine << tr("load %1").arg(m.value(QStringLiteral("load_1min")).toDouble(), 0, 'f', 1);
  if (m.contains(QStringLiteral("torch"))) machine << tr("LibTorch %1").arg(m.value(QStringLiteral("torch")).toString());
  const QString threads = report.kernelThreads > 0
                              ? tr("kernels on %1 thread(s), dense on %2").arg(report.kernelThreads).arg(report.threads)
                              : tr("%1 thread(s)").arg(report.threads);
  setStatus(tr("%1 results for %2; %3%4; machine: %5.").arg(report.rows.size()).arg(plans.join(QStringLiteral(", ")))
                .arg(threads).arg(skipped ? tr(", %1 skipped").arg(skipped) : QString())
                .arg(machine.isEmpty() ? tr("not given") : machine.join(QStringLiteral(", "))));
}

void BenchPanel::registerFigures(FigureRegistry& registry) {
  registry.add(QStringLiteral("bench-time"), tr("Attention time against n"), tr("attnx-cli bench --attention-only: time per call, dense and compiled plans"), timePlot_);
  registry.add(QStringLiteral("bench-memory"), tr("Attention peak memory against n"), tr("attnx-cli bench --attention-only: peak memory, dense and compiled plans"), memoryPlot_);
}

}  // namespace attnx::ui
