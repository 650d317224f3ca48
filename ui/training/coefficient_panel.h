// The Coefficients panel: CoefficientPlot with filters (layer, head, mask), the pruning
// threshold, a log axis and EMA smoothing.
#pragma once

#include <QWidget>

#include "ui/bridge/training_types.h"

class QComboBox;
class QLabel;

namespace attnx::ui {

class CoefficientPlot;

class CoefficientPanel : public QWidget {
  Q_OBJECT
 public:
  explicit CoefficientPanel(QWidget* parent = nullptr);
  CoefficientPlot* plot() const { return plot_; }
  // Sets the plot's shape and the filter choices.
  void setShape(const TrainingShape& shape);

 private:
  void applyFilter();
  CoefficientPlot* plot_ = nullptr;
  QComboBox *layer_ = nullptr, *head_ = nullptr, *mask_ = nullptr;
  QLabel* note_ = nullptr;
};

}  // namespace attnx::ui
