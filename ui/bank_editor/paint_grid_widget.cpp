#include "ui/bank_editor/paint_grid_widget.h"

#include <QMouseEvent>
#include <QPainter>

namespace attnx::ui {

PaintGridWidget::PaintGridWidget(QWidget* parent) : QWidget(parent) {
  setToolTip(tr("Paint the block grid: left button attends, right button clears. Rows are query blocks, "
                "columns key blocks; shaded cells are above the diagonal (never attended)."));
  setCursor(Qt::CrossCursor);
}

void PaintGridWidget::setGrid(int size, const std::vector<uint8_t>& cells) {
  size_ = size;
  cells_ = cells;
  cells_.resize(size_t(size) * size, 0);
  update();
}

QRect PaintGridWidget::gridRect() const {
  const int side = qMin(width(), height()) - 2;
  return {(width() - side) / 2, (height() - side) / 2, side, side};
}

void PaintGridWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  if (size_ <= 0) return;
  const QRect r = gridRect();
  const double cell = double(r.width()) / size_;
  for (int y = 0; y < size_; ++y)
    for (int x = 0; x < size_; ++x) {
      const QRectF c(r.left() + x * cell, r.top() + y * cell, cell, cell);
      const QColor fill = cells_[size_t(y) * size_ + x] ? (x > y ? QColor(150, 160, 180) : QColor(20, 60, 130))
                                                        : (x > y ? QColor(236, 236, 236) : Qt::white);
      p.fillRect(c, fill);
    }
  p.setPen(QColor(190, 190, 190));
  for (int i = 0; i <= size_; ++i) {
    p.drawLine(QPointF(r.left() + i * cell, r.top()), QPointF(r.left() + i * cell, r.bottom()));
    p.drawLine(QPointF(r.left(), r.top() + i * cell), QPointF(r.right(), r.top() + i * cell));
  }
}

void PaintGridWidget::paintAt(const QPoint& pos) {
  const QRect r = gridRect();
  if (!r.contains(pos) || size_ <= 0) return;
  const int x = qMin(size_ - 1, int((pos.x() - r.left()) * size_ / double(r.width())));
  const int y = qMin(size_ - 1, int((pos.y() - r.top()) * size_ / double(r.height())));
  auto& c = cells_[size_t(y) * size_ + x];
  if (c == brush_) return;
  c = brush_;
  changed_ = true;
  update();
}

void PaintGridWidget::mousePressEvent(QMouseEvent* e) {
  brush_ = e->button() == Qt::RightButton ? 0 : 1;
  stroking_ = true;
  changed_ = false;
  paintAt(e->position().toPoint());
}

void PaintGridWidget::mouseMoveEvent(QMouseEvent* e) {
  if (stroking_) paintAt(e->position().toPoint());
}

void PaintGridWidget::mouseReleaseEvent(QMouseEvent*) {
  stroking_ = false;
  if (changed_) Q_EMIT gridEdited(size_, cells_);
  changed_ = false;
}

}  // namespace attnx::ui
