// The Loss curves panel: LossPlot with its controls (series shown, log axis, EMA smoothing).
#pragma once

#include <QWidget>

namespace attnx::ui {

class LossPlot;

class LossPanel : public QWidget {
  Q_OBJECT
 public:
  explicit LossPanel(QWidget* parent = nullptr);
  LossPlot* plot() const { return plot_; }

 private:
  LossPlot* plot_ = nullptr;
};

}  // namespace attnx::ui
