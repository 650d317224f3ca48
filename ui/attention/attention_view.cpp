#include "ui/attention/attention_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QJsonObject>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ui/attention/attention_colors.h"
#include "ui/attention/head_grid.h"
#include "ui/attention/heatmap_plot.h"
#include "ui/attention/heatmap_sampling.h"
#include "ui/export/figure_registry.h"

namespace attnx::ui {

namespace {
constexpr int kThumbSide = 48;  // pooled cells per thumbnail side (drawn at HeadGrid::kThumbnail px)

QImage colourise(const std::vector<float>& cells, int side, bool isSigned) {
  QImage img(side, side, QImage::Format_ARGB32);
  float maxAbs = 0;
  for (float v : cells) maxAbs = std::max(maxAbs, std::fabs(v));
  if (maxAbs <= 0) maxAbs = 1;
  const QCPColorGradient g = isSigned ? differenceGradient() : weightGradient();
  const QCPRange range = isSigned ? QCPRange(-maxAbs, maxAbs) : QCPRange(0, maxAbs);
  std::vector<double> row(static_cast<size_t>(side));
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) row[static_cast<size_t>(c)] = cells[static_cast<size_t>(r) * side + c];
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(r));
    QCPColorGradient(g).colorize(row.data(), range, line, side);
  }
  return img;
}
// The overview's tag for a head kind (HeadRole::kind); none for a broad head.
QString roleBadge(const QString& kind) {
  if (kind == QLatin1String("previous-token")) return QStringLiteral("P");
  if (kind == QLatin1String("sink")) return QStringLiteral("S");
  if (kind == QLatin1String("self")) return QStringLiteral("I");
  if (kind == QLatin1String("delimiter")) return QStringLiteral("D");
  if (kind == QLatin1String("local")) return QStringLiteral("L");
  return QString();
}

QString roleNote(const HeadRole& r, double delimiterShare) {
  const auto f = [](double v) { return QString::number(v, 'f', 2); };
  return AttentionView::tr("Teacher head on this prompt: %1. Its attention: previous token %2, first token %3, itself %4, "
                           "delimiters %5 (%6% of the tokens), within %7 tokens %8")
      .arg(r.kind, f(r.previousToken), f(r.sink), f(r.self), f(r.delimiter))
      .arg(std::lround(100 * delimiterShare))
      .arg(AttentionMapSet::kRoleLocalWidth)
      .arg(f(r.local));
}
}  // namespace

