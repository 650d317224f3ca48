// A figure that draws itself for export. The exporter (figure_exporter.h) asks any widget it is given
// whether it implements this (dynamic_cast) and, if so, paints it through renderForExport onto a
// QImage (PNG), QPdfWriter (PDF) or QSvgGenerator (SVG), so the file holds the figure as a reader
// should see it (title, axes, colour scale, caption) and none of the screen's state (scroll bars,
// hover, the selection box). Widgets without it are drawn as they are on screen.
#pragma once

#include <QSize>
#include <QString>

class QPainter;

namespace attnx::ui {

class ExportRenderable {
 public:
  virtual ~ExportRenderable();
  // Draws the whole figure into `painter`, filling the rectangle (0, 0, size) in logical pixels
  // (96 dpi: a 10-pt font is 13.3 px; the exporter scales for the output's dpi). The painter's
  // state on return is the caller's business; the background is already white.
  virtual void renderForExport(QPainter& painter, const QSize& size) const = 0;
  // The logical size the figure is best drawn at (e.g. square cells): used where the user did not
  // choose a size (copy to clipboard, a single "Export figure").
  virtual QSize exportSize() const = 0;
  // The title renderForExport draws: index.json and the PDF/SVG metadata name the figure by it.
  virtual QString exportTitle() const = 0;
};

}  // namespace attnx::ui
