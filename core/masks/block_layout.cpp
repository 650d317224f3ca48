#include "core/masks/block_layout.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

namespace attnx {

int64_t BlockLayout::fullTiles() const {
  return std::count_if(tiles.begin(), tiles.end(), [](const LayoutTile& t) { return t.full; });
}

int64_t BlockLayout::rowsIn(int64_t qb) const { return std::min(blockSize, n - firstRow(qb)); }

MaskMembers BlockLayout::membersAt(int64_t i, int64_t j) const {
  if (i < rowBegin || i >= n || j < 0 || j >= n || j > i) return 0;
  const int64_t qb = (i - rowBegin) / blockSize, kb = j / blockSize;
  for (int64_t t = tileStart[qb]; t < tileStart[qb + 1]; ++t) {
    const auto& tile = tiles[t];
    if (tile.keyBlock != kb) continue;
    if (tile.full) return tile.members;
    return patterns[tile.pattern][(i - firstRow(qb)) * blockSize + (j - kb * blockSize)];
  }
  return 0;
}

namespace {

uint64_t hashPattern(const std::vector<MaskMembers>& p) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
  for (auto v : p) {
    h ^= v;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

BlockLayout compileBlockLayout(const std::vector<MaskSpec>& masks, int64_t n, int64_t blockSize, int64_t rowBegin) {
  if (masks.empty()) throw MaskError("block layout: no masks to compile");
  if (masks.size() > static_cast<size_t>(kMaxLayoutMasks))
    throw MaskError("block layout: " + std::to_string(masks.size()) + " masks in one head, at most " +
                    std::to_string(kMaxLayoutMasks) + " can be compiled together");
  if (blockSize < 1) throw MaskError("block layout: block size must be >= 1, got " + std::to_string(blockSize));
  if (n < 1 || rowBegin < 0 || rowBegin >= n)
    throw MaskError("block layout: rows from " + std::to_string(rowBegin) + " at length " + std::to_string(n) +
                    " (need 0 <= first row < n)");
  for (const auto& m : masks) m.validate();

  BlockLayout L;
  L.n = n;
  L.rowBegin = rowBegin;
  L.blockSize = blockSize;
  L.numMasks = static_cast<int64_t>(masks.size());
  const int64_t numKeyBlocks = (n + blockSize - 1) / blockSize;
  const int64_t numQueryBlocks = (n - rowBegin + blockSize - 1) / blockSize;
  const size_t tileCells = static_cast<size_t>(blockSize * blockSize);

  // Scratch tiles for the key blocks one query block touches; reused (zeroed) between query blocks.
  std::vector<int32_t> slotOf(numKeyBlocks, -1);
  std::vector<std::vector<MaskMembers>> scratch;
  std::vector<int64_t> touched;
  std::unordered_map<uint64_t, std::vector<int32_t>> patternsByHash;
  std::vector<int64_t> keys;

  L.tileStart.push_back(0);
  for (int64_t qb = 0; qb < numQueryBlocks; ++qb) {
    const int64_t r0 = L.firstRow(qb), rows = L.rowsIn(qb);
    for (int64_t p = r0; p < r0 + rows; ++p) {
      for (size_t m = 0; m < masks.size(); ++m) {
        const MaskMembers bit = MaskMembers{1} << m;
        masks[m].keysOfRow(p, n, keys);
        for (int64_t j : keys) {
          const int64_t kb = j / blockSize;
          int32_t s = slotOf[kb];
          if (s < 0) {
            s = static_cast<int32_t>(touched.size());
            if (scratch.size() <= static_cast<size_t>(s)) scratch.emplace_back(tileCells, 0);
            slotOf[kb] = s;
            touched.push_back(kb);
          }
          scratch[s][(p - r0) * blockSize + (j - kb * blockSize)] |= bit;
        }
      }
    }
    std::sort(touched.begin(), touched.end());
    for (int64_t kb : touched) {
      auto& cells = scratch[slotOf[kb]];
      const int64_t k0 = kb * blockSize, cols = std::min(blockSize, n - k0);
      bool full = true;
      MaskMembers first = 0;
      for (int64_t rr = 0; rr < rows; ++rr) {
        for (int64_t cc = 0; cc < cols; ++cc) {
          const MaskMembers v = cells[rr * blockSize + cc];
          if (v) ++L.attendedPairs;
          if (k0 + cc > r0 + rr) continue;  // above the diagonal: never attended (masks are causal)
          if (v == 0 || (first && v != first)) full = false;
          if (!first) first = v;
        }
      }
      LayoutTile tile;
      tile.keyBlock = kb;
      if (full) {
        tile.full = true;
        tile.members = first;
      } else {
        auto& candidates = patternsByHash[hashPattern(cells)];
        for (int32_t idx : candidates)
          if (L.patterns[idx] == cells) tile.pattern = idx;
        if (tile.pattern < 0) {
          tile.pattern = static_cast<int32_t>(L.patterns.size());
          L.patterns.push_back(cells);
          candidates.push_back(tile.pattern);
          int32_t first = static_cast<int32_t>(blockSize), last = -1;
          for (int64_t rr = 0; rr < rows; ++rr)
            for (int64_t cc = 0; cc < cols; ++cc)
              if (cells[rr * blockSize + cc]) {
                first = std::min(first, static_cast<int32_t>(cc));
                last = std::max(last, static_cast<int32_t>(cc));
              }
          L.patternColumns.emplace_back(first, last + 1);
        }
      }
      L.tiles.push_back(tile);
      std::fill(cells.begin(), cells.end(), 0);
      slotOf[kb] = -1;
    }
    touched.clear();
    L.tileStart.push_back(static_cast<int64_t>(L.tiles.size()));
  }
  return L;
}

PlanLayouts compilePlanLayouts(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, int64_t n,
                               int64_t blockSize, int64_t rowBegin) {
  plan.checkBank(bank);
  PlanLayouts out;
  out.n = n;
  out.rowBegin = rowBegin;
  out.blockSize = blockSize;
  out.numLayers = plan.numLayers;
  out.numHeads = plan.numHeads;
  const int64_t heads = plan.numLayers * plan.numHeads;
  out.unionLayouts.resize(heads);
  if (combine == PlanCombine::BranchMixture) out.branchLayouts.resize(heads);
  // Heads with equal active sets share a layout: a uniform plan compiles once, not L*H times.
  std::map<std::vector<int>, std::shared_ptr<const BlockLayout>> unions;
  std::map<int, std::shared_ptr<const BlockLayout>> singles;
  for (int64_t l = 0; l < plan.numLayers; ++l) {
    for (int64_t h = 0; h < plan.numHeads; ++h) {
      const auto& active = plan.active(l, h);
      if (active.empty()) continue;
      std::vector<int> indices;
      for (const auto& e : active) indices.push_back(e.maskIndex);
      auto& u = unions[indices];
      if (!u) {
        std::vector<MaskSpec> specs;
        for (int i : indices) specs.push_back(bank.masks[i]);
        u = std::make_shared<const BlockLayout>(compileBlockLayout(specs, n, blockSize, rowBegin));
      }
      out.unionLayouts[l * plan.numHeads + h] = u;
      if (combine != PlanCombine::BranchMixture) continue;
      for (int i : indices) {
        auto& s = singles[i];
        if (!s) s = std::make_shared<const BlockLayout>(compileBlockLayout({bank.masks[i]}, n, blockSize, rowBegin));
        out.branchLayouts[l * plan.numHeads + h].push_back(s);
      }
    }
  }
  return out;
}

PlanLayoutCache::PlanLayoutCache(AttentionPlan plan, MaskBank bank, PlanCombine combine, int64_t blockSize,
                                 size_t capacity)
    : plan_(std::move(plan)), bank_(std::move(bank)), combine_(combine), blockSize_(blockSize),
      capacity_(std::max<size_t>(1, capacity)) {
  plan_.validate();
  plan_.checkBank(bank_);
  if (blockSize_ < 1) throw MaskError("block layout: block size must be >= 1, got " + std::to_string(blockSize_));
}

std::shared_ptr<const PlanLayouts> PlanLayoutCache::get(int64_t n, int64_t rowBegin) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (std::get<0>(*it) == n && std::get<1>(*it) == rowBegin) {
        auto entry = *it;
        entries_.erase(it);
        entries_.push_back(entry);
        return std::get<2>(entry);
      }
    }
  }
  // Compiled outside the lock: two threads may compile the same entry, which is harmless.
  auto layouts = std::make_shared<const PlanLayouts>(compilePlanLayouts(plan_, bank_, combine_, n, blockSize_, rowBegin));
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.emplace_back(n, rowBegin, layouts);
  if (entries_.size() > capacity_) entries_.erase(entries_.begin());
  return layouts;
}

}  // namespace attnx