AttentionView::AttentionView(QWidget* parent) : QWidget(parent) {
  pool_.setMaxThreadCount(1);  // one request computes at a time; newer ones supersede queued ones

  prompt_ = new QPlainTextEdit(this);
  prompt_->setPlaceholderText(tr("Type a prompt, then press Show (Ctrl+Return)"));
  prompt_->setToolTip(tr("The text whose attention is shown; longer than the model's context, it is cut to the context"));
  prompt_->setMaximumHeight(54);
  showButton_ = new QPushButton(tr("Show attention"), this);
  showButton_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  showButton_->setToolTip(tr("Compute teacher and student attention for the prompt (Ctrl+Return)"));
  studentCombo_ = new QComboBox(this);
  studentCombo_->addItems({tr("Soft student (all masks)"), tr("Pruned plan")});
  studentCombo_->setToolTip(tr("Which student to compare with GPT-2"));
  studentCombo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);  // not as wide as the plan's name
  studentCombo_->setMinimumContentsLength(20);
  layerSpin_ = new QSpinBox(this);
  layerSpin_->setToolTip(tr("Layer shown in the large heatmaps"));
  headSpin_ = new QSpinBox(this);
  headSpin_->setToolTip(tr("Head shown in the large heatmaps"));
  modeCombo_ = new QComboBox(this);
  modeCombo_->addItems({tr("Auto"), tr("Side by side"), tr("Teacher"), tr("Student"), tr("Difference")});
  modeCombo_->setToolTip(tr("Which large maps show: Auto puts teacher, student and difference side by side as far as "
                            "they fit at a readable size; or all three, or one map as large as the view allows"));
  scaleCombo_ = new QComboBox(this);
  scaleCombo_->addItems({tr("Row max"), tr("Log"), tr("Linear")});
  scaleCombo_->setToolTip(tr("Colour scale of the weights: each query row divided by its largest weight (every query's "
                             "focus shows), log, or the raw weight. The difference map is always linear."));
  squareCheck_ = new QCheckBox(tr("Square cells"), this);
  squareCheck_->setChecked(true);
  squareCheck_->setToolTip(tr("Keep the heatmaps' cells square (diagonals at 45°) instead of filling the panels"));
  gridCombo_ = new QComboBox(this);
  gridCombo_->addItems({tr("Teacher"), tr("Student"), tr("Difference")});
  gridCombo_->setToolTip(tr("What the overview thumbnails show (each scaled to its own maximum)"));
  // The pruned student's rule: the same four rules as attnx-cli's --prune-* options.
  ruleCombo_ = new QComboBox(this);
  ruleCombo_->addItems({tr("the run's plan"), tr("threshold α ≥"), tr("top-k per head"), tr("target density"),
                        tr("budget (profile)")});
  ruleCombo_->setToolTip(tr("How the learned α become the pruned plan: the run's plan.json (else threshold 0.05), or "
                            "one of the rules of attnx-cli --prune-threshold / --prune-top-k / --prune-target-density / "
                            "--prune-budget (the budget needs attnx-cli profile). Densities at the run's training length."));
  ruleValue_ = new QDoubleSpinBox(this);
  ruleValue_->setDecimals(3);
  ruleValue_->setVisible(false);
  applyRule_ = new QPushButton(tr("Apply"), this);
  applyRule_->setToolTip(tr("Rebuild the pruned student with this rule (every analysis view uses it)"));
  ruleLabel_ = new QLabel(this);
  ruleLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  klLabel_ = new QLabel(this);

  auto label = [this](const QString& text) { return new QLabel(text, this); };
  auto* promptRow = new QHBoxLayout;
  promptRow->addWidget(prompt_, 1);
  promptRow->addWidget(showButton_, 0, Qt::AlignTop);
  auto* controls = new QHBoxLayout;
  for (QWidget* w : std::initializer_list<QWidget*>{label(tr("Student")), studentCombo_, label(tr("Layer")), layerSpin_,
                                                    label(tr("Head")), headSpin_, label(tr("Maps")), modeCombo_,
                                                    label(tr("Scale")), scaleCombo_, squareCheck_, label(tr("Overview")), gridCombo_})
    controls->addWidget(w);
  controls->addStretch(1);
  auto* ruleRow = new QHBoxLayout;
  for (QWidget* w : std::initializer_list<QWidget*>{label(tr("Pruned plan")), ruleCombo_, ruleValue_, applyRule_})
    ruleRow->addWidget(w);
  ruleRow->addWidget(ruleLabel_, 1);

  grid_ = new HeadGrid(this);
  auto* gridScroll = new QScrollArea(this);
  gridScroll->setWidget(grid_);
  gridScroll->setWidgetResizable(true);
  gridScroll->setMinimumWidth(200);
  gridScroll_ = gridScroll;
  teacherPlot_ = new HeatmapPlot(this);
  studentPlot_ = new HeatmapPlot(this);
  diffPlot_ = new HeatmapPlot(this);
  mapsArea_ = new QWidget(this);
  auto* mapsLayout = new QHBoxLayout(mapsArea_);
  mapsLayout->setContentsMargins(0, 0, 0, 0);
  for (HeatmapPlot* p : {teacherPlot_, studentPlot_, diffPlot_}) mapsLayout->addWidget(p, 1);
  auto* plots = new QSplitter(Qt::Horizontal, this);
  plots->addWidget(gridScroll);
  plots->addWidget(mapsArea_);
  plots->setStretchFactor(0, 0);
  plots->setStretchFactor(1, 1);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(promptRow);
  layout->addLayout(controls);
  layout->addLayout(ruleRow);
  layout->addWidget(status_);
  layout->addWidget(plots, 1);
  layout->addWidget(klLabel_);

  connect(showButton_, &QPushButton::clicked, this, &AttentionView::requestMaps);
  connect(studentCombo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    if (data_.maps) requestMaps();
  });
  connect(layerSpin_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int l) { selectHead(l, headSpin_->value()); });
  connect(headSpin_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int h) { selectHead(layerSpin_->value(), h); });
  connect(modeCombo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { updateVisiblePlots(); });
  connect(scaleCombo_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this](int i) { setScale(static_cast<HeatmapScale>(i)); });
  connect(squareCheck_, &QCheckBox::toggled, this, &AttentionView::setSquareCells);
  connect(gridCombo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { refreshOverview(); });
  connect(grid_, &HeadGrid::headClicked, this, &AttentionView::selectHead);
  connect(ruleCombo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int kind) { showRuleKind(kind, true); });
  connect(applyRule_, &QPushButton::clicked, this, [this] {
    if (!session_ || !session_->isLoaded()) {
      setStatus(tr("No run is open: the pruning rule applies to an opened run's learned α."), true);
      return;
    }
    setStatus(tr("Rebuilding the pruned student\u2026"));
    Q_EMIT pruningRuleRequested(pruningRule());
  });
  // Zoom and pan one heatmap, the others follow.
  for (HeatmapPlot* p : {teacherPlot_, studentPlot_, diffPlot_}) {
    p->setSquareCells(true);
    connect(p, &HeatmapPlot::visibleRangeChanged, this, [this, p](const QCPRange& keys, const QCPRange& queries) {
      if (syncing_) return;
      syncing_ = true;
      for (HeatmapPlot* other : {teacherPlot_, studentPlot_, diffPlot_})
        if (other != p) other->setVisibleRange(keys, queries);
      syncing_ = false;
    });
  }
  ruleLabel_->setText(tr("open a run to see its plan"));
  updateVisiblePlots();
  setStatus(tr("Open a run, type a prompt and press Show attention."));
}

