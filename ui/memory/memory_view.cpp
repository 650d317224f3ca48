#include "ui/memory/memory_view.h"

#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>
#include "ui/plots/qcp.h"

#include "core/bench/memory_probe.h"
#include "ui/export/figure_registry.h"
#include "ui/memory/bench_panel.h"
#include "ui/memory/memory_gauge.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/log_ticker.h"

namespace attnx::ui {

MemoryView::MemoryView(QWidget* parent) : QWidget(parent) {
  pool_.setMaxThreadCount(1);
  processGauge_ = new MemoryGauge(tr("This process (resident set)"), this);
  teacherGauge_ = new MemoryGauge(tr("Teacher: weights, peak of one forward"), this);
  studentGauge_ = new MemoryGauge(tr("Student: weights + coefficients, peak of one forward"), this);
  length_ = new QSpinBox(this);
  length_->setRange(1, 1 << 20);
  length_->setValue(512);
  length_->setToolTip(tr("Sequence length n of the cost table and of the measured forward passes"));
  measure_ = new QPushButton(tr("Measure forward memory"), this);
  measure_->setToolTip(tr("Run one teacher and one student forward of n tokens and record their peak tensor memory"));
  note_ = new QLabel(tr("Teacher and student peaks: the weights plus the tensor bytes one forward pass allocates at "
                        "its peak (activations, scores, logits), counted exactly by a tracking allocator installed in "
                        "LibTorch. The process bar is the resident set, weights, libraries and caches included. "
                        "CPU only: no CUDA device is used."), this);
  note_->setWordWrap(true);
  table_ = new QTableWidget(3, 4, this);
  table_->setHorizontalHeaderLabels({tr("density"), tr("attention GFLOP"), tr("attention MiB"), tr("vs dense")});
  table_->setVerticalHeaderLabels({tr("dense"), tr("soft student"), tr("pruned student")});
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setFixedHeight(table_->horizontalHeader()->sizeHint().height() + 3 * table_->verticalHeader()->defaultSectionSize() + 4);
  table_->setToolTip(tr("Analytic cost of attention for one sequence of n tokens, all layers and heads (4d FLOPs per attended pair)"));
  costPlot_ = new QCustomPlot(this);
  setPlotTitle(costPlot_, tr("Analytic attention FLOPs against n"));
  costPlot_->xAxis->setLabel(tr("sequence length n (tokens)"));
  costPlot_->yAxis->setLabel(tr("attention FLOPs per sequence"));
  setLogAxis(costPlot_->xAxis);
  setLogAxis(costPlot_->yAxis);
  costPlot_->legend->setVisible(true);
  costPlot_->legend->setFont(QFont(font().family(), 8));
  placeLegendBelow(costPlot_, 3);
  costPlot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  costPlot_->setMinimumSize(300, 220);
  bench_ = new BenchPanel(this);

  auto* gauges = new QGroupBox(tr("Memory"), this);
  auto* g = new QVBoxLayout(gauges);
  g->addWidget(processGauge_);
  g->addWidget(teacherGauge_);
  g->addWidget(studentGauge_);
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(tr("n"), this));
  row->addWidget(length_);
  row->addWidget(measure_);
  row->addStretch(1);
  g->addLayout(row);
  g->addWidget(note_);
  auto* cost = new QGroupBox(tr("Analytic attention cost"), this);
  auto* c = new QVBoxLayout(cost);
  c->addWidget(table_);
  c->addWidget(costPlot_, 1);
  auto* top = new QHBoxLayout;
  top->addWidget(gauges, 1);
  top->addWidget(cost, 1);
  auto* benchBox = new QGroupBox(tr("Benchmark: dense attention, the fixed plans and this run's plan"), this);
  auto* b = new QVBoxLayout(benchBox);
  b->addWidget(bench_);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top, 1);
  layout->addWidget(benchBox, 1);

  connect(measure_, &QPushButton::clicked, this, &MemoryView::measure);
  connect(length_, qOverload<int>(&QSpinBox::valueChanged), this, [this] { refreshAnalytic(); });
  connect(&poll_, &QTimer::timeout, this, &MemoryView::refreshProcessGauge);
  poll_.start(1000);
  refreshProcessGauge();
}

