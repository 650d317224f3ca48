// The Mask bank panel: the list of masks (thumbnails, drag to reorder), the selected mask's form,
// the combined mask for a chosen layer and head, and the bank file (open, save, unsaved changes).
#pragma once

#include <QString>
#include <QWidget>

#include "core/masks/mask_bank.h"

class QListView;
class QSpinBox;

namespace attnx::ui {

class CombinedMaskView;
class MaskBankModel;
class MaskSpecEditor;

class BankEditorPanel : public QWidget {
  Q_OBJECT
 public:
  explicit BankEditorPanel(QWidget* parent = nullptr);

  MaskBankModel* model() const { return model_; }
  CombinedMaskView* combinedView() const { return combined_; }
  MaskSpecEditor* specEditor() const { return editor_; }
  QListView* listView() const { return list_; }
  const MaskBank& bank() const;
  QString filePath() const { return path_; }
  bool isModified() const;
  int currentRow() const;
  void selectRow(int row);

  // A starting bank for new users: causal, window, sinks, previous token.
  static MaskBank starterBank();

  // File operations. Errors (a bad bank file names the mask and field) go to a dialog unless quiet;
  // the return value says whether it worked.
  void newBank();
  bool openBank(const QString& path, bool quiet = false);
  bool saveBank();
  bool saveBankAs(const QString& path);
  // Before the bank is replaced or the app quits: Save / Discard / Cancel. False: cancel.
  bool maybeSave();

 Q_SIGNALS:
  void bankFileChanged(const QString& path);  // opened or saved as
  void modifiedChanged(bool modified);

 public Q_SLOTS:
  void openBankDialog();
  void saveBankAsDialog();
  void addMask(attnx::MaskFamily family);
  void duplicateSelected();
  void removeSelected();

 private:
  void showSelected();
  MaskBankModel* model_ = nullptr;
  QListView* list_ = nullptr;
  MaskSpecEditor* editor_ = nullptr;
  CombinedMaskView* combined_ = nullptr;
  QSpinBox* previewN_ = nullptr;
  QString path_;
};

}  // namespace attnx::ui
