// Paint mode for painted masks: a G × G block grid (rows: query blocks, columns: key blocks).
// Left button paints cells on, right button off; a stroke is one edit. Cells above the diagonal
// are shaded: the causal rule masks them whatever is painted.
#pragma once

#include <QWidget>
#include <vector>

namespace attnx::ui {

class PaintGridWidget : public QWidget {
  Q_OBJECT
 public:
  explicit PaintGridWidget(QWidget* parent = nullptr);
  void setGrid(int size, const std::vector<uint8_t>& cells);
  int gridSize() const { return size_; }
  const std::vector<uint8_t>& cells() const { return cells_; }
  QSize sizeHint() const override { return {220, 220}; }
  QSize minimumSizeHint() const override { return {120, 120}; }

 Q_SIGNALS:
  // After a stroke (mouse release) that changed at least one cell.
  void gridEdited(int size, const std::vector<uint8_t>& cells);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;

 private:
  QRect gridRect() const;
  void paintAt(const QPoint& pos);
  int size_ = 0;
  std::vector<uint8_t> cells_;
  uint8_t brush_ = 1;
  bool stroking_ = false, changed_ = false;
};

}  // namespace attnx::ui
