// What a figure needs around its axes to go into a paper as it is: a title row above the axes
// (a QCPTextElement, so the exported title is the drawn one), the legend in a row of its own below
// (never over the data), series styles that stay apart where curves coincide, and the name each
// curve carries into CSV.
#pragma once

#include "ui/plots/qcp.h"

namespace attnx::ui {

// Sets the plot's title (bold) and an optional second line under it (smaller, e.g. what the faint
// and solid curves are); creates the title row above everything else on first use.
void setPlotTitle(QCustomPlot* plot, const QString& title, const QString& subtitle = {});
// The title drawn above the axes: the one setPlotTitle set, else the first text element of the
// layout; "" when there is none.
QString plotTitle(const QCustomPlot* plot);
QString plotSubtitle(const QCustomPlot* plot);

// Moves the legend out of the axis rect into a row below everything, `columns` items per line.
void placeLegendBelow(QCustomPlot* plot, int columns);

// The series name a graph's points carry in CSV: set where it differs from the legend text (a
// smoothed twin, a legend entry annotated "same as ..."); otherwise the graph's name.
void setCsvSeriesName(QCPAbstractPlottable* plottable, const QString& name);
QString csvSeriesName(const QCPAbstractPlottable* plottable);

// Series `index` of a plot whose curves may lie on top of each other: its own dash pattern and
// marker shape; later series thinner with hollow markers, so the earlier ones show around them.
void applyDistinctStyle(QCPGraph* graph, int index, const QColor& colour);
// Names graphs[i] names[i], with "(same as <names[j]>)" appended where its points equal those of an
// earlier visible graph j (same keys, values equal to 1e-9): a reader then knows why a curve seems
// missing. Only the legend changes; the CSV name is set apart (setCsvSeriesName).
void markCoincidentSeries(const QVector<QCPGraph*>& graphs, const QStringList& names);
// Every graph of the plot, named by its CSV name (set to the graph's name where none is set yet).
void markCoincidentSeries(QCustomPlot* plot);

// Draws the plot laid out at `size` (logical pixels) into any painter, as vectors where the
// painter's device takes them (PDF, SVG); lays it out first, so size-dependent ticks fit the size.
void paintPlot(QCustomPlot* plot, QPainter& painter, const QSize& size);

}  // namespace attnx::ui
