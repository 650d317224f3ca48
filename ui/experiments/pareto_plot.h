// The Pareto scatter of the Experiments view: density against KL per token (or perplexity), one
// series per learned bank and per fixed baseline family, the front of the learned points as a
// step line, and the rows selected in the table ringed. The legend sits in its own row under the
// axes so it never covers a point. A click on a point reports its row (ExperimentTableModel's).
#pragma once

#include <QHash>
#include <QPoint>

#include "ui/experiments/experiment_row.h"
#include "ui/plots/qcp.h"

namespace attnx::ui {

class ParetoPlot : public QCustomPlot {
  Q_OBJECT
 public:
  enum class Metric { KlPerToken, Perplexity };
  static constexpr double kPickRadiusPx = 8;

  explicit ParetoPlot(QWidget* parent = nullptr);

  // Setters take a replot flag so a caller changing several things replots once.
  void setRows(const QVector<ExperimentRow>& rows, bool replot = true);
  void setMetric(Metric metric, bool replot = true);
  void setLogY(bool log, bool replot = true);
  void setHighlightedRows(const QVector<int>& rows, bool replot = true);
  // A study measures every plan at each eval length n; points of different n are not comparable, so
  // the scatter shows one n (the smallest after setRows). Rows without an n show at every n.
  void setLength(double n, bool replot = true);
  QVector<double> lengths() const;  // distinct n of the rows, ascending
  double length() const { return length_; }
  Metric metric() const { return metric_; }
  bool logY() const { return logY_; }

  // Series graphs in legend order ("learned: <bank>", then "fixed: <family>"), the front, and which
  // row each point of a series is.
  QVector<QCPGraph*> seriesGraphs() const { return series_; }
  QCPGraph* frontGraph() const { return front_; }
  QVector<int> frontRows() const { return frontRows_; }
  int rowOfPoint(QCPGraph* graph, int dataIndex) const;
  // The row of the point within kPickRadiusPx of `pos` (widget pixels), -1 when none; the nearest wins.
  int rowAt(const QPoint& pos) const;
  // Widget pixel position of a row's point (for tests and tool tips); (-1, -1) when not plotted.
  QPointF pixelOfRow(int row) const;

  void fitView(bool replot = true);

 Q_SIGNALS:
  void rowClicked(int row);

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  double yOf(const ExperimentRow& r) const;
  bool plottable(const ExperimentRow& r) const;
  void rebuild();
  void updateHighlight();

  QVector<ExperimentRow> rows_;
  Metric metric_ = Metric::KlPerToken;
  bool logY_ = false;
  double length_ = qQNaN();
  QVector<QCPGraph*> series_;
  QHash<QCPGraph*, QVector<int>> rowsOf_;  // per series graph: the row of each data point, in data order
  QCPGraph* front_ = nullptr;
  QCPGraph* highlight_ = nullptr;
  QVector<int> frontRows_;
  QVector<int> highlighted_;
  QCPItemText* empty_ = nullptr;
  QPoint pressPos_;
};

}  // namespace attnx::ui
