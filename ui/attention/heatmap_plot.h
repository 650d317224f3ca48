// One attention heatmap: query rows against key columns, token labels on both axes, a colour bar,
// linear or log colour scale, hover tooltip with the exact weight, wheel zoom and drag pan.
// Large maps are pooled for display (heatmap_sampling.h) and re-pooled for the visible range on
// every zoom, so a zoomed-in view shows exact cells. The map fills the widget, or with square cells
// (as imshow draws them, diagonals at 45°; the default) is centred in it with its aspect kept. Token
// labels are thinned to round steps that fit, the same step on both axes.
#pragma once

#include <memory>
#include <vector>

#include <QStringList>
#include "ui/plots/qcp.h"

namespace attnx::ui {

// How weights map to colour. RowMax divides each query row by its largest weight, so every query's
// focus shows however spread its row is (a linear scale of raw weights is nearly all dark beyond the
// first rows); Log spans kLogFloor..max; Linear is the raw weight. A signed map is always linear.
enum class HeatmapScale { RowMax, Log, Linear };

class HeatmapPlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit HeatmapPlot(QWidget* parent = nullptr);

  // values: (n, n) row-major, shared so that the three plots of a view can hold one copy each of
  // their own data without copying on every zoom. Signed maps (differences) get a diverging
  // gradient centred on 0 and always a linear scale.
  void setMatrix(std::shared_ptr<const std::vector<float>> values, int n, const QStringList& tokens, bool isSigned);
  void setTitle(const QString& title);
  void setScale(HeatmapScale scale);
  HeatmapScale scale() const { return scale_type_; }
  void setLogScale(bool log) { setScale(log ? HeatmapScale::Log : HeatmapScale::Linear); }
  bool logScale() const { return scale_type_ == HeatmapScale::Log; }
  void setSquareCells(bool square);
  bool squareCells() const { return square_; }
  void clearMatrix(const QString& message);

  // Visible key and query ranges, in token indices (inclusive bounds as doubles).
  void setVisibleRange(const QCPRange& keys, const QCPRange& queries);
  QCPRange visibleKeys() const { return xAxis->range(); }
  QCPRange visibleQueries() const { return yAxis->range(); }

  // The exact weight under a plot coordinate, or NaN outside the map.
  double valueAt(int query, int key) const;
  int size() const { return n_; }
  // Cells in the colour map now (after pooling): for tests and the timing note.
  QSize displayedCells() const;
  // The value of displayed cell (column, row) after pooling (and row scaling), for tests.
  double cellValue(int column, int row) const { return map_->data()->cell(column, row); }

  // Most cells per axis drawn; more are pooled. A heatmap widget is a few hundred pixels wide, so
  // more cells than this could not be seen anyway.
  static constexpr int kMaxCellsPerAxis = 400;
  // Smallest weight drawn on the log scale (weights of masked-out pairs are exactly 0).
  static constexpr double kLogFloor = 1e-5;

 Q_SIGNALS:
  // Emitted after a user zoom or pan (not after setVisibleRange), for syncing sibling plots.
  void visibleRangeChanged(const QCPRange& keys, const QCPRange& queries);

 protected:
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  void rebuildCells();       // pools the visible range into the colour map
  bool rebuildTickLabels();  // token labels for the visible range, thinned to fit; true if they changed
  bool keepSquareCells();    // pads the layout so a key and a query span the same pixels; true if it changed
  void onRangeChanged();
  void clampRanges();

  QCPColorMap* map_ = nullptr;
  QCPColorScale* scale_ = nullptr;
  QCPTextElement* title_ = nullptr;
  std::shared_ptr<const std::vector<float>> values_;
  QStringList tokens_;
  int n_ = 0;
  std::shared_ptr<const std::vector<float>> rowScaled_;  // values_ / row max, made when RowMax is used
  HeatmapScale scale_type_ = HeatmapScale::RowMax;
  bool signed_ = false, square_ = true, settingRange_ = false;
  // The labels last set (first, last index and step per axis), and how many replots in a row a
  // label change after a layout has asked for.
  QList<int> labelSignature_;
  int relabelReplots_ = 0;
  float maxAbs_ = 1;
};

}  // namespace attnx::ui
