// The runs table of the Experiments view: one row per result (ExperimentRow). Display text is
// rounded for reading; kSortRole gives numeric columns their number (NaN when the cell is empty) so
// a proxy sorts 0.05 before 0.4 and empty cells apart (ExperimentSortProxy).
#pragma once

#include <QAbstractTableModel>

#include "ui/experiments/experiment_row.h"

namespace attnx::ui {

class ExperimentTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Id, Kind, Family, Variant, Lambda, Combine, Seed, Density, Kl, Perplexity, Top1, ModelMs, ColumnCount };
  static constexpr int kSortRole = Qt::UserRole + 1;     // double (NaN = empty) or QString
  static constexpr int kRunFolderRole = Qt::UserRole + 2;  // QString, "" when the row has no run

  using QAbstractTableModel::QAbstractTableModel;

  void setRows(QVector<ExperimentRow> rows);
  const QVector<ExperimentRow>& rows() const { return rows_; }
  const ExperimentRow& row(int i) const { return rows_[i]; }
  static bool isNumeric(int column);

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  double number(const ExperimentRow& r, int column) const;
  QVector<ExperimentRow> rows_;
};

}  // namespace attnx::ui
