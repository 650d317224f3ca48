// Curves of several runs overlaid, one colour per run and the run's name in every legend entry, as
// TensorBoard and W&B compare runs: either the KL (validation points joined, and the training KL
// per step, fainter) or the size of the coefficients (Σ|α| or mean |α| over all layers, heads and
// masks) against step. The legend has its own row under the axes.
#pragma once

#include "ui/experiments/run_curves.h"
#include "ui/plots/qcp.h"

namespace attnx::ui {

class RunCurvesPlot : public QCustomPlot {
  Q_OBJECT
 public:
  enum class Quantity { Kl, AlphaSum, AlphaMean };

  explicit RunCurvesPlot(Quantity quantity, QWidget* parent = nullptr);

  // Setters take a replot flag so a caller changing several things replots once.
  void setRuns(const QVector<RunCurves>& runs, bool replot = true);
  void setQuantity(Quantity quantity, bool replot = true);
  void setShowTraining(bool show, bool replot = true);  // Kl only: the per-step training KL
  void setLogY(bool log, bool replot = true);
  Quantity quantity() const { return quantity_; }

  // Legend names, so callers and tests find a curve by what the user reads.
  static QString validationName(const QString& run);
  static QString trainingName(const QString& run);
  QString alphaName(const QString& run) const;
  QCPGraph* graphNamed(const QString& name) const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void rebuild();
  void addCurve(const QString& name, const QVector<double>& keys, const QVector<double>& values, const QPen& pen,
                const QCPScatterStyle& marker = QCPScatterStyle());

  Quantity quantity_;
  bool showTraining_ = true;
  bool logY_ = false;
  QVector<RunCurves> runs_;
  QCPItemText* empty_ = nullptr;
};

}  // namespace attnx::ui