std::optional<attnx::PruningRule> AttentionView::pruningRule() const {
  const double v = ruleValue_->value();
  switch (ruleCombo_->currentIndex()) {
    case 1: return attnx::PruningRule::thresholdRule(v);
    case 2: return attnx::PruningRule::topKRule(std::max<int64_t>(1, std::llround(v)));
    case 3: return attnx::PruningRule::targetDensityRule(v, 1);  // measured at the run's length (RunSession)
    case 4: return attnx::PruningRule::budgetRule(v, 1);
    default: return std::nullopt;
  }
}

void AttentionView::showRuleKind(int kind, bool startValue) {
  // Each rule's range and, when it is newly chosen, a sensible starting value.
  const QSignalBlocker b(ruleValue_);
  ruleValue_->setVisible(kind > 0);  // the run's plan takes no value
  const bool count = kind == 2;
  ruleValue_->setDecimals(count ? 0 : 3);
  ruleValue_->setRange(kind == 1 ? 0.0 : count ? 1.0 : 0.001, kind == 1 ? 10.0 : count ? 64.0 : 1.0);
  ruleValue_->setSingleStep(kind == 1 ? 0.01 : count ? 1.0 : 0.05);
  if (startValue) ruleValue_->setValue(kind == 1 ? 0.05 : count ? 2.0 : 0.25);
}

void AttentionView::setPruningRule(const std::optional<attnx::PruningRule>& rule) {
  using K = attnx::PruningRule::Kind;
  const QSignalBlocker b(ruleCombo_);
  if (!rule) {
    ruleCombo_->setCurrentIndex(0);
    showRuleKind(0, false);
    return;
  }
  const int index = rule->kind == K::Threshold ? 1 : rule->kind == K::TopK ? 2 : rule->kind == K::TargetDensity ? 3 : 4;
  ruleCombo_->setCurrentIndex(index);
  showRuleKind(index, false);
  ruleValue_->setValue(rule->kind == K::Threshold ? rule->threshold
                       : rule->kind == K::TopK    ? static_cast<double>(rule->topK)
                                                  : rule->targetDensity);
}

void AttentionView::showRuleInForm(const RunSummary& s) {
  setPruningRule(s.prunedRule);
  ruleLabel_->setText(tr("%1 \u2014 mean density %2 at n = %3").arg(s.prunedDescription)
                          .arg(s.prunedDensity, 0, 'f', 3).arg(s.trainedSeqLen));
}

AttentionMapMode AttentionView::mapMode() const { return static_cast<AttentionMapMode>(modeCombo_->currentIndex()); }

void AttentionView::setMapMode(AttentionMapMode mode) { modeCombo_->setCurrentIndex(static_cast<int>(mode)); }

QList<HeatmapPlot*> AttentionView::visiblePlots() const {
  QList<HeatmapPlot*> out;
  for (HeatmapPlot* p : {teacherPlot_, studentPlot_, diffPlot_})
    if (!p->isHidden()) out << p;
  return out;
}

