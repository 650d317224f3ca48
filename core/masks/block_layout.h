// A block-sparse layout of a set of masks at length n, like FlexAttention's BlockMask: the query
// rows are cut into blocks of `blockSize`, and each query block lists the key blocks in which it
// attends at least one pair. A listed tile is FULL when every causal pair (j <= i) in it is attended
// by exactly the same set of masks (the kernel then needs no per-pair data), else PARTIAL, with a
// per-pair membership pattern (bit m set: mask m of the set allows the pair; 0: not attended).
// Patterns are deduplicated by content, so a window's boundary tile is stored once for all blocks.
//
// Never builds an n x n matrix: the cost is the number of allowed pairs (enumerated row by row with
// MaskSpec::keysOfRow) plus blockSize^2 per listed tile. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include "core/eval/attention_plan.h"
#include "core/masks/mask_spec.h"

namespace attnx {

// Which masks cover a pair, one bit per mask of the layout's set (so at most 64 masks per set).
using MaskMembers = uint64_t;
constexpr int kMaxLayoutMasks = 64;

struct LayoutTile {
  int64_t keyBlock = 0;      // keys keyBlock*blockSize .. min(n, (keyBlock+1)*blockSize) - 1
  bool full = false;
  MaskMembers members = 0;   // full: the set covering every causal pair of the tile
  int32_t pattern = -1;      // partial: index into BlockLayout::patterns
};

struct BlockLayout {
  int64_t n = 0;             // sequence length (number of keys); the masks are evaluated at this n
  int64_t rowBegin = 0;      // first query row; the rows are rowBegin .. n-1 (decoding: rowBegin = n-1)
  int64_t blockSize = 64;
  int64_t numMasks = 0;      // size of the mask set (bits in use)
  std::vector<int64_t> tileStart;  // numQueryBlocks()+1 offsets into tiles
  std::vector<LayoutTile> tiles;   // per query block, ascending keyBlock
  // blockSize x blockSize, row-major (row: query row - block's first row, column: key - block's first key).
  std::vector<std::vector<MaskMembers>> patterns;
  // Per pattern, the columns [first, second) holding every attended pair: a sink tile attends a few
  // leading columns only, and the kernel computes just those.
  std::vector<std::pair<int32_t, int32_t>> patternColumns;
  int64_t attendedPairs = 0; // |union of the supports| over the rows of the layout

  int64_t rows() const { return n - rowBegin; }
  int64_t numQueryBlocks() const { return static_cast<int64_t>(tileStart.size()) - 1; }
  int64_t numTiles() const { return static_cast<int64_t>(tiles.size()); }
  int64_t fullTiles() const;
  // Query rows of block qb: [firstRow(qb), firstRow(qb) + rowsIn(qb)).
  int64_t firstRow(int64_t qb) const { return rowBegin + qb * blockSize; }
  int64_t rowsIn(int64_t qb) const;
  // Members at (i, j) looked up through the tiles (0 when not attended); O(tiles of the block).
  // For tests and probabilities(); the kernel walks tiles instead.
  MaskMembers membersAt(int64_t i, int64_t j) const;
};

// Compiles `masks` (each valid, at most 64) for query rows rowBegin..n-1 at length n.
// Throws MaskError for an empty set, too many masks, blockSize < 1 or rows outside [0, n).
BlockLayout compileBlockLayout(const std::vector<MaskSpec>& masks, int64_t n, int64_t blockSize = 64,
                               int64_t rowBegin = 0);

// The same over a subset of the keys, as a bounded KV cache holds them: key c of the layout (c < n =
// keyPositions.size()) sits at absolute position keyPositions[c] (ascending), the query rows are keys
// rowBegin .. n-1, and the masks are evaluated at the absolute positions, at length
// keyPositions.back() + 1. Everything else (tiles, FULL, patterns) is in the layout's own key
// indices, so the kernel runs it unchanged. Throws MaskError when a query attends a position that is
// not held (the cache dropped a key the masks still reach).
BlockLayout compileBlockLayoutAt(const std::vector<MaskSpec>& masks, const std::vector<int64_t>& keyPositions,
                                 int64_t blockSize = 64, int64_t rowBegin = 0);

// The layouts a plan needs at one length: per (layer, head), the union layout of its active masks
// (soft mask) and one single-mask layout per active mask (branch mixture; built only when asked).
// Heads with the same active set share one layout. An empty head has a null layout.
struct PlanLayouts {
  int64_t n = 0, rowBegin = 0, blockSize = 64;
  std::vector<int64_t> keyPositions;  // compiled at these key positions; empty: keys 0 .. n-1
  int64_t numLayers = 0, numHeads = 0;
  std::vector<std::shared_ptr<const BlockLayout>> unionLayouts;                 // L*H
  std::vector<std::vector<std::shared_ptr<const BlockLayout>>> branchLayouts;   // L*H, one per active mask
  const BlockLayout* unionLayout(int64_t layer, int64_t head) const { return unionLayouts[layer * numHeads + head].get(); }
};

PlanLayouts compilePlanLayouts(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, int64_t n,
                               int64_t blockSize = 64, int64_t rowBegin = 0);
// The same over held keys only (compileBlockLayoutAt).
PlanLayouts compilePlanLayoutsAt(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine,
                                 const std::vector<int64_t>& keyPositions, int64_t blockSize = 64, int64_t rowBegin = 0);

// A cache of PlanLayouts for one (plan, bank, combine, blockSize), keyed by (n, rowBegin) and, for
// held keys, their positions; least recently used dropped beyond `capacity`. Thread-safe.
class PlanLayoutCache {
 public:
  PlanLayoutCache(AttentionPlan plan, MaskBank bank, PlanCombine combine, int64_t blockSize = 64, size_t capacity = 8);
  std::shared_ptr<const PlanLayouts> get(int64_t n, int64_t rowBegin = 0) const;
  // Over held keys (compilePlanLayoutsAt); positions 0 .. n-1 are get(n, rowBegin).
  std::shared_ptr<const PlanLayouts> getAt(const std::vector<int64_t>& keyPositions, int64_t rowBegin) const;
  const AttentionPlan& plan() const { return plan_; }
  const MaskBank& bank() const { return bank_; }
  PlanCombine combine() const { return combine_; }
  int64_t blockSize() const { return blockSize_; }

 private:
  AttentionPlan plan_;
  MaskBank bank_;
  PlanCombine combine_;
  int64_t blockSize_;
  size_t capacity_;
  mutable std::mutex mutex_;
  struct Entry {
    int64_t n, rowBegin;
    std::vector<int64_t> keyPositions;  // empty: 0 .. n-1
    std::shared_ptr<const PlanLayouts> layouts;
  };
  std::shared_ptr<const PlanLayouts> lookup(int64_t n, int64_t rowBegin, const std::vector<int64_t>& keyPositions) const;
  mutable std::vector<Entry> entries_;  // most recent last
};

}  // namespace attnx
