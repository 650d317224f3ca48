// A form for every option of DistillConfig (method.md, "Training"), with the defaults of
// DistillConfig and a tool tip on each field. The teacher and the bank come from their own panels.
#pragma once

#include <QWidget>

#include "core/train/distill_config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace attnx::ui {

class TrainingForm : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingForm(QWidget* parent = nullptr);

  // The settings shown now (teacherDir and bankPath left empty).
  DistillConfig config() const;
  void setConfig(const DistillConfig& config);
  // "" = a new folder under defaultRunsDir() at start.
  QString runFolder() const;
  void setRunFolder(const QString& dir);
  static QString defaultRunsDir();
  // data/corpus/train of the fetched data when present, else "".
  static QString defaultDataPath();
  static QString defaultValidationPath();

 private:
  QLineEdit *data_ = nullptr, *validation_ = nullptr, *runDir_ = nullptr;
  QComboBox *combine_ = nullptr, *granularity_ = nullptr, *param_ = nullptr;
  QCheckBox *normalise_ = nullptr, *trainAll_ = nullptr, *densityWeighted_ = nullptr;
  QDoubleSpinBox *init_ = nullptr, *temperature_ = nullptr, *lambdaL1_ = nullptr, *lambdaHidden_ = nullptr;
  QDoubleSpinBox *lr_ = nullptr, *weightDecay_ = nullptr, *minLr_ = nullptr, *gradClip_ = nullptr;
  QSpinBox *steps_ = nullptr, *batch_ = nullptr, *seqLen_ = nullptr, *warmup_ = nullptr, *seed_ = nullptr;
  QSpinBox *validateEvery_ = nullptr, *validationWindows_ = nullptr, *checkpointEvery_ = nullptr;
};

}  // namespace attnx::ui
