#include "ui/experiments/experiment_table_model.h"

#include <QColor>
#include <QLocale>

namespace attnx::ui {
namespace {

// Enough digits to tell study results apart (KL differs in the third significant digit), few
// enough that the columns stay narrow; the tool tip has the full value.
QString shown(double v, int column) {
  if (qIsNaN(v)) return QString();
  switch (column) {
    case ExperimentTableModel::Seed: return QString::number(static_cast<qint64>(v));
    case ExperimentTableModel::Perplexity: return QString::number(v, 'f', 2);
    case ExperimentTableModel::ModelMs: return QString::number(v, 'f', 1);
    case ExperimentTableModel::Lambda: return QString::number(v, 'g', 4);
    default: return QString::number(v, 'f', 4);
  }
}

}  // namespace

void ExperimentTableModel::setRows(QVector<ExperimentRow> rows) {
  beginResetModel();
  rows_ = std::move(rows);
  endResetModel();
}

bool ExperimentTableModel::isNumeric(int column) {
  switch (column) {
    case Lambda: case Seed: case Density: case Kl: case Perplexity: case Top1: case ModelMs: return true;
    default: return false;
  }
}

int ExperimentTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int ExperimentTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

double ExperimentTableModel::number(const ExperimentRow& r, int column) const {
  switch (column) {
    case Lambda: return r.lambdaL1;
    case Seed: return r.seed;
    case Density: return r.density;
    case Kl: return r.klPerToken;
    case Perplexity: return r.perplexity;
    case Top1: return r.top1;
    case ModelMs: return r.modelMs;
    default: return qQNaN();
  }
}

QVariant ExperimentTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rows_.size()) return {};
  const ExperimentRow& r = rows_[index.row()];
  const int c = index.column();
  if (role == kRunFolderRole) return r.runFolder;
  if (isNumeric(c)) {
    const double v = number(r, c);
    if (role == Qt::DisplayRole) return shown(v, c);
    if (role == kSortRole) return v;
    if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole) {
      if (qIsNaN(v)) return tr("not measured for this result");
      const QString full = QString::number(v, 'g', 10);
      return c == Kl && !r.klSource.isEmpty() ? full + QStringLiteral("\n") + r.klSource : full;
    }
    return {};
  }
  QString s;
  switch (c) {
    case Id: s = r.id; break;
    case Kind: s = r.kind; break;
    case Family: s = r.family; break;
    case Variant: s = r.variant; break;
    case Combine: s = r.combine; break;
    default: break;
  }
  if (role == Qt::DisplayRole || role == kSortRole) return s;
  if (role == Qt::ToolTipRole) {
    if (c == Id && !r.runFolder.isEmpty()) return tr("%1\nrun folder: %2 (double-click to open)").arg(r.id, r.runFolder);
    if (c == Id) return tr("%1\na fixed plan: no run folder").arg(r.id);
    return s;
  }
  // Learned and fixed plans told apart at a glance, as in the scatter.
  if (role == Qt::ForegroundRole && c == Kind && r.kind == QLatin1String("baseline")) return QColor(110, 110, 110);
  return {};
}

QVariant ExperimentTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  if (role == Qt::DisplayRole) {
    switch (section) {
      case Id: return tr("id");
      case Kind: return tr("kind");
      case Family: return tr("bank / family");
      case Variant: return tr("variant");
      case Lambda: return tr("λ₁");
      case Combine: return tr("combine");
      case Seed: return tr("seed");
      case Density: return tr("density");
      case Kl: return tr("KL / token");
      case Perplexity: return tr("perplexity");
      case Top1: return tr("top-1 agr.");
      case ModelMs: return tr("model ms");
      default: return {};
    }
  }
  if (role == Qt::ToolTipRole) {
    switch (section) {
      case Lambda: return tr("λ₁, the L1 weight on the coefficients, from the run's run.json or the study config");
      case Density: return tr("share of causal (query, key) pairs the plan attends, mean over heads");
      case Kl: return tr("KL(teacher ‖ student) per token: the study's held-out text, or a plain run's last validation KL");
      case Perplexity: return tr("student perplexity on the study's held-out text");
      case Top1: return tr("share of tokens where the student's top-1 prediction is the teacher's");
      case ModelMs: return tr("one forward pass of the student model, milliseconds");
      default: return {};
    }
  }
  return {};
}

}  // namespace attnx::ui
