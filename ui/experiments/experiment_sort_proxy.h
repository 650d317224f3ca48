// Sorts the runs table by number in numeric columns (0.05 before 0.4, not as text) and keeps empty
// cells at the bottom whichever way the column is sorted, so a sort by KL starts with measured rows.
#pragma once

#include <QSortFilterProxyModel>

namespace attnx::ui {

class ExperimentSortProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit ExperimentSortProxy(QObject* parent = nullptr);

 protected:
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

}  // namespace attnx::ui
