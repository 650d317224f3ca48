// Undo commands of the mask bank editor: insert, remove, replace (edits of one mask merge while
// the user keeps editing that mask) and move.
#pragma once

#include <QUndoCommand>

#include "core/masks/mask_spec.h"

namespace attnx::ui {

class MaskBankModel;

class InsertMaskCommand : public QUndoCommand {
 public:
  InsertMaskCommand(MaskBankModel* model, int row, MaskSpec spec, const QString& text);
  void redo() override;
  void undo() override;

 private:
  MaskBankModel* model_;
  int row_;
  MaskSpec spec_;
};

class RemoveMaskCommand : public QUndoCommand {
 public:
  RemoveMaskCommand(MaskBankModel* model, int row);
  void redo() override;
  void undo() override;

 private:
  MaskBankModel* model_;
  int row_;
  MaskSpec spec_;
};

class ReplaceMaskCommand : public QUndoCommand {
 public:
  static constexpr int kId = 0x6d61;
  ReplaceMaskCommand(MaskBankModel* model, int row, MaskSpec before, MaskSpec after);
  void redo() override;
  void undo() override;
  int id() const override { return kId; }
  bool mergeWith(const QUndoCommand* other) override;

 private:
  MaskBankModel* model_;
  int row_;
  MaskSpec before_, after_;
};

class MoveMaskCommand : public QUndoCommand {
 public:
  MoveMaskCommand(MaskBankModel* model, int from, int to);
  void redo() override;
  void undo() override;

 private:
  MaskBankModel* model_;
  int from_, to_;
};

}  // namespace attnx::ui
