#include "ui/attention/head_grid.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace attnx::ui {

namespace {
constexpr int kMargin = 4, kCaption = 14, kHeader = 16;
}

HeadGrid::HeadGrid(QWidget* parent) : QWidget(parent) {
  setToolTip(tr("Every head of every layer; click one to show it large. Tags say what the teacher head does on "
                "this prompt: P previous token, S first-token sink, I itself, D delimiters, L local"));
  setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
}

void HeadGrid::setHeads(int layers, int heads, std::vector<QImage> thumbnails, QStringList captions) {
  layers_ = layers;
  heads_ = heads;
  thumbnails_ = std::move(thumbnails);
  captions_ = std::move(captions);
  badges_.clear();
  notes_.clear();
  updateGeometry();
  update();
}

void HeadGrid::setHeadRoles(QStringList badges, QStringList notes) {
  badges_ = std::move(badges);
  notes_ = std::move(notes);
  update();
}

QString HeadGrid::badge(int layer, int head) const {
  const int i = layer * heads_ + head;
  return i >= 0 && i < badges_.size() ? badges_[i] : QString();
}

QString HeadGrid::toolTipFor(int layer, int head) const {
  const int i = layer * heads_ + head;
  QString tip = tr("layer %1, head %2: KL %3 nats").arg(layer).arg(head).arg(i < captions_.size() ? captions_[i] : QString());
  if (i < notes_.size() && !notes_[i].isEmpty()) tip += QStringLiteral("\n") + notes_[i];
  return tip;
}

void HeadGrid::clear() { setHeads(0, 0, {}, {}); }

void HeadGrid::setSelected(int layer, int head) {
  selLayer_ = layer;
  selHead_ = head;
  update();
}

QSize HeadGrid::sizeHint() const {
  const int h = std::max(heads_, 1), l = std::max(layers_, 1);
  return QSize(kHeader + h * (kThumbnail + kMargin) + kMargin, kHeader + l * (kThumbnail + kCaption + kMargin) + kMargin);
}

QRect HeadGrid::cellRect(int layer, int head) const {
  return QRect(kHeader + kMargin + head * (kThumbnail + kMargin), kHeader + kMargin + layer * (kThumbnail + kCaption + kMargin),
               kThumbnail, kThumbnail);
}

bool HeadGrid::headAt(const QPoint& p, int* layer, int* head) const {
  for (int l = 0; l < layers_; ++l)
    for (int h = 0; h < heads_; ++h)
      if (cellRect(l, h).adjusted(0, 0, 0, kCaption).contains(p)) {
        *layer = l;
        *head = h;
        return true;
      }
  return false;
}

void HeadGrid::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  if (layers_ == 0) {
    p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, tr("The overview of every head appears here."));
    return;
  }
  drawGrid(p, palette().color(QPalette::WindowText), /*selection=*/true);
}

void HeadGrid::drawGrid(QPainter& p, const QColor& text, bool selection) const {
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 2));
  p.setFont(small);
  p.setPen(text);
  for (int h = 0; h < heads_; ++h)
    p.drawText(QRect(cellRect(0, h).left(), 0, kThumbnail, kHeader), Qt::AlignCenter, tr("H%1").arg(h));
  for (int l = 0; l < layers_; ++l) {
    p.drawText(QRect(0, cellRect(l, 0).top(), kHeader, kThumbnail), Qt::AlignCenter, tr("L%1").arg(l));
    for (int h = 0; h < heads_; ++h) {
      const QRect r = cellRect(l, h);
      const size_t i = static_cast<size_t>(l) * heads_ + h;
      if (i < thumbnails_.size()) p.drawImage(r, thumbnails_[i]);
      if (const QString b = badge(l, h); !b.isEmpty()) {
        // A light tag in the thumbnail's top-right corner (the upper triangle of a causal map is empty).
        const QRect tag(r.right() - 13, r.top() + 1, 13, 13);
        p.fillRect(tag, QColor(255, 255, 255, 200));
        p.setPen(Qt::black);
        p.drawText(tag, Qt::AlignCenter, b);
        p.setPen(text);
      }
      if (selection && l == selLayer_ && h == selHead_) {
        p.setPen(QPen(palette().highlight(), 3));
        p.drawRect(r.adjusted(-1, -1, 1, 1));
        p.setPen(text);
      }
      if (i < static_cast<size_t>(captions_.size()))
        p.drawText(QRect(r.left() - 2, r.bottom() + 1, kThumbnail + 4, kCaption), Qt::AlignCenter, captions_[static_cast<int>(i)]);
    }
  }
}

void HeadGrid::setExportTitle(const QString& title, const QString& subtitle) {
  title_ = title;
  subtitle_ = subtitle;
}

namespace {
constexpr int kTitleHeight = 48, kKeyHeight = 36;
}

QSize HeadGrid::exportSize() const {
  const QSize grid = sizeHint();
  return QSize(std::max(grid.width() * 2, 640), grid.height() * 2 + kTitleHeight + kKeyHeight);
}

void HeadGrid::renderForExport(QPainter& p, const QSize& size) const {
  QFont titleFont = font();
  titleFont.setPointSizeF(titleFont.pointSizeF() + 2);
  titleFont.setBold(true);
  p.setFont(titleFont);
  p.setPen(Qt::black);
  p.drawText(QRect(0, 4, size.width(), 24), Qt::AlignCenter, title_);
  QFont plain = font();
  plain.setPointSizeF(std::max(6.0, plain.pointSizeF() - 1));
  p.setFont(plain);
  p.drawText(QRect(8, 28, size.width() - 16, 18), Qt::AlignCenter, subtitle_);
  p.drawText(QRect(8, size.height() - kKeyHeight, size.width() - 16, kKeyHeight), Qt::AlignCenter | Qt::TextWordWrap,
             tr("Tags: what the teacher head does on the prompt \u2014 P previous token, S first-token sink, I itself, "
                "D delimiters, L local (none: broad). Rows: layers; columns: heads."));
  if (layers_ == 0) return;
  // The grid scaled to the room between the title and the key, centred.
  const QSize grid = sizeHint();
  const double room = size.height() - kTitleHeight - kKeyHeight;
  const double scale = std::max(0.1, std::min(size.width() / double(grid.width()), room / grid.height()));
  p.save();
  p.translate((size.width() - grid.width() * scale) / 2, kTitleHeight + (room - grid.height() * scale) / 2);
  p.scale(scale, scale);
  drawGrid(p, Qt::black, /*selection=*/false);
  p.restore();
}

void HeadGrid::mousePressEvent(QMouseEvent* event) {
  int l = 0, h = 0;
  if (headAt(event->pos(), &l, &h)) {
    setSelected(l, h);
    Q_EMIT headClicked(l, h);
  }
}

bool HeadGrid::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    int l = 0, h = 0;
    if (headAt(he->pos(), &l, &h)) {
      QToolTip::showText(he->globalPos(), toolTipFor(l, h), this);
      return true;
    }
  }
  return QWidget::event(e);
}

}  // namespace attnx::ui
