// The current coefficients as a heat grid: one row per layer, one column per (head, mask), heads
// grouped left to right with their masks side by side. Replots are coalesced like the curves'.
#pragma once

#include <QVector>
#include <vector>
#include "ui/plots/qcp.h"

#include "ui/bridge/training_types.h"
#include "ui/export/export_renderable.h"

namespace attnx::ui {

// Exports through ExportRenderable: title, mask order, axes and colour scale at the export's size.
class CoefficientGrid : public QCustomPlot, public ExportRenderable {
  Q_OBJECT
 public:
  explicit CoefficientGrid(QWidget* parent = nullptr);

  void setShape(const TrainingShape& shape);
  // (L, H, K) row-major, as in TrainingSample::alpha; the newest wins.
  void setAlpha(const std::vector<float>& alpha);
  void setLogColours(bool log);
  // The value drawn in cell (layer, head, mask), for tests.
  double cell(int layer, int head, int mask) const;

  void renderForExport(QPainter& painter, const QSize& size) const override;
  QSize exportSize() const override;  // about 28 px per cell, plus room for the labels and scale
  QString exportTitle() const override;

 private:
  void rebuild();
  TrainingShape shape_;
  std::vector<float> alpha_;
  QCPColorMap* map_ = nullptr;
  QCPColorScale* scale_ = nullptr;
  QTimer replotTimer_;
};

}  // namespace attnx::ui
