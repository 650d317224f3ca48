#include "ui/bank_editor/bank_editor_panel.h"

#include <QAction>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QListView>
#include <QMenu>
#include <QMessageBox>
#include <QSpinBox>
#include <QSplitter>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include "ui/bank_editor/combined_mask_view.h"
#include "ui/bank_editor/mask_bank_model.h"
#include "ui/bank_editor/mask_spec_editor.h"

namespace attnx::ui {

MaskBank BankEditorPanel::starterBank() {
  MaskBank bank;
  bank.name = "starter";
  bank.masks = {MaskSpec::causal("causal"), MaskSpec::window("window-32", 32), MaskSpec::sinks("sinks-4", 4),
                MaskSpec::offsetSet("previous-token", {0, 1})};
  return bank;
}

BankEditorPanel::BankEditorPanel(QWidget* parent) : QWidget(parent), model_(new MaskBankModel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* bar = new QToolBar(this);
  bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
  auto* addMenu = new QMenu(tr("Add"), this);
  for (auto f : allFamilies()) {
    auto* a = addMenu->addAction(QString::fromLatin1(familyName(f)));
    connect(a, &QAction::triggered, this, [this, f] { addMask(f); });
  }
  auto* addButton = new QToolButton(bar);
  addButton->setText(tr("Add mask"));
  addButton->setMenu(addMenu);
  addButton->setPopupMode(QToolButton::InstantPopup);
  addButton->setToolTip(tr("Add a mask of a family to the end of the bank"));
  bar->addWidget(addButton);
  bar->addAction(tr("Duplicate"), this, &BankEditorPanel::duplicateSelected)->setToolTip(tr("Copy the selected mask"));
  bar->addAction(tr("Remove"), this, &BankEditorPanel::removeSelected)->setToolTip(tr("Remove the selected mask (Undo brings it back)"));
  bar->addSeparator();
  // Fixed labels (the Edit menu names the step): the toolbar must not grow with a mask's name.
  auto* stack = model_->undoStack();
  auto* undo = bar->addAction(tr("Undo"), stack, &QUndoStack::undo);
  auto* redo = bar->addAction(tr("Redo"), stack, &QUndoStack::redo);
  undo->setEnabled(false);
  redo->setEnabled(false);
  connect(stack, &QUndoStack::canUndoChanged, undo, &QAction::setEnabled);
  connect(stack, &QUndoStack::canRedoChanged, redo, &QAction::setEnabled);
  connect(stack, &QUndoStack::undoTextChanged, undo, [undo](const QString& t) { undo->setToolTip(tr("Undo %1 (Ctrl+Z)").arg(t)); });
  connect(stack, &QUndoStack::redoTextChanged, redo, [redo](const QString& t) { redo->setToolTip(tr("Redo %1 (Ctrl+Shift+Z)").arg(t)); });
  bar->addSeparator();
  bar->addWidget(new QLabel(tr(" n = "), bar));
  previewN_ = new QSpinBox(bar);
  previewN_->setRange(4, 1024);
  previewN_->setValue(model_->previewLength());
  previewN_->setToolTip(tr("Sequence length at which the thumbnails, densities and the combined mask are drawn"));
  bar->addWidget(previewN_);
  layout->addWidget(bar);

  list_ = new QListView(this);
  list_->setModel(model_);
  list_->setIconSize(QSize(48, 48));
  list_->setSpacing(2);
  list_->setDragDropMode(QAbstractItemView::InternalMove);
  list_->setDefaultDropAction(Qt::MoveAction);
  list_->setSelectionMode(QAbstractItemView::SingleSelection);
  list_->setToolTip(tr("Candidate masks of the bank; drag to reorder"));
  list_->setMinimumWidth(200);
  editor_ = new MaskSpecEditor(this);
  combined_ = new CombinedMaskView(this);

  auto* top = new QSplitter(Qt::Horizontal, this);
  top->addWidget(list_);
  top->addWidget(editor_);
  top->setStretchFactor(1, 1);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(top);
  split->addWidget(combined_);
  // The list and the mask's form need little height; the combined mask takes what is left.
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setSizes({250, 700});
  layout->addWidget(split, 1);

  connect(previewN_, &QSpinBox::valueChanged, this, [this](int n) {
    model_->setPreviewLength(n);
    combined_->setLength(n);
  });
  combined_->setLength(previewN_->value());
  connect(list_->selectionModel(), &QItemSelectionModel::currentChanged, this, &BankEditorPanel::showSelected);
  connect(model_, &QAbstractItemModel::dataChanged, this, [this](const QModelIndex& a, const QModelIndex& b) {
    if (currentRow() >= a.row() && currentRow() <= b.row()) showSelected();
  });
  connect(model_, &MaskBankModel::bankChanged, this, [this] {
    combined_->setBank(model_->bank());
    Q_EMIT modifiedChanged(isModified());
  });
  connect(model_, &QAbstractItemModel::rowsMoved, this, [this](const QModelIndex&, int, int, const QModelIndex&, int) {
    showSelected();
  });
  connect(editor_, &MaskSpecEditor::specEdited, this, [this](const MaskSpec& spec) {
    const int row = currentRow();
    if (row < 0) return;
    editor_->setProblem(model_->setMask(row, spec));
  });
  model_->setBank(starterBank());
  selectRow(0);
}

const MaskBank& BankEditorPanel::bank() const { return model_->bank(); }
bool BankEditorPanel::isModified() const { return model_->isModified(); }
int BankEditorPanel::currentRow() const { return list_->currentIndex().isValid() ? list_->currentIndex().row() : -1; }
void BankEditorPanel::selectRow(int row) {
  if (row >= 0 && row < model_->rowCount()) list_->setCurrentIndex(model_->index(row));
}

void BankEditorPanel::showSelected() {
  const int row = currentRow();
  editor_->setEnabled(row >= 0);
  if (row >= 0) editor_->setSpec(model_->mask(row));
}

void BankEditorPanel::addMask(MaskFamily family) {
  model_->addMask(MaskSpecEditor::defaultSpec(family));
  selectRow(model_->rowCount() - 1);
}

void BankEditorPanel::duplicateSelected() {
  const int row = currentRow();
  model_->duplicateMask(row);
  selectRow(row + 1);
}

void BankEditorPanel::removeSelected() {
  const int row = currentRow();
  model_->removeMask(row);
  selectRow(qMin(row, model_->rowCount() - 1));
}

void BankEditorPanel::newBank() {
  if (!maybeSave()) return;
  model_->setBank(starterBank());
  combined_->setCoefficients({});  // the last run's coefficients belong to its own bank
  path_.clear();
  selectRow(0);
  Q_EMIT modifiedChanged(false);
}

bool BankEditorPanel::openBank(const QString& path, bool quiet) {
  try {
    auto bank = MaskBank::load(path.toStdString());
    const auto notes = bank.notes;
    model_->setBank(std::move(bank));
    path_ = path;
    selectRow(0);
    Q_EMIT bankFileChanged(path);
    if (!notes.empty() && !quiet) {
      QStringList lines;
      for (const auto& note : notes) lines << QString::fromStdString(note);
      QMessageBox::information(this, tr("A mask changed its meaning"),
                               tr("%1 was written by an older attnx.\n\n%2\n\nSave the bank to keep the new form.")
                                   .arg(path, lines.join(QStringLiteral("\n\n"))));
    }
    return true;
  } catch (const std::exception& e) {
    if (!quiet)
      QMessageBox::warning(this, tr("Could not open the mask bank"),
                           tr("%1\n\nFix the field named above in the file (see method.md for the families and their "
                              "parameters), or open another bank. The bank in the editor is unchanged.")
                               .arg(QString::fromStdString(e.what())));
    return false;
  }
}

bool BankEditorPanel::saveBank() {
  if (path_.isEmpty()) {
    saveBankAsDialog();
    return !isModified();
  }
  return saveBankAs(path_);
}

bool BankEditorPanel::saveBankAs(const QString& path) {
  try {
    MaskBank bank = model_->bank();
    if (bank.name.empty()) bank.name = QFileInfo(path).completeBaseName().toStdString();
    bank.save(path.toStdString());
    path_ = path;
    model_->markSaved();
    Q_EMIT bankFileChanged(path);
    Q_EMIT modifiedChanged(false);
    return true;
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Could not save the mask bank"),
                         tr("%1\n\nFix the mask named above (or choose another folder) and save again.")
                             .arg(QString::fromStdString(e.what())));
    return false;
  }
}

bool BankEditorPanel::maybeSave() {
  if (!isModified()) return true;
  const auto answer = QMessageBox::question(this, tr("Unsaved mask bank"),
                                            tr("The mask bank has changes that are not saved. Save them?"),
                                            QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
  if (answer == QMessageBox::Save) return saveBank();
  return answer == QMessageBox::Discard;
}

void BankEditorPanel::openBankDialog() {
  if (!maybeSave()) return;
  const QString path = QFileDialog::getOpenFileName(this, tr("Open a mask bank"), QFileInfo(path_).path(),
                                                    tr("Mask banks (*.json);;All files (*)"));
  if (!path.isEmpty()) openBank(path);
}

void BankEditorPanel::saveBankAsDialog() {
  QString path = QFileDialog::getSaveFileName(this, tr("Save the mask bank"), path_.isEmpty() ? QStringLiteral("bank.json") : path_,
                                              tr("Mask banks (*.json)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QStringLiteral(".json"))) path += QStringLiteral(".json");
  saveBankAs(path);
}

}  // namespace attnx::ui
