// Pictures of masks: a single mask at length n, and a bank's combined soft mask W with its block
// layout (which query-block × key-block tiles are full, partial or empty), as a sparse kernel sees it.
#pragma once

#include <QImage>
#include <vector>

#include "core/masks/mask_bank.h"

namespace attnx::ui {

// n × n, allowed pairs dark on white, the non-causal triangle light grey.
QImage maskImage(const MaskSpec& spec, int n);

// W as an n × n image: 0 white, larger W darker blue (scaled to the largest W).
QImage combinedImage(const CombinedMask& mask);

struct BlockLayout {
  int blockSize = 0;
  int blocks = 0;  // blocks per side
  // [queryBlock * blocks + keyBlock]: 0 empty, 1 partial, 2 full (every causal pair attended).
  std::vector<uint8_t> kind;
  int full = 0, partial = 0, empty = 0;  // over the causal tiles (keyBlock <= queryBlock)
};
// The block layout of W at block size b (>= 1): what a block-sparse kernel would compute.
BlockLayout blockLayoutOf(const CombinedMask& mask, int blockSize);

// A picture of the layout: one pixel-block per tile, full dark, partial mid, empty white.
QImage blockLayoutImage(const BlockLayout& layout, int cellPixels);

// `picture` (an n x n map drawn at any size) framed with axes as attention maps are read: key
// token along the top-left to right, query token downwards, ticks at 0, n/4, n/2, 3n/4 and n-1, a
// caption above. For the editor's combined mask and block layout.
QImage withTokenAxes(const QImage& picture, int n, const QString& caption);

}  // namespace attnx::ui
