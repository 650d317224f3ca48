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

// Index of absolute key position `key` among the held `positions` (ascending).
int64_t heldIndex(const std::vector<int64_t>& positions, int64_t query, int64_t key) {
  const auto it = std::lower_bound(positions.begin(), positions.end(), key);
  if (it == positions.end() || *it != key)
    throw MaskError("block layout: the query at position " + std::to_string(query) + " attends position " +
                    std::to_string(key) + ", which is not among the keys held (dropped from a bounded KV cache?)");
  return it - positions.begin();
}

// Compiles for keys 0..n-1 of which key c sits at absolute position positions[c] (null: c itself);
// masks are evaluated at the absolute positions, at length `absoluteN`.
BlockLayout compile(const std::vector<MaskSpec>& masks, int64_t n, int64_t blockSize, int64_t rowBegin,
                    const std::vector<int64_t>* positions, int64_t absoluteN) {
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
        masks[m].keysOfRow(positions ? (*positions)[p] : p, absoluteN, keys);
        for (int64_t key : keys) {
          const int64_t j = positions ? heldIndex(*positions, (*positions)[p], key) : key;
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

}  // namespace

BlockLayout compileBlockLayout(const std::vector<MaskSpec>& masks, int64_t n, int64_t blockSize, int64_t rowBegin) {
  return compile(masks, n, blockSize, rowBegin, nullptr, n);
}

BlockLayout compileBlockLayoutAt(const std::vector<MaskSpec>& masks, const std::vector<int64_t>& keyPositions,
                                 int64_t blockSize, int64_t rowBegin) {
  for (size_t c = 0; c < keyPositions.size(); ++c)
    if (keyPositions[c] < 0 || (c > 0 && keyPositions[c] <= keyPositions[c - 1]))
      throw MaskError("block layout: key positions must be ascending and >= 0");
  const auto n = static_cast<int64_t>(keyPositions.size());
  return compile(masks, n, blockSize, rowBegin, &keyPositions, n > 0 ? keyPositions.back() + 1 : 0);
}

namespace {

// The layouts of a plan's heads, each mask set compiled once by `compileSet`.
template <typename CompileSet>
PlanLayouts compilePlan(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, int64_t n,
                        int64_t blockSize, int64_t rowBegin, const CompileSet& compileSet) {
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
        u = std::make_shared<const BlockLayout>(compileSet(specs));
      }
      out.unionLayouts[l * plan.numHeads + h] = u;
      if (combine != PlanCombine::BranchMixture) continue;
      for (int i : indices) {
        auto& s = singles[i];
        if (!s) s = std::make_shared<const BlockLayout>(compileSet(std::vector<MaskSpec>{bank.masks[i]}));
        out.branchLayouts[l * plan.numHeads + h].push_back(s);
      }
    }
  }
  return out;
}

// Whether positions are exactly 0 .. size-1 (ascending and distinct are checked by the compiler).
bool isPrefix(const std::vector<int64_t>& positions) {
  return !positions.empty() && positions.front() == 0 &&
         positions.back() == static_cast<int64_t>(positions.size()) - 1;
}

}  // namespace

PlanLayouts compilePlanLayouts(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, int64_t n,
                               int64_t blockSize, int64_t rowBegin) {
  return compilePlan(plan, bank, combine, n, blockSize, rowBegin,
                     [&](const std::vector<MaskSpec>& specs) { return compileBlockLayout(specs, n, blockSize, rowBegin); });
}

PlanLayouts compilePlanLayoutsAt(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine,
                                 const std::vector<int64_t>& keyPositions, int64_t blockSize, int64_t rowBegin) {
  auto out = compilePlan(plan, bank, combine, static_cast<int64_t>(keyPositions.size()), blockSize, rowBegin,
                         [&](const std::vector<MaskSpec>& specs) {
                           return compileBlockLayoutAt(specs, keyPositions, blockSize, rowBegin);
                         });
  out.keyPositions = keyPositions;
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
  return lookup(n, rowBegin, {});
}

std::shared_ptr<const PlanLayouts> PlanLayoutCache::getAt(const std::vector<int64_t>& keyPositions,
                                                          int64_t rowBegin) const {
  const auto n = static_cast<int64_t>(keyPositions.size());
  if (isPrefix(keyPositions)) return lookup(n, rowBegin, {});
  return lookup(n, rowBegin, keyPositions);
}

std::shared_ptr<const PlanLayouts> PlanLayoutCache::lookup(int64_t n, int64_t rowBegin,
                                                           const std::vector<int64_t>& keyPositions) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->n == n && it->rowBegin == rowBegin && it->keyPositions == keyPositions) {
        auto entry = *it;
        entries_.erase(it);
        entries_.push_back(entry);
        return entry.layouts;
      }
    }
  }
  // Compiled outside the lock: two threads may compile the same entry, which is harmless.
  auto layouts = std::make_shared<const PlanLayouts>(
      keyPositions.empty() ? compilePlanLayouts(plan_, bank_, combine_, n, blockSize_, rowBegin)
                           : compilePlanLayoutsAt(plan_, bank_, combine_, keyPositions, blockSize_, rowBegin));
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_back({n, rowBegin, keyPositions, layouts});
  if (entries_.size() > capacity_) entries_.erase(entries_.begin());
  return layouts;
}

}  // namespace attnx
