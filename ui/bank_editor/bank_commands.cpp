#include "ui/bank_editor/bank_commands.h"

#include <QCoreApplication>

#include "ui/bank_editor/mask_bank_model.h"

namespace attnx::ui {
namespace {
QString tr(const char* s) { return QCoreApplication::translate("MaskBankEditor", s); }
QString nameOf(const MaskSpec& spec) { return QString::fromStdString(spec.name); }
}  // namespace

InsertMaskCommand::InsertMaskCommand(MaskBankModel* model, int row, MaskSpec spec, const QString& text)
    : QUndoCommand(text.arg(nameOf(spec))), model_(model), row_(row), spec_(std::move(spec)) {}
void InsertMaskCommand::redo() { model_->insertNow(row_, spec_); }
void InsertMaskCommand::undo() { model_->removeNow(row_); }

RemoveMaskCommand::RemoveMaskCommand(MaskBankModel* model, int row)
    : QUndoCommand(tr("Remove %1").arg(nameOf(model->mask(row)))), model_(model), row_(row), spec_(model->mask(row)) {}
void RemoveMaskCommand::redo() { model_->removeNow(row_); }
void RemoveMaskCommand::undo() { model_->insertNow(row_, spec_); }

ReplaceMaskCommand::ReplaceMaskCommand(MaskBankModel* model, int row, MaskSpec before, MaskSpec after)
    : QUndoCommand(tr("Edit %1").arg(nameOf(after))), model_(model), row_(row), before_(std::move(before)),
      after_(std::move(after)) {}
void ReplaceMaskCommand::redo() { model_->replaceNow(row_, after_); }
void ReplaceMaskCommand::undo() { model_->replaceNow(row_, before_); }
bool ReplaceMaskCommand::mergeWith(const QUndoCommand* other) {
  // A run of edits to the same mask (spin box steps, painting) is one undo step.
  const auto* o = static_cast<const ReplaceMaskCommand*>(other);
  if (o->row_ != row_) return false;
  after_ = o->after_;
  setText(tr("Edit %1").arg(nameOf(after_)));
  return true;
}

MoveMaskCommand::MoveMaskCommand(MaskBankModel* model, int from, int to)
    : QUndoCommand(tr("Move %1").arg(nameOf(model->mask(from)))), model_(model), from_(from), to_(to) {}
void MoveMaskCommand::redo() { model_->moveNow(from_, to_); }
void MoveMaskCommand::undo() { model_->moveNow(to_, from_); }

}  // namespace attnx::ui