void AttentionView::updateVisiblePlots() {
  bool show[3] = {true, true, true};
  switch (mapMode()) {
    case AttentionMapMode::Auto: {
      // As many as fit at a readable width, in the order teacher, student, difference.
      const int fit = std::clamp(mapsArea_->width() / kAutoMapWidth, 1, 3);
      for (int i = 0; i < 3; ++i) show[i] = i < fit;
      break;
    }
    case AttentionMapMode::SideBySide: break;
    case AttentionMapMode::Teacher: show[1] = show[2] = false; break;
    case AttentionMapMode::Student: show[0] = show[2] = false; break;
    case AttentionMapMode::Difference: show[0] = show[1] = false; break;
  }
  HeatmapPlot* plots[3] = {teacherPlot_, studentPlot_, diffPlot_};
  for (int i = 0; i < 3; ++i) plots[i]->setVisible(show[i]);
}

void AttentionView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (mapMode() == AttentionMapMode::Auto) QMetaObject::invokeMethod(this, [this] { updateVisiblePlots(); }, Qt::QueuedConnection);
}

AttentionView::~AttentionView() {
  if (cancelCurrent_) cancelCurrent_->store(true);
  pool_.clear();
  pool_.waitForDone();
}

void AttentionView::setSession(std::shared_ptr<AnalysisSession> session) {
  session_ = std::move(session);
  if (!session_ || !session_->isLoaded()) return;
  const auto s = session_->summary();
  layerSpin_->setRange(0, s.layers - 1);
  headSpin_->setRange(0, s.heads - 1);
  studentCombo_->setItemText(1, tr("Pruned: %1").arg(s.prunedDescription));
  showRuleInForm(s);
  if (data_.maps && !prompt_->toPlainText().trimmed().isEmpty()) requestMaps();  // the shown maps were another session's
  if (!data_.maps)
    setStatus(tr("Run %1 (teacher %2, %3 layers x %4 heads, context %5 tokens).")
                  .arg(s.runDir, s.teacherDir).arg(s.layers).arg(s.heads).arg(s.context) +
              (s.teacherNote.isEmpty() ? QString() : QLatin1Char(' ') + s.teacherNote + QLatin1Char('.')));
}

void AttentionView::setPrompt(const QString& prompt) { prompt_->setPlainText(prompt); }
void AttentionView::setStudentKind(StudentKind kind) { studentCombo_->setCurrentIndex(kind == StudentKind::Soft ? 0 : 1); }

QString AttentionView::statusText() const { return status_->text(); }

void AttentionView::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void AttentionView::setBusy(bool busy) {
  if (busy_ == busy) return;
  busy_ = busy;
  Q_EMIT busyChanged(busy);
}

AttentionViewData AttentionView::prepare(const AnalysisSession& session, const QString& prompt, StudentKind student,
                                         const std::atomic<bool>* cancelled) {
  AttentionViewData d;
  auto maps = session.attentionMaps(prompt, student, cancelled);
  if (!maps) return d;
  d.side = std::min(kThumbSide, maps->n);
  for (int l = 0; l < maps->layers; ++l)
    for (int h = 0; h < maps->heads; ++h) {
      if (cancelled && cancelled->load()) return {};
      const float* t = maps->teacherHead(l, h);
      const float* s = maps->studentHead(l, h);
      d.thumbnails[0].push_back(poolExtreme(t, maps->n, 0, maps->n, 0, maps->n, d.side, d.side));
      d.thumbnails[1].push_back(poolExtreme(s, maps->n, 0, maps->n, 0, maps->n, d.side, d.side));
      const auto diff = difference(t, s, maps->n);
      d.thumbnails[2].push_back(poolExtreme(diff.data(), maps->n, 0, maps->n, 0, maps->n, d.side, d.side));
    }
  d.maps = std::move(maps);
  return d;
}

