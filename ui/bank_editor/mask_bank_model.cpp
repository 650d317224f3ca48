#include "ui/bank_editor/mask_bank_model.h"

#include <QIcon>
#include <QMimeData>
#include <QPixmap>

#include "ui/bank_editor/bank_commands.h"
#include "ui/bank_editor/mask_image.h"

namespace attnx::ui {

MaskBankModel::MaskBankModel(QObject* parent) : QAbstractListModel(parent) {
  connect(&undo_, &QUndoStack::indexChanged, this, &MaskBankModel::bankChanged);
}

void MaskBankModel::setBank(MaskBank bank) {
  beginResetModel();
  bank_ = std::move(bank);
  endResetModel();
  undo_.clear();
  Q_EMIT bankChanged();
}

void MaskBankModel::setPreviewLength(int n) {
  previewLength_ = qMax(1, n);
  if (!bank_.masks.empty()) Q_EMIT dataChanged(index(0), index(rowCount() - 1), {Qt::DecorationRole, DensityRole, Qt::ToolTipRole});
}

QString MaskBankModel::uniqueName(const QString& base, int ignoreRow) const {
  auto taken = [&](const QString& name) {
    for (int r = 0; r < rowCount(); ++r)
      if (r != ignoreRow && QString::fromStdString(bank_.masks[r].name) == name) return true;
    return false;
  };
  if (!base.isEmpty() && !taken(base)) return base;
  const QString stem = base.isEmpty() ? QStringLiteral("mask") : base;
  for (int i = 2;; ++i)
    if (!taken(QStringLiteral("%1-%2").arg(stem).arg(i))) return QStringLiteral("%1-%2").arg(stem).arg(i);
}

void MaskBankModel::addMask(MaskSpec spec, int row) {
  if (row < 0 || row > rowCount()) row = rowCount();
  spec.name = uniqueName(QString::fromStdString(spec.name)).toStdString();
  undo_.push(new InsertMaskCommand(this, row, std::move(spec), tr("Add %1")));
}

void MaskBankModel::duplicateMask(int row) {
  if (row < 0 || row >= rowCount()) return;
  MaskSpec copy = bank_.masks[row];
  copy.name = uniqueName(QString::fromStdString(copy.name)).toStdString();
  undo_.push(new InsertMaskCommand(this, row + 1, std::move(copy), tr("Duplicate as %1")));
}

void MaskBankModel::removeMask(int row) {
  if (row < 0 || row >= rowCount()) return;
  undo_.push(new RemoveMaskCommand(this, row));
}

QString MaskBankModel::setMask(int row, const MaskSpec& spec) {
  if (row < 0 || row >= rowCount()) return tr("no mask at row %1").arg(row);
  if (spec.name.empty()) return tr("the name must not be empty");
  if (uniqueName(QString::fromStdString(spec.name), row) != QString::fromStdString(spec.name))
    return tr("another mask is already called \"%1\"").arg(QString::fromStdString(spec.name));
  const auto problem = spec.problem();
  if (!problem.empty()) return QString::fromStdString(problem);
  if (spec == bank_.masks[row] && spec.name == bank_.masks[row].name) return {};
  undo_.push(new ReplaceMaskCommand(this, row, bank_.masks[row], spec));
  return {};
}

void MaskBankModel::moveMask(int from, int to) {
  if (from < 0 || from >= rowCount() || to < 0 || to >= rowCount() || from == to) return;
  undo_.push(new MoveMaskCommand(this, from, to));
}

void MaskBankModel::insertNow(int row, const MaskSpec& spec) {
  beginInsertRows({}, row, row);
  bank_.masks.insert(bank_.masks.begin() + row, spec);
  endInsertRows();
}

MaskSpec MaskBankModel::removeNow(int row) {
  beginRemoveRows({}, row, row);
  MaskSpec spec = bank_.masks[row];
  bank_.masks.erase(bank_.masks.begin() + row);
  endRemoveRows();
  return spec;
}

void MaskBankModel::replaceNow(int row, const MaskSpec& spec) {
  bank_.masks[row] = spec;
  Q_EMIT dataChanged(index(row), index(row));
}

void MaskBankModel::moveNow(int from, int to) {
  // Qt wants the destination as "insert before this row" in the list before the move.
  beginMoveRows({}, from, from, {}, to > from ? to + 1 : to);
  MaskSpec spec = bank_.masks[from];
  bank_.masks.erase(bank_.masks.begin() + from);
  bank_.masks.insert(bank_.masks.begin() + to, spec);
  endMoveRows();
}

int MaskBankModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(bank_.masks.size());
}

QVariant MaskBankModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const auto& spec = bank_.masks[index.row()];
  const auto params = QString::fromStdString(spec.parameterText());
  switch (role) {
    case Qt::DisplayRole:
      return QStringLiteral("%1\n%2%3").arg(QString::fromStdString(spec.name), QString::fromLatin1(familyName(spec.family)),
                                            params.isEmpty() ? QString() : QStringLiteral(" · ") + params);
    case Qt::EditRole: return QString::fromStdString(spec.name);
    case Qt::DecorationRole:
      return QIcon(QPixmap::fromImage(maskImage(spec, previewLength_).scaled(64, 64, Qt::IgnoreAspectRatio,
                                                                            Qt::FastTransformation)));
    case Qt::ToolTipRole:
      return tr("%1: %2 %3\ndensity at n = %4: %5% of causal pairs")
          .arg(QString::fromStdString(spec.name), QString::fromLatin1(familyName(spec.family)), params)
          .arg(previewLength_)
          .arg(100.0 * spec.density(previewLength_), 0, 'f', 1);
    case FamilyRole: return QString::fromLatin1(familyName(spec.family));
    case ParametersRole: return params;
    case DensityRole: return spec.density(previewLength_);
    default: return {};
  }
}

Qt::ItemFlags MaskBankModel::flags(const QModelIndex& index) const {
  const auto base = QAbstractListModel::flags(index);
  return index.isValid() ? base | Qt::ItemIsDragEnabled : base | Qt::ItemIsDropEnabled;
}

QStringList MaskBankModel::mimeTypes() const { return {QString::fromLatin1(kRowMimeType)}; }

QMimeData* MaskBankModel::mimeData(const QModelIndexList& indexes) const {
  if (indexes.isEmpty()) return nullptr;
  auto* data = new QMimeData;
  data->setData(QString::fromLatin1(kRowMimeType), QByteArray::number(indexes.first().row()));
  return data;
}

bool MaskBankModel::dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int, const QModelIndex& parent) {
  if (action != Qt::MoveAction || !data->hasFormat(QString::fromLatin1(kRowMimeType))) return false;
  const int from = data->data(QString::fromLatin1(kRowMimeType)).toInt();
  int before = row >= 0 ? row : parent.isValid() ? parent.row() : rowCount();
  const int to = before > from ? before - 1 : before;
  moveMask(from, qBound(0, to, rowCount() - 1));
  // The move is done (as one undoable step). Returning false keeps the view from also removing
  // the source row, which it would do after a successful MoveAction drop.
  return false;
}

}  // namespace attnx::ui