MemoryView::~MemoryView() { pool_.waitForDone(); }

void MemoryView::setSession(std::shared_ptr<AnalysisSession> session) {
  session_ = std::move(session);
  if (!session_ || !session_->isLoaded()) return;
  const auto s = session_->summary();
  length_->setMaximum(s.context);
  length_->setValue(std::min(s.context, std::max(s.trainedSeqLen, 1)));
  if (!s.runDir.isEmpty()) setRunFolder(s.runDir);
  // Until measured, the gauges hold the weights alone, which teacher and student share: say so
  // rather than show two equal bars as if they were measurements.
  const qint64 weights = s.teacherParameterBytes;
  teacherGauge_->setValues(weights, weights, tr("weights %1; forward not measured yet").arg(MemoryGauge::formatBytes(weights)));
  studentGauge_->setValues(weights + s.studentExtraBytes, weights + s.studentExtraBytes,
                           tr("the teacher's weights + %1 of coefficients; forward not measured yet")
                               .arg(MemoryGauge::formatBytes(s.studentExtraBytes)));
  refreshAnalytic();
}

namespace {
// attnx-cli's --prune-* option for a rule (none: the run's own plan), so the benchmark times the plan
// the analysis views show.
QStringList pruningArguments(const std::optional<attnx::PruningRule>& rule) {
  using K = attnx::PruningRule::Kind;
  if (!rule) return {};
  switch (rule->kind) {
    case K::Threshold: return {QStringLiteral("--prune-threshold"), QString::number(rule->threshold, 'g', 17)};
    case K::TopK: return {QStringLiteral("--prune-top-k"), QString::number(rule->topK)};
    case K::TargetDensity: return {QStringLiteral("--prune-target-density"), QString::number(rule->targetDensity, 'g', 17)};
    case K::Budget: return {QStringLiteral("--prune-budget"), QString::number(rule->targetDensity, 'g', 17)};
  }
  return {};
}
}  // namespace

void MemoryView::setRunFolder(const QString& dir) {
  runFolder_ = dir;
  QStringList extra;
  if (!dir.isEmpty()) {
    extra << QStringLiteral("--run") << dir;
    if (session_ && session_->isLoaded() && session_->summary().runDir == dir) extra << pruningArguments(session_->summary().prunedRule);
  }
  bench_->setExtraArguments(extra);
}

void MemoryView::setLength(int n) { length_->setValue(n); }

void MemoryView::refreshProcessGauge() {
  const auto m = residentMemory();
  processGauge_->setValues(m.currentBytes, m.peakBytes, tr("peak since start or the last measurement"));
}

