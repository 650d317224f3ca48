// One candidate attention mask: a family from method.md's table, its parameters, and the
// 0/1 pattern it gives at any sequence length n. Torch-free, so banks load and draw anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnx {

// A bank or mask that is unusable as given. The message names the mask and the field.
struct MaskError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How far back a query can attend when that does not grow with the sequence: query i attends key j
// only if j < sinks or i - j < window (window counts the query itself). A bounded KV cache keeps
// those keys only (generation.h).
struct KeyReach {
  int64_t sinks = 0;   // leading positions every query may attend
  int64_t window = 1;  // the query and the window - 1 positions before it
  // The reach of two masks together: the larger of each.
  KeyReach with(const KeyReach& o) const { return {sinks > o.sinks ? sinks : o.sinks, window > o.window ? window : o.window}; }
  bool operator==(const KeyReach& o) const { return sinks == o.sinks && window == o.window; }
};

enum class MaskFamily { Causal, Window, DilatedWindow, Strided, BlockLocal, SummaryColumns, Sinks, Offsets, Random, Painted };

// "window", "dilated-window", ... as written in bank files.
const char* familyName(MaskFamily family);
// Throws MaskError("unknown family \"x\" (known: causal, window, ...)").
MaskFamily familyFromName(const std::string& name);
// All families, in the order of method.md's table.
const std::vector<MaskFamily>& allFamilies();

// Every mask allows (i, j) only when j <= i (causal), and always allows the diagonal j == i,
// so no row is ever empty. Inside that, the family decides (i: query, j: key, n: length):
//   causal            j <= i
//   window          w: i - j < w
//   dilated-window w, r: (i - j) mod r == 0 and i - j < w*r
//   strided         s: (i - j) mod s == 0
//   block-local     b: floor(i/b) == floor(j/b)
//   summary-columns s, c: j mod s >= s - c
//   sinks           k: j < k
//   offsets         O: i - j in O
//   random    b, r, seed: in each query block, r key blocks (of those <= the query block) chosen by
//                         randomKeyBlocks(); the same blocks at every n
//   painted   b, grid: cells of b tokens, cell (floor(i/b), floor(j/b)) of a G x G 0/1 grid; below
//                      the canvas (query cell r >= G) paintedCell() continues it: the last row's
//                      first cell stays (sinks), its other cells repeat along their block diagonals
// Only the parameters of the spec's family are meaningful: the others are ignored by every
// method, by operator== and by the bank's JSON writer.
struct MaskSpec {
  std::string name;
  MaskFamily family = MaskFamily::Causal;
  int64_t w = 0;                // window, dilated-window: width (in steps of r for dilated)
  int64_t r = 0;                // dilated-window: dilation; random: key blocks per query block
  int64_t s = 0;                // strided: stride; summary-columns: period
  int64_t b = 0;                // block-local, random: block size; painted: cell size in tokens
  int64_t c = 0;                // summary-columns: summary columns at the end of each period
  int64_t k = 0;                // sinks: number of leading keys
  std::vector<int64_t> offsets; // offsets (JSON "O"): distinct, in any order
  uint64_t seed = 0;            // random
  int64_t gridSize = 0;         // painted: G
  std::vector<uint8_t> grid;    // painted: G x G, row-major, 0/1 (rows: query blocks)

  // Convenience constructors for code and tests (each result is valid for valid arguments).
  static MaskSpec causal(std::string name);
  static MaskSpec window(std::string name, int64_t w);
  static MaskSpec dilatedWindow(std::string name, int64_t w, int64_t r);
  static MaskSpec strided(std::string name, int64_t s);
  static MaskSpec blockLocal(std::string name, int64_t b);
  static MaskSpec summaryColumns(std::string name, int64_t s, int64_t c);
  static MaskSpec sinks(std::string name, int64_t k);
  static MaskSpec offsetSet(std::string name, std::vector<int64_t> offsets);
  static MaskSpec random(std::string name, int64_t b, int64_t r, uint64_t seed);
  static MaskSpec painted(std::string name, int64_t gridSize, std::vector<uint8_t> grid, int64_t cellTokens = 64);

  // The evaluation methods below expect a valid spec (problem() empty) and 0 <= i, j < n.

  // Whether query i may attend to key j at length n. O(1); random: O(r^2).
  bool allows(int64_t i, int64_t j, int64_t n) const;
  // The allowed keys of query i, ascending, written into `keys` (cleared first). Enumerated
  // directly: the cost is the number of keys (plus G for painted, r^2 for random), never i.
  void keysOfRow(int64_t i, int64_t n, std::vector<int64_t>& keys) const;
  // Number of allowed keys of query i, without enumerating them.
  int64_t rowCount(int64_t i, int64_t n) const;
  // Number of allowed (i, j) pairs at length n: closed form where simple, else a sum of rowCount.
  int64_t allowedPairs(int64_t n) const;
  // allowedPairs / causal pairs n(n+1)/2, in (0, 1].
  double density(int64_t n) const;
  // n x n row-major 0/1 matrix. Memory grows as n^2: for display and tests only.
  std::vector<uint8_t> dense(int64_t n) const;

  // random: the key blocks chosen for query block `queryBlock`, ascending; all of 0..queryBlock
  // when r > queryBlock. Deterministic and platform-independent: a partial shuffle (Floyd's
  // sampling) driven by splitmix64 seeded from (seed, queryBlock); see mask_spec.cpp.
  std::vector<int64_t> randomKeyBlocks(int64_t queryBlock) const;

  // painted: whether query cell `row` attends key cell `col` (0 <= col <= row), at any row. Inside
  // the canvas (row < G) the grid's cell; below it, cell (G-1, 0) for col 0 (sinks stay) and cell
  // (G-1, G-1-(row-col)) for 1 <= row-col <= G-2 and the diagonal (the last row's pattern slides
  // down its block diagonals); nothing else. Depends on row and col only, never on n.
  bool paintedCell(int64_t row, int64_t col) const;

  // The reach of this mask at every length, or nullopt when some query reaches keys that are neither
  // sinks nor within a fixed distance (causal, strided, summary-columns, random).
  // window w: {0, w}; dilated-window: {0, (w-1)r + 1}; block-local b: {0, b}; sinks k: {k, 1};
  // offsets O: {0, max(O) + 1}; painted: {b, G*b} (the canvas, then sinks and diagonals).
  std::optional<KeyReach> keyReach() const;

  // "w=64", "s=8, c=1", "O={0,1}", "grid 8x8", "" for causal: for listings.
  std::string parameterText() const;

  // The first problem with the parameters, as "field \"w\" must be an integer ≥ 1, got 0";
  // empty when the spec is valid. Does not look at the name.
  std::string problem() const;
  // Throws MaskError("mask \"<name>\": <problem>") when problem() is not empty.
  void validate() const;

  bool operator==(const MaskSpec& other) const;
  bool operator!=(const MaskSpec& other) const { return !(*this == other); }
};

}  // namespace attnx
