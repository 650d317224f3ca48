// The layer x head overview: one small thumbnail per head (teacher, student or their difference),
// each captioned with its KL and badged with what the teacher head does (P previous-token, S
// first-token sink, I self, D delimiter, L local; none when broad); a click selects that head in
// the large heatmaps.
#pragma once

#include <QImage>
#include <QWidget>
#include <vector>

#include "ui/export/export_renderable.h"

namespace attnx::ui {

// Exported (ExportRenderable) as a figure of its own: a title, the grid without the screen's
// selection box, and a key to the tags.
class HeadGrid : public QWidget, public ExportRenderable {
  Q_OBJECT
 public:
  explicit HeadGrid(QWidget* parent = nullptr);

  // thumbnails: layers * heads images, layer-major; captions likewise.
  void setHeads(int layers, int heads, std::vector<QImage> thumbnails, QStringList captions);
  // badges: one short tag per head (drawn on the thumbnail), notes: one line per head (its tooltip);
  // both layer-major, empty for none. setHeads clears them.
  void setHeadRoles(QStringList badges, QStringList notes);
  QString badge(int layer, int head) const;
  QString toolTipFor(int layer, int head) const;
  void clear();
  void setSelected(int layer, int head);
  int layers() const { return layers_; }
  int heads() const { return heads_; }
  QSize sizeHint() const override;

  static constexpr int kThumbnail = 56;  // pixels per thumbnail side

  // The exported figure's title and the line under it (what the thumbnails and captions show).
  void setExportTitle(const QString& title, const QString& subtitle);
  void renderForExport(QPainter& painter, const QSize& size) const override;
  QSize exportSize() const override;
  QString exportTitle() const override { return title_; }

 Q_SIGNALS:
  void headClicked(int layer, int head);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* event) override;
  bool event(QEvent* event) override;  // tooltips

 private:
  QRect cellRect(int layer, int head) const;
  bool headAt(const QPoint& p, int* layer, int* head) const;
  // The header, thumbnails, tags and captions at their on-screen size; the selection box when asked.
  void drawGrid(QPainter& p, const QColor& text, bool selection) const;

  int layers_ = 0, heads_ = 0, selLayer_ = 0, selHead_ = 0;
  std::vector<QImage> thumbnails_;
  QStringList captions_, badges_, notes_;
  QString title_ = tr("Attention of every layer and head"), subtitle_;
};

}  // namespace attnx::ui
