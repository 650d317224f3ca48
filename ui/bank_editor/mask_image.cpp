#include "ui/bank_editor/mask_image.h"

#include <QFontMetrics>
#include <QObject>
#include <QPainter>

#include <algorithm>

namespace attnx::ui {

QImage maskImage(const MaskSpec& spec, int n) {
  QImage img(n, n, QImage::Format_RGB32);
  const auto dense = spec.dense(n);
  for (int i = 0; i < n; ++i) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(i));
    for (int j = 0; j < n; ++j)
      line[j] = j > i ? qRgb(236, 236, 236) : dense[size_t(i) * n + j] ? qRgb(20, 60, 130) : qRgb(255, 255, 255);
  }
  return img;
}

QImage combinedImage(const CombinedMask& mask) {
  const int n = static_cast<int>(mask.n);
  QImage img(n, n, QImage::Format_RGB32);
  const float top = std::max(1e-12f, *std::max_element(mask.weights.begin(), mask.weights.end()));
  for (int i = 0; i < n; ++i) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(i));
    for (int j = 0; j < n; ++j) {
      if (j > i) { line[j] = qRgb(236, 236, 236); continue; }
      const float t = mask.weights[size_t(i) * n + j] / top;  // 0..1
      if (t <= 0) { line[j] = qRgb(255, 255, 255); continue; }
      // From light blue (small W) to dark blue (the largest W): every attended pair stays visible.
      const float s = 0.25f + 0.75f * t;
      line[j] = qRgb(int(255 - s * 235), int(255 - s * 175), int(255 - s * 95));
    }
  }
  return img;
}

BlockLayout blockLayoutOf(const CombinedMask& mask, int blockSize) {
  BlockLayout out;
  const int n = static_cast<int>(mask.n);
  out.blockSize = std::max(1, blockSize);
  out.blocks = (n + out.blockSize - 1) / out.blockSize;
  out.kind.assign(size_t(out.blocks) * out.blocks, 0);
  for (int qb = 0; qb < out.blocks; ++qb)
    for (int kb = 0; kb <= qb; ++kb) {
      int causal = 0, attended = 0;
      for (int i = qb * out.blockSize; i < std::min(n, (qb + 1) * out.blockSize); ++i)
        for (int j = kb * out.blockSize; j < std::min(i + 1, (kb + 1) * out.blockSize); ++j) {
          ++causal;
          attended += mask.weights[size_t(i) * n + j] > 0;
        }
      const uint8_t k = attended == 0 ? 0 : attended == causal ? 2 : 1;
      out.kind[size_t(qb) * out.blocks + kb] = k;
      (k == 0 ? out.empty : k == 1 ? out.partial : out.full)++;
    }
  return out;
}

QImage blockLayoutImage(const BlockLayout& layout, int cellPixels) {
  const int side = layout.blocks * cellPixels;
  QImage img(side, side, QImage::Format_RGB32);
  img.fill(qRgb(236, 236, 236));
  for (int qb = 0; qb < layout.blocks; ++qb)
    for (int kb = 0; kb <= qb; ++kb) {
      const uint8_t k = layout.kind[size_t(qb) * layout.blocks + kb];
      const QRgb c = k == 2 ? qRgb(20, 60, 130) : k == 1 ? qRgb(120, 170, 225) : qRgb(255, 255, 255);
      for (int y = qb * cellPixels; y < (qb + 1) * cellPixels; ++y)
        for (int x = kb * cellPixels; x < (kb + 1) * cellPixels; ++x)
          // A one-pixel grid line between tiles keeps them countable.
          img.setPixel(x, y, (x % cellPixels == 0 || y % cellPixels == 0) && cellPixels > 3 ? qRgb(200, 200, 200) : c);
    }
  return img;
}

QImage withTokenAxes(const QImage& picture, int n, const QString& caption) {
  const int left = 52, top = 22, right = 10, bottom = 34;
  QImage out(picture.width() + left + right, picture.height() + top + bottom, QImage::Format_ARGB32);
  out.fill(Qt::transparent);
  QPainter p(&out);
  p.drawImage(left, top, picture);
  p.setPen(QColor(0x60, 0x60, 0x60));
  p.drawRect(left - 1, top - 1, picture.width() + 1, picture.height() + 1);
  QFont f = p.font();
  f.setPointSizeF(f.pointSizeF() * 0.85);
  p.setFont(f);
  const QFontMetrics fm(f);
  p.setPen(Qt::black);
  p.drawText(QRect(left, 0, picture.width(), top - 4), Qt::AlignCenter, caption);
  for (int t : {0, n / 4, n / 2, 3 * n / 4, n - 1}) {
    const double frac = n > 1 ? (t + 0.5) / n : 0.5;
    const int x = left + static_cast<int>(frac * picture.width());
    const int y = top + static_cast<int>(frac * picture.height());
    const QString text = QString::number(t);
    p.drawLine(x, top + picture.height(), x, top + picture.height() + 3);
    p.drawText(x - fm.horizontalAdvance(text) / 2, top + picture.height() + 4 + fm.ascent(), text);
    p.drawLine(left - 4, y, left - 1, y);
    p.drawText(left - 6 - fm.horizontalAdvance(text), y + fm.ascent() / 2 - 1, text);
  }
  p.drawText(QRect(left, top + picture.height() + 4 + fm.height(), picture.width(), fm.height() + 2), Qt::AlignCenter,
             QObject::tr("key token"));
  p.save();
  p.translate(8, top + picture.height() / 2);
  p.rotate(-90);
  p.drawText(QRect(-picture.height() / 2, -fm.height() / 2 - 2, picture.height(), fm.height() + 2), Qt::AlignCenter,
             QObject::tr("query token"));
  p.restore();
  return out;
}

}  // namespace attnx::ui
