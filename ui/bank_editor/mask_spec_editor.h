// The form for one mask: name, family and the family's parameters in validated spin boxes (only the
// rows the family uses are shown), plus the paint grid for painted masks. Emits a complete, valid
// spec on every change; an invalid one is not emitted, its problem is shown under the form.
#pragma once

#include <QWidget>

#include "core/masks/mask_spec.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace attnx::ui {

class PaintGridWidget;

class MaskSpecEditor : public QWidget {
  Q_OBJECT
 public:
  explicit MaskSpecEditor(QWidget* parent = nullptr);
  // Shows `spec` without emitting specEdited.
  void setSpec(const MaskSpec& spec);
  // The spec the form shows now (may be invalid: see MaskSpec::problem()).
  MaskSpec currentSpec() const;
  void setProblem(const QString& problem);
  // Sensible parameters for a new mask of `family`.
  static MaskSpec defaultSpec(MaskFamily family);

 Q_SIGNALS:
  void specEdited(const attnx::MaskSpec& spec);

 private:
  void onEdited();
  void onFamilyChosen();
  void showRowsFor(MaskFamily family);

  QFormLayout* form_ = nullptr;
  QLineEdit* name_ = nullptr;
  QComboBox* family_ = nullptr;
  QSpinBox *w_ = nullptr, *r_ = nullptr, *s_ = nullptr, *b_ = nullptr, *c_ = nullptr, *k_ = nullptr;
  QSpinBox *seed_ = nullptr, *gridSize_ = nullptr;
  QLineEdit* offsets_ = nullptr;
  PaintGridWidget* paint_ = nullptr;
  QLabel* problem_ = nullptr;
  bool loading_ = false;
};

}  // namespace attnx::ui
