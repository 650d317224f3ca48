// The mask bank as a Qt list model: one row per mask (name, thumbnail at a chosen n, family and
// parameters in the tool tip). Every edit goes through the QUndoStack, so undo/redo work for all of
// them; the *Now methods are the primitive changes the undo commands make.
#pragma once

#include <QAbstractListModel>
#include <QUndoStack>

#include "core/masks/mask_bank.h"

namespace attnx::ui {

class MaskBankModel : public QAbstractListModel {
  Q_OBJECT
 public:
  static constexpr const char* kRowMimeType = "application/x-attnx-mask-row";
  enum Roles { FamilyRole = Qt::UserRole + 1, ParametersRole, DensityRole };

  explicit MaskBankModel(QObject* parent = nullptr);

  const MaskBank& bank() const { return bank_; }
  const MaskSpec& mask(int row) const { return bank_.masks.at(row); }
  // Replaces the whole bank (a model reset), clears the undo history and marks it unmodified.
  void setBank(MaskBank bank);
  QUndoStack* undoStack() { return &undo_; }
  bool isModified() const { return !undo_.isClean(); }
  void markSaved() { undo_.setClean(); }

  // n of the thumbnails and densities.
  void setPreviewLength(int n);
  int previewLength() const { return previewLength_; }

  // Undoable edits. row -1: at the end. Names are made unique ("window-2") where needed.
  void addMask(MaskSpec spec, int row = -1);
  void duplicateMask(int row);
  void removeMask(int row);
  // Returns the problem (empty when applied): invalid parameters or a name already taken.
  QString setMask(int row, const MaskSpec& spec);
  void moveMask(int from, int to);
  QString uniqueName(const QString& base, int ignoreRow = -1) const;

  // Primitive changes, with the matching begin/end signals (used by the undo commands).
  void insertNow(int row, const MaskSpec& spec);
  MaskSpec removeNow(int row);
  void replaceNow(int row, const MaskSpec& spec);
  void moveNow(int from, int to);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  Qt::DropActions supportedDropActions() const override { return Qt::MoveAction; }
  QStringList mimeTypes() const override;
  QMimeData* mimeData(const QModelIndexList& indexes) const override;
  bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                    const QModelIndex& parent) override;

 Q_SIGNALS:
  void bankChanged();

 private:
  MaskBank bank_;
  QUndoStack undo_;
  int previewLength_ = 64;
};

}  // namespace attnx::ui