void MemoryView::measure() {
  if (!session_ || !session_->isLoaded()) return;
  measure_->setEnabled(false);
  const int n = length_->value();
  auto session = session_;
  pool_.start([this, session, n] {
    const StudentKind student = StudentKind::Soft;
    const auto t = session->measureForward(nullptr, n);
    const auto s = session->measureForward(&student, n);
    QMetaObject::invokeMethod(this, [this, t, s, session] {
      const auto sum = session->summary();
      const qint64 w = sum.teacherParameterBytes, ws = w + sum.studentExtraBytes;
      // Two separate forwards, each with its own tracked peak: the notes give the forward's own
      // tensor bytes, which differ even where the bars (weights included) look alike.
      teacherGauge_->setValues(w, w + t.tensorPeakBytes,
                               tr("teacher forward of %1 tokens: +%2 tensors at peak, %3 ms")
                                   .arg(t.n).arg(MemoryGauge::formatBytes(t.tensorPeakBytes)).arg(t.milliseconds, 0, 'f', 1));
      // Equal peaks are a finding, not a bug: both forwards peak at the logits (n × vocab fp32), which
      // dwarf the attention scores of a short sequence. Say so beside the numbers.
      const double logits = double(s.n) * sum.vocab * 4;
      const bool same = std::llabs(t.tensorPeakBytes - s.tensorPeakBytes) <= std::max<qint64>(t.tensorPeakBytes, 1) / 100;
      studentGauge_->setValues(ws, ws + s.tensorPeakBytes,
                               tr("soft-student forward of %1 tokens: +%2 tensors at peak, %3 ms%4")
                                   .arg(s.n).arg(MemoryGauge::formatBytes(s.tensorPeakBytes)).arg(s.milliseconds, 0, 'f', 1)
                                   .arg(same && logits >= 0.5 * s.tensorPeakBytes
                                            ? tr("; the same peak as the teacher: the logits (%1) dominate both, the attention's "
                                                 "own cost is in the table").arg(MemoryGauge::formatBytes(logits))
                                            : QString()));
      const qint64 full = std::max(teacherGauge_->peakBytes(), studentGauge_->peakBytes()) * 5 / 4;
      teacherGauge_->setFullScale(full);
      studentGauge_->setFullScale(full);
      measure_->setEnabled(true);
      refreshProcessGauge();
      Q_EMIT measured();
    }, Qt::QueuedConnection);
  });
}

void MemoryView::refreshAnalytic() {
  if (!session_ || !session_->isLoaded()) return;
  const int n = length_->value();
  const auto c = session_->analyticCost(n);
  const double flops[3] = {c.denseFlops, c.softFlops, c.prunedFlops};
  const double bytes[3] = {c.denseBytes, c.softBytes, c.prunedBytes};
  const double density[3] = {1.0, c.softDensity, c.prunedDensity};
  for (int r = 0; r < 3; ++r) {
    auto set = [&](int col, const QString& text) { table_->setItem(r, col, new QTableWidgetItem(text)); };
    set(0, QString::number(density[r], 'f', 4));
    set(1, QString::number(flops[r] / 1e9, 'g', 4));
    set(2, QString::number(bytes[r] / (1024.0 * 1024.0), 'g', 4));
    set(3, r == 0 ? QStringLiteral("1") : QStringLiteral("%1\u00D7 fewer FLOPs").arg(flops[0] / std::max(flops[r], 1.0), 0, 'f', 2));
  }
  costPlot_->clearGraphs();
  const QString names[3] = {tr("dense"), tr("soft student"), tr("pruned student")};
  const QColor colours[3] = {QColor(80, 80, 80), QColor(31, 119, 180), QColor(214, 39, 40)};
  const int context = session_->summary().context;
  // Analytic cost at every power of two up to the context (and the context itself), as one curve per plan.
  QVector<int> lengths;
  for (int x = 16; x < context; x *= 2) lengths << x;
  lengths << context;
  for (int k = 0; k < 3; ++k) {
    auto* g = costPlot_->addGraph();
    g->setName(names[k]);
    setCsvSeriesName(g, names[k]);
    applyDistinctStyle(g, k, colours[k]);  // the soft student's curve is often the dense one
  }
  for (int x : lengths) {
    const auto cx = session_->analyticCost(x);
    costPlot_->graph(0)->addData(x, cx.denseFlops);
    costPlot_->graph(1)->addData(x, cx.softFlops);
    costPlot_->graph(2)->addData(x, cx.prunedFlops);
  }
  markCoincidentSeries(costPlot_);
  costPlot_->rescaleAxes();
  costPlot_->xAxis->scaleRange(1.3, costPlot_->xAxis->range().center());
  costPlot_->yAxis->scaleRange(1.5, costPlot_->yAxis->range().center());
  costPlot_->replot();
}

void MemoryView::registerFigures(FigureRegistry& registry) {
  registry.add(QStringLiteral("analytic-cost"), tr("Analytic attention FLOPs"), tr("Attention FLOPs against n: dense, soft and pruned student"), costPlot_);
  bench_->registerFigures(registry);
}

}  // namespace attnx::ui
