#include "ui/experiments/experiments_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <stdexcept>

#include "ui/experiments/experiment_loader.h"
#include "ui/experiments/experiment_sort_proxy.h"
#include "ui/experiments/experiment_table_model.h"
#include "ui/experiments/pareto_plot.h"
#include "ui/experiments/run_curves_plot.h"
#include "ui/export/figure_registry.h"

namespace attnx::ui {
namespace {

constexpr int kMaxIdColumnPx = 300;  // ids are long; the tool tip and an elided middle show the rest

QHBoxLayout* controlRow() {
  auto* row = new QHBoxLayout;
  row->setContentsMargins(4, 0, 4, 0);
  row->setSpacing(8);
  return row;
}

}  // namespace

ExperimentsView::ExperimentsView(QWidget* parent) : QWidget(parent) {
  model_ = new ExperimentTableModel(this);
  proxy_ = new ExperimentSortProxy(this);
  proxy_->setSourceModel(model_);

  auto* open = new QPushButton(tr("Open folder…"), this);
  open->setToolTip(tr("Open a study folder (attnx-cli study), a folder of run folders, or one run folder"));
  connect(open, &QPushButton::clicked, this, &ExperimentsView::chooseFolder);
  folderLabel_ = new QLabel(tr("No folder open"), this);
  folderLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* top = controlRow();
  top->addWidget(open);
  top->addWidget(folderLabel_, 1);

  table_ = new QTableView(this);
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(-1, Qt::AscendingOrder);  // the file's order until the user sorts
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setAlternatingRowColors(true);
  table_->setTextElideMode(Qt::ElideMiddle);
  table_->setWordWrap(false);
  table_->verticalHeader()->setVisible(false);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  table_->horizontalHeader()->setStretchLastSection(false);
  table_->setToolTip(tr("Click a header to sort; select rows (Ctrl / Shift for several) to overlay their runs' "
                        "curves; double-click a row to open its run"));
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ExperimentsView::onSelectionChanged);
  connect(table_, &QTableView::doubleClicked, this,
          [this](const QModelIndex& index) { requestRun(proxy_->mapToSource(index).row()); });

  // Table above (it needs the width for its columns), the scatter and the curves below, side by side.
  auto* plots = new QSplitter(Qt::Horizontal, this);
  plots->addWidget(buildScatterPane());
  plots->addWidget(buildCurvesPane());
  plots->setStretchFactor(0, 2);
  plots->setStretchFactor(1, 3);
  plots->setSizes({400, 600});  // scaled to the splitter's width when shown
  plots->setChildrenCollapsible(false);

  auto* main = new QSplitter(Qt::Vertical, this);
  main->addWidget(table_);
  main->addWidget(plots);
  main->setStretchFactor(0, 2);
  main->setStretchFactor(1, 3);
  main->setChildrenCollapsible(false);

  status_ = new QLabel(this);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(top);
  layout->addWidget(main, 1);
  layout->addWidget(status_);
  showStatus(tr("Open a study folder or a folder of runs to compare them."), false);
}

QWidget* ExperimentsView::buildScatterPane() {
  auto* pane = new QWidget(this);
  scatterMeasure_ = new QComboBox(pane);
  scatterMeasure_->addItem(tr("KL per token"));
  scatterMeasure_->addItem(tr("perplexity"));
  scatterMeasure_->setToolTip(tr("What the scatter's y axis shows against density"));
  scatterLength_ = new QComboBox(pane);
  scatterLength_->setToolTip(tr("Eval length n of the points shown (the study measured each plan at each n)"));
  scatterLength_->setVisible(false);
  scatterLog_ = new QCheckBox(tr("log y"), pane);
  scatterLog_->setToolTip(tr("Logarithmic y axis"));
  scatter_ = new ParetoPlot(pane);
  scatter_->setMinimumSize(320, 240);
  connect(scatterMeasure_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
    scatter_->setMetric(i == 0 ? ParetoPlot::Metric::KlPerToken : ParetoPlot::Metric::Perplexity);
  });
  connect(scatterLength_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
    if (i >= 0) scatter_->setLength(scatterLength_->itemData(i).toDouble());
  });
  connect(scatterLog_, &QCheckBox::toggled, this, [this](bool on) { scatter_->setLogY(on); });
  connect(scatter_, &ParetoPlot::rowClicked, this, &ExperimentsView::onScatterClicked);

  auto* controls = controlRow();
  controls->addWidget(new QLabel(tr("y:"), pane));
  controls->addWidget(scatterMeasure_);
  controls->addWidget(scatterLength_);
  controls->addWidget(scatterLog_);
  controls->addStretch(1);
  auto* layout = new QVBoxLayout(pane);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(controls);
  layout->addWidget(scatter_, 1);
  return pane;
}

