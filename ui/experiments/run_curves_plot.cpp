#include "ui/experiments/run_curves_plot.h"

#include <cmath>

#include "ui/experiments/legend_columns.h"
#include "ui/plots/series_colors.h"
#include "ui/plots/figure_layout.h"
#include "ui/plots/log_ticker.h"

namespace attnx::ui {

RunCurvesPlot::RunCurvesPlot(Quantity quantity, QWidget* parent) : QCustomPlot(parent), quantity_(quantity) {
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  xAxis->setLabel(tr("step"));
  setPlotTitle(this, QString());
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  placeLegendBelow(this, 2);
  empty_ = new QCPItemText(this);
  empty_->position->setType(QCPItemPosition::ptAxisRectRatio);
  empty_->position->setCoords(0.5, 0.5);
  empty_->setColor(QColor(110, 110, 110));
  rebuild();
}

QString RunCurvesPlot::validationName(const QString& run) { return tr("%1 validation KL").arg(run); }
QString RunCurvesPlot::trainingName(const QString& run) { return tr("%1 training KL").arg(run); }
QString RunCurvesPlot::alphaName(const QString& run) const {
  return quantity_ == Quantity::AlphaSum ? tr("%1 Σ|α|").arg(run) : tr("%1 mean |α|").arg(run);
}

QCPGraph* RunCurvesPlot::graphNamed(const QString& name) const {
  for (int i = 0; i < graphCount(); ++i)
    if (graph(i)->name() == name) return graph(i);
  return nullptr;
}

void RunCurvesPlot::setRuns(const QVector<RunCurves>& runs, bool replot) {
  runs_ = runs;
  rebuild();
  if (replot) this->replot();
}

void RunCurvesPlot::setQuantity(Quantity quantity, bool replot) {
  quantity_ = quantity;
  rebuild();
  if (replot) this->replot();
}

void RunCurvesPlot::setShowTraining(bool show, bool replot) {
  showTraining_ = show;
  rebuild();
  if (replot) this->replot();
}

void RunCurvesPlot::setLogY(bool log, bool replot) {
  logY_ = log;
  if (log)
    setLogAxis(yAxis);
  else
    setLinearAxis(yAxis);
  rebuild();
  if (replot) this->replot();
}

void RunCurvesPlot::addCurve(const QString& name, const QVector<double>& keys, const QVector<double>& values,
                             const QPen& pen, const QCPScatterStyle& marker) {
  QCPGraph* g = addGraph();
  g->setName(name);
  g->setPen(pen);
  g->setScatterStyle(marker);
  g->setData(keys, values, /*alreadySorted=*/true);
}

void RunCurvesPlot::rebuild() {
  clearGraphs();
  const bool kl = quantity_ == Quantity::Kl;
  setPlotTitle(this,
               kl ? tr("KL of the selected runs") : quantity_ == Quantity::AlphaSum ? tr("Σ|α| of the selected runs")
                                                                                    : tr("Mean |α| of the selected runs"),
               kl ? (showTraining_ ? tr("validation KL: points joined; training KL per step: faint line") : tr("validation KL"))
                  : tr("over every layer, head and mask in metrics.csv"));
  yAxis->setLabel(kl ? tr("KL(teacher ‖ student) per token") : quantity_ == Quantity::AlphaSum ? tr("Σ|α|") : tr("mean |α|"));
  int curves = 0;
  for (int r = 0; r < runs_.size(); ++r) {
    const RunCurves& run = runs_[r];
    const QColor color = seriesColor(r);
    QVector<double> keys, values;
    if (kl) {
      // Validation first: it is the measure runs are compared by; training KL is noisier, drawn faint.
      for (const auto& s : run.samples) {
        if (s.validationKl < 0 || (logY_ && s.validationKl <= 0)) continue;
        keys << static_cast<double>(s.step);
        values << s.validationKl;
      }
      if (!keys.isEmpty()) {
        addCurve(validationName(run.name), keys, values, QPen(color, 2.2),
                 QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 7));
        ++curves;
      }
      if (showTraining_) {
        keys.clear();
        values.clear();
        for (const auto& s : run.samples) {
          if (logY_ && s.kl <= 0) continue;
          keys << static_cast<double>(s.step);
          values << s.kl;
        }
        QColor faint = color;
        faint.setAlpha(110);
        if (!keys.isEmpty()) {
          addCurve(trainingName(run.name), keys, values, QPen(faint, 1));
          // One legend entry per run (its colour); the subtitle says what the faint twin is.
          graph(graphCount() - 1)->removeFromLegend();
          ++curves;
        }
      }
      continue;
    }
    if (!run.hasCoefficients()) continue;
    for (const auto& s : run.samples) {
      double sum = 0;
      for (float a : s.alpha) sum += std::abs(static_cast<double>(a));
      const double v = quantity_ == Quantity::AlphaSum ? sum : sum / static_cast<double>(std::max<size_t>(1, s.alpha.size()));
      if (logY_ && v <= 0) continue;
      keys << static_cast<double>(s.step);
      values << v;
    }
    if (!keys.isEmpty()) {
      addCurve(alphaName(run.name), keys, values, QPen(color, 1.8));
      ++curves;
    }
  }
  empty_->setVisible(curves == 0);
  fitLegendColumns(this);
  empty_->setText(runs_.isEmpty() ? tr("Select runs in the table")
                                  : kl ? tr("The selected runs have no KL in metrics.csv")
                                       : tr("The selected runs' metrics.csv has no coefficient columns"));
  if (curves > 0) {
    rescaleAxes();
    // A little room around the curves, and KL read against 0 on a linear axis.
    const QCPRange y = yAxis->range();
    if (logY_)
      yAxis->setRange(y.lower / 1.2, y.upper * 1.2);
    else
      yAxis->setRange(kl ? 0.0 : y.lower - 0.05 * y.size(), y.upper + 0.06 * std::max(y.size(), std::abs(y.upper) * 0.1));
  } else {
    xAxis->setRange(0, 1);
    yAxis->setRange(logY_ ? 0.01 : 0, 1);
  }
}

}  // namespace attnx::ui

namespace attnx::ui {

void RunCurvesPlot::resizeEvent(QResizeEvent* event) {
  fitLegendColumns(this);
  QCustomPlot::resizeEvent(event);
}

}  // namespace attnx::ui
