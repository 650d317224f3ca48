// Writing figures: PNG, PDF and SVG of any plot or heatmap at a chosen pixel size and DPI (legend,
// axis labels, title and colour bar are part of the plot, so they come along), the visible range
// of a plot's curves as CSV, "export all" into a folder with index.json, and the clipboard.
// Every file goes through core/io/atomic_file.h. Errors come back as messages, never exceptions.
#pragma once

#include <QJsonObject>
#include <QSize>
#include <QString>
#include <QStringList>

class QCustomPlot;
class QWidget;

namespace attnx::ui {

class FigureRegistry;

enum class FigureFormat { Png, Pdf, Svg };

struct ExportOptions {
  QSize pixels{1200, 800};  // output size in pixels (PNG: the image; PDF: the page at `dpi`; SVG: the canvas)
  double dpi = 96;          // text and lines scale with dpi / 96, so a 300-dpi figure is laid out as on screen
};

// The options a single export of `figure` starts from: an ExportRenderable's exportSize(), else the defaults.
ExportOptions defaultExportOptions(QWidget* figure);

// The extension of a format ("png", "pdf", "svg") and the format of an extension.
QString extensionOf(FigureFormat format);
bool formatOfPath(const QString& path, FigureFormat* format);

// The title drawn on the figure: an ExportRenderable's exportTitle(), a plot's title row
// (ui/plots/figure_layout.h), else the widget's window title; "" when it has none.
QString drawnTitle(QWidget* figure);

// The figure as bytes of the format: an ExportRenderable draws itself (export_renderable.h), a
// QCustomPlot is drawn as vectors in PDF and SVG, any other widget is rendered as on screen. Empty on failure, with *error set.
QByteArray renderFigure(QWidget* figure, FigureFormat format, const ExportOptions& options, QString* error = nullptr);
// renderFigure, then an atomic write. Returns "" or the error message.
QString exportFigure(QWidget* figure, const QString& path, FigureFormat format, const ExportOptions& options);

// Every visible graph of `plot` with its points inside the visible x range, as "series,x,y" rows
// with a header; the series is the graph's CSV name (figure_layout.h: the legend's name, with a
// smoothed twin told apart, e.g. "KL, smoothed (EMA 0.60)"). Returns "" or the error message.
QString exportVisibleCsv(QCustomPlot* plot, const QString& path);
QByteArray visibleCsv(QCustomPlot* plot);

// Writes one PNG, PDF and SVG per figure of the registry into `folder` (created), a CSV for plots
// with curves, all-figures.pdf with one page per figure, and index.json:
//   {"format":"attnx-figures","version":1,"created":"<ISO time>","context":{...caller's: run, prompt},
//    "options":{"width":..,"height":..,"dpi":..},
//    "figures":[{"id","title" (as drawn),"menu_title","what","files":[...], + the entry's context keys}]}
// Returns "" or the first error; *written lists the files written.
QString exportAllFigures(const FigureRegistry& registry, const QString& folder, const ExportOptions& options,
                         const QJsonObject& context, QStringList* written = nullptr);

// Puts the figure on the clipboard as an image.
void copyFigureToClipboard(QWidget* figure, const ExportOptions& options);

}  // namespace attnx::ui
