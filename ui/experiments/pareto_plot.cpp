#include "ui/experiments/pareto_plot.h"

#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "ui/experiments/legend_columns.h"
#include "ui/experiments/pareto_front.h"
#include "ui/plots/series_colors.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/log_ticker.h"

namespace attnx::ui {
namespace {

QString seriesName(const ExperimentRow& r) {
  if (r.kind == QLatin1String("learned")) return QObject::tr("learned: %1").arg(r.family);
  if (r.kind == QLatin1String("baseline")) return QObject::tr("fixed: %1").arg(r.family);
  return QStringLiteral("%1: %2").arg(r.kind, r.family);
}

}  // namespace

ParetoPlot::ParetoPlot(QWidget* parent) : QCustomPlot(parent) {
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setMouseTracking(true);
  xAxis->setLabel(tr("density (share of causal pairs attended)"));
  // Title on top, legend in its own row under the axes: it never covers a point, however the
  // points fall, and it goes with the figure when exported.
  setPlotTitle(this, tr("Pareto: density against KL"));
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  placeLegendBelow(this, 3);
  empty_ = new QCPItemText(this);
  empty_->position->setType(QCPItemPosition::ptAxisRectRatio);
  empty_->position->setCoords(0.5, 0.5);
  empty_->setColor(QColor(110, 110, 110));
  setMetric(Metric::KlPerToken, false);
}

double ParetoPlot::yOf(const ExperimentRow& r) const {
  return metric_ == Metric::KlPerToken ? r.klPerToken : r.perplexity;
}

bool ParetoPlot::plottable(const ExperimentRow& r) const {
  const double y = yOf(r);
  const bool thisLength = qIsNaN(length_) || qIsNaN(r.n) || r.n == length_;
  return thisLength && !qIsNaN(r.density) && !qIsNaN(y) && (!logY_ || y > 0);
}

void ParetoPlot::setRows(const QVector<ExperimentRow>& rows, bool replot) {
  rows_ = rows;
  highlighted_.clear();
  const auto all = lengths();
  length_ = all.isEmpty() ? qQNaN() : all.first();
  rebuild();
  fitView(replot);
}

void ParetoPlot::setMetric(Metric metric, bool replot) {
  metric_ = metric;
  yAxis->setLabel(metric == Metric::KlPerToken ? tr("KL(teacher ‖ student) per token") : tr("student perplexity"));
  setPlotTitle(this, metric == Metric::KlPerToken ? tr("Pareto: density against KL") : tr("Pareto: density against perplexity"),
               tr("learned plans and fixed baselines; line: front of the learned plans"));
  rebuild();
  fitView(replot);
}

void ParetoPlot::setLogY(bool log, bool replot) {
  logY_ = log;
  if (log)
    setLogAxis(yAxis);
  else
    setLinearAxis(yAxis);
  rebuild();  // a log axis drops values <= 0
  fitView(replot);
}

void ParetoPlot::setHighlightedRows(const QVector<int>& rows, bool replot) {
  highlighted_ = rows;
  updateHighlight();
  if (replot) this->replot();
}

void ParetoPlot::setLength(double n, bool replot) {
  length_ = n;
  rebuild();
  fitView(replot);
}

QVector<double> ParetoPlot::lengths() const {
  QVector<double> all;
  for (const auto& r : rows_)
    if (!qIsNaN(r.n) && !all.contains(r.n)) all << r.n;
  std::sort(all.begin(), all.end());
  return all;
}

void ParetoPlot::rebuild() {
  clearGraphs();
  series_.clear();
  rowsOf_.clear();
  frontRows_.clear();
  // Series in order of first appearance, learned banks first (they are what the study is about).
  QStringList names;
  QHash<QString, QVector<int>> members;
  QHash<QString, bool> learned;
  for (int i = 0; i < rows_.size(); ++i) {
    if (!plottable(rows_[i])) continue;
    const QString name = seriesName(rows_[i]);
    if (!members.contains(name)) names << name;
    members[name] << i;
    learned[name] = rows_[i].kind == QLatin1String("learned");
  }
  std::stable_partition(names.begin(), names.end(), [&](const QString& n) { return learned[n]; });
  for (int s = 0; s < names.size(); ++s) {
    QVector<int> rowsHere = members[names[s]];
    // QCPGraph keeps its data sorted by key: sort the rows the same way so index i is row rowsHere[i].
    std::stable_sort(rowsHere.begin(), rowsHere.end(), [&](int a, int b) { return rows_[a].density < rows_[b].density; });
    QVector<double> keys, values;
    for (int r : rowsHere) {
      keys << rows_[r].density;
      values << yOf(rows_[r]);
    }
    QCPGraph* g = addGraph();
    g->setName(names[s]);
    g->setLineStyle(QCPGraph::lsNone);
    QColor fill = seriesColor(s);
    fill.setAlpha(170);
    g->setScatterStyle(QCPScatterStyle(seriesShape(s), seriesColor(s), fill, learned[names[s]] ? 8 : 7));
    g->setData(keys, values, /*alreadySorted=*/true);
    series_ << g;
    rowsOf_[g] = rowsHere;
  }
  // The front of the learned points only: what training bought, against which the baselines are read.
  QVector<QPointF> points;
  QVector<int> pointRows;
  for (int i = 0; i < rows_.size(); ++i) {
    if (!plottable(rows_[i]) || rows_[i].kind != QLatin1String("learned")) continue;
    points << QPointF(rows_[i].density, yOf(rows_[i]));
    pointRows << i;
  }
  front_ = addGraph();
  front_->setName(tr("Pareto front (learned)"));
  front_->setLineStyle(QCPGraph::lsStepLeft);  // the best loss reachable at or below each density
  front_->setPen(QPen(QColor(30, 30, 30), 1.5));
  QVector<double> fx, fy;
  for (int p : paretoFront(points)) {
    frontRows_ << pointRows[p];
    fx << points[p].x();
    fy << points[p].y();
  }
  front_->setData(fx, fy, true);
  if (fx.isEmpty()) front_->removeFromLegend();
  highlight_ = addGraph();
  highlight_->setLineStyle(QCPGraph::lsNone);
  highlight_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(20, 20, 20), 1.8), Qt::NoBrush, 15));
  highlight_->removeFromLegend();
  updateHighlight();
  const bool none = series_.isEmpty();
  empty_->setVisible(none);
  fitLegendColumns(this);
  empty_->setText(rows_.isEmpty() ? tr("Open a study or a folder of runs")
                                  : tr("No result has both a density and this measure"));
}