void AttentionView::requestMaps() {
  if (!session_ || !session_->isLoaded()) {
    setStatus(tr("No run is open: open a run folder made by attnx-cli distill first."), true);
    return;
  }
  const QString prompt = prompt_->toPlainText();
  if (prompt.trimmed().isEmpty()) {
    setStatus(tr("The prompt is empty: type some text to see its attention."), true);
    Q_EMIT failed(status_->text());
    return;
  }
  // Latest wins: the request in flight is told to stop, queued ones never start.
  if (cancelCurrent_) cancelCurrent_->store(true);
  pool_.clear();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  cancelCurrent_ = cancel;
  const quint64 id = ++latest_;
  const StudentKind kind = studentCombo_->currentIndex() == 0 ? StudentKind::Soft : StudentKind::Pruned;
  setBusy(true);
  setStatus(tr("Computing attention\u2026"));
  auto session = session_;
  pool_.start([this, session, prompt, kind, cancel, id] {
    if (cancel->load()) return;
    try {
      auto data = prepare(*session, prompt, kind, cancel.get());
      if (!data.maps) return;
      QMetaObject::invokeMethod(this, [this, id, data = std::move(data)]() mutable { applyResult(id, std::move(data)); },
                                Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const QString message = QString::fromStdString(e.what());
      QMetaObject::invokeMethod(this, [this, id, message] { applyError(id, message); }, Qt::QueuedConnection);
    }
  });
}

void AttentionView::applyError(quint64 id, const QString& message) {
  if (id != latest_) return;
  setBusy(false);
  setStatus(message, true);
  Q_EMIT failed(message);
}

void AttentionView::applyResult(quint64 id, AttentionViewData data) {
  if (id != latest_) return;  // a newer request superseded this one
  setBusy(false);
  showData(data);
}

void AttentionView::showData(const AttentionViewData& data) {
  if (!data.maps) return;
  data_ = data;
  const auto& m = *data_.maps;
  const QSignalBlocker b(studentCombo_);
  studentCombo_->setCurrentIndex(m.student == StudentKind::Soft ? 0 : 1);
  layerSpin_->setRange(0, m.layers - 1);
  headSpin_->setRange(0, m.heads - 1);
  QString text = tr("%n token(s).", nullptr, m.n);
  if (m.prompt.truncated())
    text = tr("The prompt has %1 tokens but the model's context is %2: showing the first %2.")
               .arg(m.prompt.originalTokens).arg(m.n);
  const double meanKl = std::accumulate(m.headKl.begin(), m.headKl.end(), 0.0) / std::max<size_t>(1, m.headKl.size());
  setStatus(text + tr(" Mean attention KL(teacher \u2016 student) over heads: %1 nats.").arg(meanKl, 0, 'f', 4));
  refreshOverview();
  selectHead(std::min(layerSpin_->value(), m.layers - 1), std::min(headSpin_->value(), m.heads - 1));
  Q_EMIT mapsShown();
}

void AttentionView::refreshOverview() {
  if (!data_.maps) {
    grid_->clear();
    return;
  }
  const int which = gridCombo_->currentIndex();
  std::vector<QImage> images;
  QStringList captions;
  for (size_t i = 0; i < data_.thumbnails[which].size(); ++i) {
    images.push_back(colourise(data_.thumbnails[which][i], data_.side, which == 2));
    captions << QString::number(data_.maps->headKl[i], 'f', 3);
  }
  grid_->setHeads(data_.maps->layers, data_.maps->heads, std::move(images), captions);
  const QString student = data_.maps->student == StudentKind::Soft ? tr("soft student") : tr("pruned student");
  grid_->setExportTitle(tr("Attention of every layer and head: %1").arg(gridCombo_->currentText().toLower()),
                        tr("Captions: KL(teacher \u2016 %1) per head, nats, mean over %2 query tokens").arg(student).arg(data_.maps->n));
  QStringList badges, notes;
  for (const HeadRole& role : data_.maps->teacherRoles) {
    badges << roleBadge(role.kind);
    notes << roleNote(role, data_.maps->delimiterShare);
  }
  grid_->setHeadRoles(badges, notes);
  // Room for every head of a row (up to 12 heads); more scroll sideways.
  gridScroll_->setMinimumWidth(std::min(grid_->sizeHint().width() + 24, 12 * (HeadGrid::kThumbnail + 4) + 40));
  grid_->setSelected(layerSpin_->value(), headSpin_->value());
}

void AttentionView::selectHead(int layer, int head) {
  {
    const QSignalBlocker bl(layerSpin_), bh(headSpin_);
    layerSpin_->setValue(layer);
    headSpin_->setValue(head);
  }
  grid_->setSelected(layer, head);
  if (!data_.maps) return;
  QElapsedTimer timer;
  timer.start();
  const auto& m = *data_.maps;
  const size_t nn = static_cast<size_t>(m.n) * m.n;
  const float* t = m.teacherHead(layer, head);
  const float* s = m.studentHead(layer, head);
  auto teacher = std::make_shared<const std::vector<float>>(t, t + nn);
  auto student = std::make_shared<const std::vector<float>>(s, s + nn);
  auto diff = std::make_shared<const std::vector<float>>(difference(t, s, m.n));
  const QString where = tr("layer %1, head %2").arg(layer).arg(head);
  const QString studentName = m.student == StudentKind::Soft ? tr("Soft student") : tr("Pruned student");
  teacherPlot_->setMatrix(teacher, m.n, m.prompt.tokenLabels, false);
  teacherPlot_->setTitle(tr("GPT-2 teacher, %1").arg(where));
  studentPlot_->setMatrix(student, m.n, m.prompt.tokenLabels, false);
  studentPlot_->setTitle(tr("%1, %2").arg(studentName, where));
  diffPlot_->setMatrix(diff, m.n, m.prompt.tokenLabels, true);
  diffPlot_->setTitle(tr("Teacher \u2212 student, %1").arg(where));
  lastDisplayMs_ = timer.nsecsElapsed() / 1e6;
  klLabel_->setText(tr("KL(teacher \u2016 student) of %1, mean over queries: %2 nats   \u2014   display %3 ms for %4 tokens")
                        .arg(where).arg(m.headKl[static_cast<size_t>(layer) * m.heads + head], 0, 'f', 4)
                        .arg(lastDisplayMs_, 0, 'f', 1).arg(m.n));
}

void AttentionView::setLogScale(bool log) { setScale(log ? HeatmapScale::Log : HeatmapScale::Linear); }

void AttentionView::setScale(HeatmapScale scale) {
  {
    const QSignalBlocker b(scaleCombo_);
    scaleCombo_->setCurrentIndex(static_cast<int>(scale));
  }
  for (HeatmapPlot* p : {teacherPlot_, studentPlot_, diffPlot_}) p->setScale(scale);
}

void AttentionView::setSquareCells(bool square) {
  {
    const QSignalBlocker b(squareCheck_);
    squareCheck_->setChecked(square);
  }
  for (HeatmapPlot* p : {teacherPlot_, studentPlot_, diffPlot_}) p->setSquareCells(square);
}

void AttentionView::registerFigures(FigureRegistry& registry) {
  // Each figure's index.json entry names what it shows: the prompt, layer and head, the student.
  auto context = [this](bool oneHead) {
    return [this, oneHead] {
      QJsonObject c;
      if (!data_.maps) return c;
      const auto& m = *data_.maps;
      QStringList ids;
      for (int id : m.prompt.ids) ids << QString::number(id);
      c.insert(QStringLiteral("prompt"), prompt_->toPlainText());
      c.insert(QStringLiteral("tokens"), m.n);
      c.insert(QStringLiteral("student"), m.student == StudentKind::Soft ? QStringLiteral("soft") : QStringLiteral("pruned"));
      if (m.student == StudentKind::Pruned && session_) c.insert(QStringLiteral("pruned_plan"), session_->summary().prunedDescription);
      if (oneHead) {
        c.insert(QStringLiteral("layer"), layerSpin_->value());
        c.insert(QStringLiteral("head"), headSpin_->value());
        c.insert(QStringLiteral("colour_scale"), scaleCombo_->currentText());
      } else {
        c.insert(QStringLiteral("thumbnails"), gridCombo_->currentText());
      }
      return c;
    };
  };
  registry.add(QStringLiteral("attention-teacher"), tr("Teacher attention"), tr("GPT-2 attention weights of the selected layer and head"),
               teacherPlot_, context(true));
  registry.add(QStringLiteral("attention-student"), tr("Student attention"), tr("The student's attention weights of the selected layer and head"),
               studentPlot_, context(true));
  registry.add(QStringLiteral("attention-difference"), tr("Attention difference"), tr("Teacher minus student weights of the selected layer and head"),
               diffPlot_, context(true));
  registry.add(QStringLiteral("attention-overview"), tr("Attention overview"), tr("Every layer and head, captioned with its attention KL"),
               grid_, context(false));
}

}  // namespace attnx::ui