QWidget* ExperimentsView::buildCurvesPane() {
  auto* pane = new QWidget(this);
  showTraining_ = new QCheckBox(tr("training KL"), pane);
  showTraining_->setChecked(true);
  showTraining_->setToolTip(tr("Also draw each run's per-step training KL (fainter) beside its validation KL"));
  curvesLog_ = new QCheckBox(tr("log y"), pane);
  curvesLog_->setToolTip(tr("Logarithmic y axes for both curve plots"));
  alphaMeasure_ = new QComboBox(pane);
  alphaMeasure_->addItem(tr("mean |α|"));
  alphaMeasure_->addItem(tr("Σ|α|"));
  alphaMeasure_->setToolTip(tr("Size of the coefficients per step, over every layer, head and mask of metrics.csv: "
                               "the mean compares runs with banks of different sizes"));
  klPlot_ = new RunCurvesPlot(RunCurvesPlot::Quantity::Kl, pane);
  alphaPlot_ = new RunCurvesPlot(RunCurvesPlot::Quantity::AlphaMean, pane);
  for (auto* p : {klPlot_, alphaPlot_}) p->setMinimumSize(260, 240);
  connect(showTraining_, &QCheckBox::toggled, this, [this](bool on) { klPlot_->setShowTraining(on); });
  connect(curvesLog_, &QCheckBox::toggled, this, [this](bool on) {
    klPlot_->setLogY(on);
    alphaPlot_->setLogY(on);
  });
  connect(alphaMeasure_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
    alphaPlot_->setQuantity(i == 0 ? RunCurvesPlot::Quantity::AlphaMean : RunCurvesPlot::Quantity::AlphaSum);
  });

  auto* controls = controlRow();
  controls->addWidget(new QLabel(tr("Selected runs:"), pane));
  controls->addWidget(showTraining_);
  controls->addWidget(curvesLog_);
  controls->addWidget(new QLabel(tr("coefficients:"), pane));
  controls->addWidget(alphaMeasure_);
  controls->addStretch(1);
  auto* curves = new QSplitter(Qt::Horizontal, pane);
  curves->addWidget(klPlot_);
  curves->addWidget(alphaPlot_);
  curves->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(pane);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(controls);
  layout->addWidget(curves, 1);
  return pane;
}

bool ExperimentsView::openFolder(const QString& dir, QString* error) {
  ExperimentSet set;
  try {
    set = readExperimentFolder(dir);
  } catch (const std::exception& e) {
    const QString message = QString::fromStdString(e.what());
    showStatus(tr("Could not open %1: %2").arg(QDir::toNativeSeparators(dir), message), true);
    if (error) *error = message;
    return false;
  }
  set_ = std::move(set);
  curves_.clear();
  curveErrors_.clear();
  table_->sortByColumn(-1, Qt::AscendingOrder);
  model_->setRows(set_.rows);
  scatter_->setRows(set_.rows);
  {
    const QSignalBlocker block(scatterLength_);
    scatterLength_->clear();
    for (double n : scatter_->lengths()) scatterLength_->addItem(QStringLiteral("n = %1").arg(n), n);
    scatterLength_->setVisible(scatterLength_->count() > 1);
  }
  klPlot_->setRuns({});
  alphaPlot_->setRuns({});
  fitColumns();
  folderLabel_->setText(QDir::toNativeSeparators(set_.dir));
  folderLabel_->setToolTip(folderLabel_->text());

  QStringList runs;
  for (const auto& r : set_.rows)
    if (!r.runFolder.isEmpty() && !runs.contains(r.runFolder)) runs << r.runFolder;
  switch (set_.source) {
    case ExperimentSet::Source::Study:
      loadStatus_ = tr("Study: %n result(s) from %1", nullptr, static_cast<int>(set_.rows.size())).arg(set_.sourceFile) +
                    tr(", %n run folder(s).", nullptr, static_cast<int>(runs.size()));
      break;
    case ExperimentSet::Source::RunFolders:
      loadStatus_ = tr("Folder of runs: %n run(s).", nullptr, static_cast<int>(set_.rows.size()));
      break;
    case ExperimentSet::Source::SingleRun:
      loadStatus_ = tr("One run folder.");
      break;
  }
  if (!set_.warnings.isEmpty()) loadStatus_ += QLatin1Char(' ') + tr("Problems: %1").arg(set_.warnings.join(QStringLiteral("; ")));
  showStatus(loadStatus_, !set_.warnings.isEmpty());
  // Every run's curves overlaid from the start (its first row selected), as TensorBoard shows all runs.
  QItemSelection first;
  QStringList seen;
  for (int row = 0; row < model_->rowCount(); ++row) {
    const QString run = model_->row(row).runFolder;
    if (run.isEmpty() || seen.contains(run)) continue;
    seen << run;
    const QModelIndex index = proxy_->mapFromSource(model_->index(row, 0));
    first.select(index, index);
  }
  if (!first.isEmpty()) table_->selectionModel()->select(first, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  return true;
}

int ExperimentsView::rowCount() const { return model_->rowCount(); }

QString ExperimentsView::statusText() const { return status_->text(); }

void ExperimentsView::showStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #a0271a;") : QString());
}

