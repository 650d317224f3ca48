#include "core/masks/mask_spec.h"

#include <algorithm>
#include <utility>

namespace attnx {
namespace {

struct FamilyInfo {
  MaskFamily family;
  const char* name;
};

// The order of method.md's table; names as written in bank files.
constexpr FamilyInfo kFamilies[] = {
    {MaskFamily::Causal, "causal"},
    {MaskFamily::Window, "window"},
    {MaskFamily::DilatedWindow, "dilated-window"},
    {MaskFamily::Strided, "strided"},
    {MaskFamily::BlockLocal, "block-local"},
    {MaskFamily::SummaryColumns, "summary-columns"},
    {MaskFamily::Sinks, "sinks"},
    {MaskFamily::Offsets, "offsets"},
    {MaskFamily::Random, "random"},
    {MaskFamily::Painted, "painted"},
};

// splitmix64 (Steele, Lea, Flood 2014): a fixed sequence of 64-bit integer operations, so the
// same seed gives the same numbers with every compiler and standard library.
uint64_t splitmix64Next(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t causalPairs(int64_t n) { return n * (n + 1) / 2; }

// Every length a mask takes (a window, a stride, a block, an offset) is at most 2^30 tokens, far
// beyond any sequence attnx runs; so reach arithmetic such as (w - 1) * r + 1 or G * b stays far
// inside int64 whatever a bank file says.
constexpr int64_t kMaxLength = int64_t{1} << 30;

// "" when min <= got <= 2^30, else the message for a size field.
std::string outOfRange(const char* field, int64_t min, int64_t got) {
  if (got >= min && got <= kMaxLength) return "";
  return std::string("field \"") + field + "\" must be an integer between " + std::to_string(min) +
         " and 2^30 = " + std::to_string(kMaxLength) + ", got " + std::to_string(got);
}

}  // namespace

const char* familyName(MaskFamily family) {
  for (const auto& f : kFamilies)
    if (f.family == family) return f.name;
  return "?";
}

MaskFamily familyFromName(const std::string& name) {
  std::string known;
  for (const auto& f : kFamilies) {
    if (name == f.name) return f.family;
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  }
  throw MaskError("unknown family \"" + name + "\" (known: " + known + ")");
}

const std::vector<MaskFamily>& allFamilies() {
  static const std::vector<MaskFamily> all = [] {
    std::vector<MaskFamily> v;
    for (const auto& f : kFamilies) v.push_back(f.family);
    return v;
  }();
  return all;
}

// ---- constructors ----

MaskSpec MaskSpec::causal(std::string name) {
  MaskSpec m;
  m.name = std::move(name);
  m.family = MaskFamily::Causal;
  return m;
}

MaskSpec MaskSpec::window(std::string name, int64_t w) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Window;
  m.w = w;
  return m;
}

MaskSpec MaskSpec::dilatedWindow(std::string name, int64_t w, int64_t r) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::DilatedWindow;
  m.w = w;
  m.r = r;
  return m;
}

MaskSpec MaskSpec::strided(std::string name, int64_t s) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Strided;
  m.s = s;
  return m;
}

MaskSpec MaskSpec::blockLocal(std::string name, int64_t b) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::BlockLocal;
  m.b = b;
  return m;
}

MaskSpec MaskSpec::summaryColumns(std::string name, int64_t s, int64_t c) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::SummaryColumns;
  m.s = s;
  m.c = c;
  return m;
}

MaskSpec MaskSpec::sinks(std::string name, int64_t k) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Sinks;
  m.k = k;
  return m;
}

MaskSpec MaskSpec::offsetSet(std::string name, std::vector<int64_t> offsets) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Offsets;
  m.offsets = std::move(offsets);
  return m;
}

MaskSpec MaskSpec::random(std::string name, int64_t b, int64_t r, uint64_t seed) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Random;
  m.b = b;
  m.r = r;
  m.seed = seed;
  return m;
}

MaskSpec MaskSpec::painted(std::string name, int64_t gridSize, std::vector<uint8_t> grid, int64_t cellTokens) {
  MaskSpec m = causal(std::move(name));
  m.family = MaskFamily::Painted;
  m.b = cellTokens;
  m.gridSize = gridSize;
  m.grid = std::move(grid);
  return m;
}

// ---- the random family ----