void ParetoPlot::updateHighlight() {
  if (!highlight_) return;
  QVector<double> keys, values;
  QVector<int> shown;
  for (int r : highlighted_)
    if (r >= 0 && r < rows_.size() && plottable(rows_[r])) shown << r;
  std::sort(shown.begin(), shown.end(), [&](int a, int b) { return rows_[a].density < rows_[b].density; });
  for (int r : shown) {
    keys << rows_[r].density;
    values << yOf(rows_[r]);
  }
  highlight_->setData(keys, values, true);
}

void ParetoPlot::fitView(bool replot) {
  double xMax = 0, yMin = qInf(), yMax = -qInf();
  for (const auto& r : rows_) {
    if (!plottable(r)) continue;
    xMax = std::max(xMax, r.density);
    yMin = std::min(yMin, yOf(r));
    yMax = std::max(yMax, yOf(r));
  }
  if (!std::isfinite(yMin)) {
    xAxis->setRange(0, 1);
    yAxis->setRange(logY_ ? 0.01 : 0, 1);
  } else {
    xAxis->setRange(0, std::max(xMax, 1e-3) * 1.06);
    if (logY_) {
      yAxis->setRange(yMin / 1.3, yMax * 1.3);
    } else {
      const double pad = std::max((yMax - yMin) * 0.08, std::abs(yMax) * 0.02 + 1e-9);
      // KL is read against 0; perplexity against the spread of the points (it starts near the teacher's).
      const double low = metric_ == Metric::KlPerToken ? 0.0 : yMin - pad;
      yAxis->setRange(low, yMax + pad);
    }
  }
  if (replot) this->replot();
}

int ParetoPlot::rowOfPoint(QCPGraph* graph, int dataIndex) const {
  const auto it = rowsOf_.constFind(graph);
  if (it == rowsOf_.constEnd() || dataIndex < 0 || dataIndex >= it->size()) return -1;
  return it->at(dataIndex);
}

int ParetoPlot::rowAt(const QPoint& pos) const {
  int best = -1;
  double bestDist = kPickRadiusPx;
  for (QCPGraph* g : series_) {
    const QVector<int>& rows = rowsOf_[g];
    for (int i = 0; i < rows.size(); ++i) {
      const QPointF p = g->coordsToPixels(rows_[rows[i]].density, yOf(rows_[rows[i]]));
      const double d = std::hypot(p.x() - pos.x(), p.y() - pos.y());
      if (d <= bestDist) {
        bestDist = d;
        best = rows[i];
      }
    }
  }
  return best;
}

QPointF ParetoPlot::pixelOfRow(int row) const {
  if (row < 0 || row >= rows_.size() || !plottable(rows_[row]) || series_.isEmpty()) return {-1, -1};
  return series_.first()->coordsToPixels(rows_[row].density, yOf(rows_[row]));
}

void ParetoPlot::mousePressEvent(QMouseEvent* event) {
  pressPos_ = event->pos();
  QCustomPlot::mousePressEvent(event);
}

void ParetoPlot::mouseReleaseEvent(QMouseEvent* event) {
  QCustomPlot::mouseReleaseEvent(event);
  // A click, not the end of a drag: the point under the cursor, if any.
  if (event->button() != Qt::LeftButton || (event->pos() - pressPos_).manhattanLength() > 3) return;
  const int row = rowAt(event->pos());
  if (row >= 0) Q_EMIT rowClicked(row);
}

void ParetoPlot::mouseMoveEvent(QMouseEvent* event) {
  QCustomPlot::mouseMoveEvent(event);
  if (event->buttons() != Qt::NoButton) return;
  const int row = rowAt(event->pos());
  if (row < 0) {
    QToolTip::hideText();
    return;
  }
  const ExperimentRow& r = rows_[row];
  QString tip = tr("%1\ndensity %2, %3 %4").arg(r.id).arg(r.density, 0, 'f', 4).arg(yAxis->label()).arg(yOf(r), 0, 'g', 5);
  if (!r.runFolder.isEmpty()) tip += tr("\nclick to open run %1").arg(r.runName);
  QToolTip::showText(event->globalPosition().toPoint(), tip, this);
}

void ParetoPlot::resizeEvent(QResizeEvent* event) {
  fitLegendColumns(this);
  QCustomPlot::resizeEvent(event);
}

void ParetoPlot::mouseDoubleClickEvent(QMouseEvent* event) {
  QCustomPlot::mouseDoubleClickEvent(event);
  fitView(true);  // back to all points after zooming or dragging
}

}  // namespace attnx::ui