void ExperimentsView::fitColumns() {
  table_->resizeColumnsToContents();
  if (table_->columnWidth(ExperimentTableModel::Id) > kMaxIdColumnPx)
    table_->setColumnWidth(ExperimentTableModel::Id, kMaxIdColumnPx);
}

void ExperimentsView::chooseFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a study or a folder of runs"), set_.dir);
  if (!dir.isEmpty()) openFolder(dir);
}

QStringList ExperimentsView::selectedRunFolders() const {
  QList<int> proxyRows;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows()) proxyRows << index.row();
  std::sort(proxyRows.begin(), proxyRows.end());
  QStringList runs;
  for (int p : proxyRows) {
    const QString run = model_->row(proxy_->mapToSource(proxy_->index(p, 0)).row()).runFolder;
    if (!run.isEmpty() && !runs.contains(run)) runs << run;
  }
  return runs;
}

void ExperimentsView::onSelectionChanged() {
  QVector<int> rows;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows()) rows << proxy_->mapToSource(index).row();
  scatter_->setHighlightedRows(rows);

  QVector<RunCurves> shown;
  QStringList problems;
  for (const QString& run : selectedRunFolders()) {
    if (!curves_.contains(run) && !curveErrors_.contains(run)) {
      try {
        curves_.insert(run, readRunCurves(run));
      } catch (const std::exception& e) {
        curveErrors_.insert(run, QString::fromStdString(e.what()));
      }
    }
    if (curves_.contains(run))
      shown << curves_.value(run);
    else
      problems << curveErrors_.value(run);
  }
  klPlot_->setRuns(shown);
  alphaPlot_->setRuns(shown);
  if (problems.isEmpty())
    showStatus(loadStatus_, !set_.warnings.isEmpty());
  else
    showStatus(tr("No curves for: %1").arg(problems.join(QStringLiteral("; "))), true);
}

void ExperimentsView::onScatterClicked(int row) {
  const QModelIndex proxyIndex = proxy_->mapFromSource(model_->index(row, 0));
  if (proxyIndex.isValid()) {
    table_->selectionModel()->select(proxyIndex, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->selectionModel()->setCurrentIndex(proxyIndex, QItemSelectionModel::NoUpdate);
    table_->scrollTo(proxyIndex);
  }
  requestRun(row);
}

void ExperimentsView::requestRun(int row) {
  if (row < 0 || row >= model_->rowCount()) return;
  const ExperimentRow& r = model_->row(row);
  if (r.runFolder.isEmpty()) {
    showStatus(tr("%1 is a fixed plan: it has no run folder to open.").arg(r.id), false);
    return;
  }
  Q_EMIT openRunRequested(r.runFolder);
}

void ExperimentsView::registerFigures(FigureRegistry& registry) {
  registry.add(QStringLiteral("experiments-pareto"), tr("Experiments: Pareto scatter"),
               tr("Density against KL per token or perplexity: learned plans, fixed baselines and the learned front"),
               scatter_);
  registry.add(QStringLiteral("experiments-kl-curves"), tr("Experiments: KL of the selected runs"),
               tr("Validation and training KL against step, one colour per selected run"), klPlot_);
  registry.add(QStringLiteral("experiments-alpha-curves"), tr("Experiments: coefficients of the selected runs"),
               tr("Mean or summed |α| against step, one colour per selected run"), alphaPlot_);
}

}  // namespace attnx::ui
