#include "ui/bank_editor/mask_image.h"

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

}  // namespace attnx::ui
