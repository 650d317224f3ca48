#include "ui/experiments/experiment_sort_proxy.h"

#include "ui/experiments/experiment_table_model.h"

namespace attnx::ui {

ExperimentSortProxy::ExperimentSortProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(ExperimentTableModel::kSortRole);
  setSortCaseSensitivity(Qt::CaseInsensitive);
}

bool ExperimentSortProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  if (!ExperimentTableModel::isNumeric(left.column())) return QSortFilterProxyModel::lessThan(left, right);
  const double a = left.data(sortRole()).toDouble(), b = right.data(sortRole()).toDouble();
  const bool aMissing = qIsNaN(a), bMissing = qIsNaN(b);
  // Qt reverses lessThan for a descending sort; answering "missing is greatest" when ascending and
  // "missing is least" when descending puts empty cells last both ways.
  if (aMissing || bMissing) {
    if (aMissing == bMissing) return false;
    return sortOrder() == Qt::AscendingOrder ? bMissing : aMissing;
  }
  return a < b;
}

}  // namespace attnx::ui