// Floyd's algorithm samples r distinct blocks out of 0..q uniformly in r steps. The stream of
// query block q starts from splitmix64(seed) XOR q, so each query block has its own numbers,
// independent of n and of the other blocks. A draw in [0, t] is next() mod (t + 1): its bias is
// below t / 2^64, and it is exactly reproducible anywhere (unlike std::uniform_int_distribution).
std::vector<int64_t> MaskSpec::randomKeyBlocks(int64_t queryBlock) const {
  const int64_t candidates = queryBlock + 1;
  std::vector<int64_t> chosen;
  if (r >= candidates) {
    for (int64_t kb = 0; kb < candidates; ++kb) chosen.push_back(kb);
    return chosen;
  }
  uint64_t state = seed;
  state = splitmix64Next(state) ^ static_cast<uint64_t>(queryBlock);
  chosen.reserve(static_cast<size_t>(r));
  for (int64_t t = candidates - r; t < candidates; ++t) {
    const auto v = static_cast<int64_t>(splitmix64Next(state) % static_cast<uint64_t>(t + 1));
    const bool taken = std::find(chosen.begin(), chosen.end(), v) != chosen.end();
    chosen.push_back(taken ? t : v);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// ---- evaluation ----

bool MaskSpec::allows(int64_t i, int64_t j, int64_t n) const {
  if (j > i) return false;
  if (j == i) return true;
  const int64_t d = i - j;  // > 0
  switch (family) {
    case MaskFamily::Causal: return true;
    case MaskFamily::Window: return d < w;
    case MaskFamily::DilatedWindow: return d % r == 0 && d / r < w;  // d < w*r without overflow
    case MaskFamily::Strided: return d % s == 0;
    case MaskFamily::BlockLocal: return i / b == j / b;
    case MaskFamily::SummaryColumns: return j % s >= s - c;
    case MaskFamily::Sinks: return j < k;
    case MaskFamily::Offsets: return std::find(offsets.begin(), offsets.end(), d) != offsets.end();
    case MaskFamily::Random: {
      const auto blocks = randomKeyBlocks(i / b);
      return std::binary_search(blocks.begin(), blocks.end(), j / b);
    }
    case MaskFamily::Painted: return paintedCell(i / b, j / b);
  }
  return false;
}

bool MaskSpec::paintedCell(int64_t row, int64_t col) const {
  const int64_t G = gridSize;
  if (row < G) return grid[static_cast<size_t>(row * G + col)] != 0;
  const auto lastRow = [&](int64_t c) { return grid[static_cast<size_t>((G - 1) * G + c)] != 0; };
  if (col == 0) return lastRow(0);
  const int64_t back = row - col;  // block diagonals: 0 is the query's own cell
  return back <= G - 2 && lastRow(G - 1 - back);
}

namespace {

// painted: the key cells query cell `row` attends, ascending, visiting only those the rule can set
// (all of 0..row inside the canvas; below it column 0 and the last G - 1 diagonals): O(G) per row.
template <typename Visit>
void forEachPaintedColumn(const MaskSpec& m, int64_t row, Visit visit) {
  const int64_t G = m.gridSize;
  const int64_t first = row < G ? 1 : std::max<int64_t>(1, row - (G - 2));
  if (m.paintedCell(row, 0)) visit(int64_t{0});
  for (int64_t col = first; col <= row; ++col)
    if (m.paintedCell(row, col)) visit(col);
}

}  // namespace

void MaskSpec::keysOfRow(int64_t i, int64_t n, std::vector<int64_t>& keys) const {
  keys.clear();
  auto range = [&keys](int64_t from, int64_t to) {  // [from, to], ascending
    for (int64_t j = from; j <= to; ++j) keys.push_back(j);
  };
  switch (family) {
    case MaskFamily::Causal: range(0, i); return;
    case MaskFamily::Window: range(std::max<int64_t>(0, i - w + 1), i); return;
    case MaskFamily::DilatedWindow:
      for (int64_t t = std::min(w - 1, i / r); t >= 0; --t) keys.push_back(i - t * r);
      return;
    case MaskFamily::Strided:
      for (int64_t j = i % s; j <= i; j += s) keys.push_back(j);
      return;
    case MaskFamily::BlockLocal: range(i / b * b, i); return;
    case MaskFamily::SummaryColumns:
      for (int64_t start = 0; start + s - c <= i; start += s) range(start + s - c, std::min(start + s - 1, i));
      if (keys.empty() || keys.back() != i) keys.push_back(i);
      return;
    case MaskFamily::Sinks:
      range(0, std::min(k, i + 1) - 1);
      if (keys.empty() || keys.back() != i) keys.push_back(i);
      return;
    case MaskFamily::Offsets:
      keys.push_back(i);
      for (int64_t o : offsets)
        if (o > 0 && o <= i) keys.push_back(i - o);
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      return;
    case MaskFamily::Random: {
      const int64_t qb = i / b;
      const auto blocks = randomKeyBlocks(qb);
      for (int64_t kb : blocks) range(kb * b, std::min(kb * b + b - 1, i));
      if (blocks.empty() || blocks.back() != qb) keys.push_back(i);  // the diagonal
      return;
    }
    case MaskFamily::Painted:
      forEachPaintedColumn(*this, i / b, [&](int64_t col) { range(col * b, std::min(col * b + b - 1, i)); });
      if (keys.empty() || keys.back() != i) keys.push_back(i);
      return;
  }
}

int64_t MaskSpec::rowCount(int64_t i, int64_t n) const {
  switch (family) {
    case MaskFamily::Causal: return i + 1;
    case MaskFamily::Window: return std::min(i + 1, w);
    case MaskFamily::DilatedWindow: return std::min(w, i / r + 1);
    case MaskFamily::Strided: return i / s + 1;
    case MaskFamily::BlockLocal: return i % b + 1;
    case MaskFamily::SummaryColumns: {
      const int64_t inColumns = (i + 1) / s * c + std::max<int64_t>(0, (i + 1) % s - (s - c));
      return inColumns + (i % s < s - c ? 1 : 0);
    }
    case MaskFamily::Sinks: return i < k ? i + 1 : k + 1;
    case MaskFamily::Offsets: {
      int64_t count = 1;  // the diagonal
      for (int64_t o : offsets)
        if (o > 0 && o <= i) ++count;
      return count;
    }
    case MaskFamily::Random: {
      const int64_t qb = i / b;
      const auto blocks = randomKeyBlocks(qb);
      int64_t count = 0;
      for (int64_t kb : blocks) count += kb < qb ? b : i - qb * b + 1;
      return count + (blocks.empty() || blocks.back() != qb ? 1 : 0);
    }
    case MaskFamily::Painted: {
      const int64_t row = i / b;
      int64_t count = 0;
      forEachPaintedColumn(*this, row, [&](int64_t col) { count += std::min(col * b + b - 1, i) - col * b + 1; });
      return count + (paintedCell(row, row) ? 0 : 1);
    }
  }
  return 0;
}

int64_t MaskSpec::allowedPairs(int64_t n) const {
  if (n <= 0) return 0;
  switch (family) {
    case MaskFamily::Causal: return causalPairs(n);
    case MaskFamily::Window: return n <= w ? causalPairs(n) : causalPairs(w) + (n - w) * w;
    case MaskFamily::Sinks: return n <= k ? causalPairs(n) : causalPairs(k) + (n - k) * (k + 1);
    case MaskFamily::BlockLocal: return n / b * causalPairs(b) + causalPairs(n % b);
    case MaskFamily::Strided: {  // sum over i of floor(i/s) + 1
      const int64_t q = n / s, rem = n % s;
      return n + s * q * (q - 1) / 2 + rem * q;
    }
    default: {
      int64_t total = 0;
      for (int64_t i = 0; i < n; ++i) total += rowCount(i, n);
      return total;
    }
  }
}

double MaskSpec::density(int64_t n) const {
  if (n <= 0) return 0.0;
  return static_cast<double>(allowedPairs(n)) / static_cast<double>(causalPairs(n));
}

std::vector<uint8_t> MaskSpec::dense(int64_t n) const {
  std::vector<uint8_t> out(static_cast<size_t>(n * n), 0);
  std::vector<int64_t> keys;
  for (int64_t i = 0; i < n; ++i) {
    keysOfRow(i, n, keys);
    for (int64_t j : keys) out[static_cast<size_t>(i * n + j)] = 1;
  }
  return out;
}

// ---- description and validation ----

std::optional<KeyReach> MaskSpec::keyReach() const {
  switch (family) {
    case MaskFamily::Window: return KeyReach{0, w};
    case MaskFamily::DilatedWindow: return KeyReach{0, (w - 1) * r + 1};
    case MaskFamily::BlockLocal: return KeyReach{0, b};  // i - j < b inside a block
    case MaskFamily::Sinks: return KeyReach{k, 1};
    case MaskFamily::Offsets: {
      int64_t far = 0;  // offsets above i and below 0 never attend: only the positive ones reach back
      for (int64_t o : offsets) far = std::max(far, o);
      return KeyReach{0, far + 1};
    }
    // Inside the canvas every key is less than G*b back; below it, column 0 (b sink keys) and
    // diagonals at most G - 2 cells back (paintedCell).
    case MaskFamily::Painted: return KeyReach{b, gridSize * b};
    // Their keys go back to the start (causal, strided, summary columns, random blocks).
    case MaskFamily::Causal:
    case MaskFamily::Strided:
    case MaskFamily::SummaryColumns:
    case MaskFamily::Random: return std::nullopt;
  }
  return std::nullopt;
}

std::string MaskSpec::parameterText() const {
  auto kv = [](const char* key, int64_t v) { return std::string(key) + "=" + std::to_string(v); };
  switch (family) {
    case MaskFamily::Causal: return "";
    case MaskFamily::Window: return kv("w", w);
    case MaskFamily::DilatedWindow: return kv("w", w) + ", " + kv("r", r);
    case MaskFamily::Strided: return kv("s", s);
    case MaskFamily::BlockLocal: return kv("b", b);
    case MaskFamily::SummaryColumns: return kv("s", s) + ", " + kv("c", c);
    case MaskFamily::Sinks: return kv("k", k);
    case MaskFamily::Offsets: {
      std::string text = "O={";
      for (size_t t = 0; t < offsets.size(); ++t) text += (t ? "," : "") + std::to_string(offsets[t]);
      return text + "}";
    }
    case MaskFamily::Random: return kv("b", b) + ", " + kv("r", r) + ", seed=" + std::to_string(seed);
    case MaskFamily::Painted: return kv("b", b) + ", grid " + std::to_string(gridSize) + "x" + std::to_string(gridSize);
  }
  return "";
}

std::string MaskSpec::problem() const {
  switch (family) {
    case MaskFamily::Causal: return "";
    case MaskFamily::Window: return outOfRange("w", 1, w);
    case MaskFamily::DilatedWindow:
      if (auto p = outOfRange("w", 1, w); !p.empty()) return p;
      return outOfRange("r", 1, r);
    case MaskFamily::Strided: return outOfRange("s", 1, s);
    case MaskFamily::BlockLocal: return outOfRange("b", 1, b);
    case MaskFamily::SummaryColumns:
      if (auto p = outOfRange("s", 1, s); !p.empty()) return p;
      if (c < 1 || c > s)
        return "field \"c\" must be an integer between 1 and s = " + std::to_string(s) + ", got " + std::to_string(c);
      return "";
    case MaskFamily::Sinks: return outOfRange("k", 1, k);
    case MaskFamily::Offsets: {
      if (offsets.empty()) return "field \"O\" must be a non-empty list of integers ≥ 0, got []";
      for (size_t t = 0; t < offsets.size(); ++t)
        if (offsets[t] < 0 || offsets[t] > kMaxLength)
          return "field \"O\" item " + std::to_string(t) + " must be an integer between 0 and 2^30 = " +
                 std::to_string(kMaxLength) + ", got " + std::to_string(offsets[t]);
      std::vector<int64_t> sorted = offsets;  // sorted, so a long list is checked in n log n
      std::sort(sorted.begin(), sorted.end());
      if (auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end())
        return "field \"O\" lists the offset " + std::to_string(*twice) + " twice";
      return "";
    }
    case MaskFamily::Random:
      if (auto p = outOfRange("b", 1, b); !p.empty()) return p;
      return outOfRange("r", 1, r);
    case MaskFamily::Painted:
      if (auto p = outOfRange("b", 1, b); !p.empty()) return p;
      if (gridSize < 1 || grid.size() != static_cast<size_t>(gridSize * gridSize))
        return "field \"grid\" must be a non-empty square list of rows of 0 and 1 (size " + std::to_string(gridSize) +
               ", " + std::to_string(grid.size()) + " cells)";
      for (size_t t = 0; t < grid.size(); ++t)
        if (grid[t] > 1)
          return "field \"grid\" row " + std::to_string(t / static_cast<size_t>(gridSize)) + ", column " +
                 std::to_string(t % static_cast<size_t>(gridSize)) + " must be 0 or 1, got " + std::to_string(grid[t]);
      return "";
  }
  return "unknown family";
}

void MaskSpec::validate() const {
  if (auto p = problem(); !p.empty()) throw MaskError("mask \"" + name + "\": " + p);
}

bool MaskSpec::operator==(const MaskSpec& o) const {
  if (name != o.name || family != o.family) return false;
  switch (family) {
    case MaskFamily::Causal: return true;
    case MaskFamily::Window: return w == o.w;
    case MaskFamily::DilatedWindow: return w == o.w && r == o.r;
    case MaskFamily::Strided: return s == o.s;
    case MaskFamily::BlockLocal: return b == o.b;
    case MaskFamily::SummaryColumns: return s == o.s && c == o.c;
    case MaskFamily::Sinks: return k == o.k;
    case MaskFamily::Offsets: return offsets == o.offsets;
    case MaskFamily::Random: return b == o.b && r == o.r && seed == o.seed;
    case MaskFamily::Painted: return b == o.b && gridSize == o.gridSize && grid == o.grid;
  }
  return false;
}

}  // namespace attnx
