// Tests for the candidate-mask bank: every family against a brute-force predicate written here
// from method.md's formulas (never calling the library), hand-written matrices, the random and
// painted families' contracts, the combined mask, JSON round trips, the default banks, and
// every rejection of a bad bank file with its exact message.
#include "core/masks/mask_bank.h"
#include "core/masks/mask_spec.h"
#include "tests/support/test_support.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <set>

using namespace attnx;

namespace {

// ---- independent truth ----

// The random family's documented generator (mask_spec.h): Floyd's sampling of r blocks among
// 0..q driven by splitmix64, the stream of query block q starting at splitmix64(seed) ^ q.
uint64_t splitmix(uint64_t& x) {
  x += 0x9E3779B97F4A7C15ULL;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::set<int64_t> truthRandomBlocks(uint64_t seed, int64_t q, int64_t r) {
  std::set<int64_t> s;
  const int64_t m = q + 1;
  if (r >= m) {
    for (int64_t t = 0; t < m; ++t) s.insert(t);
    return s;
  }
  uint64_t x = seed;
  x = splitmix(x) ^ static_cast<uint64_t>(q);
  for (int64_t t = m - r; t < m; ++t) {
    const auto v = static_cast<int64_t>(splitmix(x) % static_cast<uint64_t>(t + 1));
    s.insert(s.count(v) ? t : v);
  }
  return s;
}

// m(i, j) straight from the table in method.md, plus "causal, diagonal always allowed".
bool truth(const MaskSpec& m, int64_t i, int64_t j, int64_t n) {
  if (j > i) return false;
  if (j == i) return true;
  switch (m.family) {
    case MaskFamily::Causal: return true;
    case MaskFamily::Window: return i - j < m.w;
    case MaskFamily::DilatedWindow: return (i - j) % m.r == 0 && i - j < m.w * m.r;
    case MaskFamily::Strided: return (i - j) % m.s == 0;
    case MaskFamily::BlockLocal: return i / m.b == j / m.b;
    case MaskFamily::SummaryColumns: return j % m.s >= m.s - m.c;
    case MaskFamily::Sinks: return j < m.k;
    case MaskFamily::Offsets:
      for (int64_t o : m.offsets)
        if (i - j == o) return true;
      return false;
    case MaskFamily::Random: return truthRandomBlocks(m.seed, i / m.b, m.r).count(j / m.b) > 0;
    case MaskFamily::Painted: {
      // method.md: cells of b tokens; below the G x G canvas the last row continues, its first
      // cell as sinks and its other cells along their block diagonals. n plays no part.
      const int64_t G = m.gridSize, row = i / m.b, col = j / m.b;
      const auto cell = [&](int64_t r, int64_t c) { return m.grid[static_cast<size_t>(r * G + c)] == 1; };
      if (row < G) return cell(row, col);
      if (col == 0) return cell(G - 1, 0);
      return row - col <= G - 2 && cell(G - 1, G - 1 - (row - col));
    }
  }
  return false;
}

// A 0/1 matrix written as rows of '1'/'.', for hand-checked cases and readable failures.
std::string picture(const std::vector<uint8_t>& cells, int64_t n) {
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) s += cells[static_cast<size_t>(i * n + j)] ? '1' : '.';
    s += '\n';
  }
  return s;
}

std::string lines(std::initializer_list<const char*> rows) {
  std::string s;
  for (const char* r : rows) s += std::string(r) + "\n";
  return s;
}

std::vector<uint8_t> gridOf(std::initializer_list<const char*> rows) {
  std::vector<uint8_t> g;
  for (const char* r : rows)
    for (const char* c = r; *c; ++c) g.push_back(*c == '1' ? 1 : 0);
  return g;
}

QString errorOf(const std::function<void()>& f) { return QString::fromStdString(attnx::test::errorOf(f)); }

std::string banksDir() { return std::string(ATTNX_FIXTURES_DIR) + "/../../resources/banks"; }

// One mask of every family, for round trips.
MaskBank everyFamilyBank() {
  MaskBank bank;
  bank.name = "every family";
  bank.description = "one of each, with a non-ASCII name: «ü»";
  bank.masks = {MaskSpec::causal("full"),
                MaskSpec::window("win-3", 3),
                MaskSpec::dilatedWindow("dil-2x3", 2, 3),
                MaskSpec::strided("stride-4", 4),
                MaskSpec::blockLocal("block-5", 5),
                MaskSpec::summaryColumns("summary-4-1", 4, 1),
                MaskSpec::sinks("sinks-2", 2),
                MaskSpec::offsetSet("offsets-«ü»", {3, 0, 1}),
                MaskSpec::random("random-4x2", 4, 2, 18446744073709551615ULL),
                MaskSpec::painted("painted-3", 3, gridOf({"100", "110", "101"}))};
  return bank;
}

}  // namespace

Q_DECLARE_METATYPE(attnx::MaskSpec)

class TestMaskBank : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void familyNames();

  void familiesMatchFormula_data();
  void familiesMatchFormula();
  void handCheckedMatrices();
  void paintedIsLengthFree();
  void randomContract();
  void randomPinnedValues();
  void randomIsSpreadOverCandidates();
  void rowsAreEnumeratedDirectly();

  void specValidation_data();
  void specValidation();
  void longOffsetListsAreChecked();

  void combinedMask();
  void combinedMaskRejectsBadCoefficients();

  void roundTrip();
  void saveIsAtomicAndValidated();
  void defaultBanksLoad_data();
  void defaultBanksLoad();
  void everyShippedBankLoads();
  void localSinksContents();

  void badFixtures_data();
  void badFixtures();
  void badTexts_data();
  void badTexts();
};

void TestMaskBank::familyNames() {
  QCOMPARE(allFamilies().size(), size_t(10));
  const char* expected[] = {"causal", "window",  "dilated-window", "strided", "block-local",
                            "summary-columns", "sinks", "offsets", "random", "painted"};
  for (size_t t = 0; t < allFamilies().size(); ++t) {
    QCOMPARE(familyName(allFamilies()[t]), expected[t]);
    QVERIFY(familyFromName(expected[t]) == allFamilies()[t]);
  }
  QCOMPARE(errorOf([] { familyFromName("Window"); }),
           QStringLiteral("unknown family \"Window\" (known: causal, window, dilated-window, strided, block-local, "
                          "summary-columns, sinks, offsets, random, painted)"));
}

// ---- every family against the formula ----

void TestMaskBank::familiesMatchFormula_data() {
  QTest::addColumn<MaskSpec>("spec");
  auto row = [](const MaskSpec& m) { QTest::newRow(m.name.c_str()) << m; };
  row(MaskSpec::causal("causal"));
  for (int64_t w : {1, 2, 5, 64, 200}) row(MaskSpec::window("window w=" + std::to_string(w), w));
  row(MaskSpec::dilatedWindow("dilated w=3 r=2", 3, 2));
  row(MaskSpec::dilatedWindow("dilated w=1 r=4", 1, 4));
  row(MaskSpec::dilatedWindow("dilated w=5 r=3", 5, 3));
  row(MaskSpec::dilatedWindow("dilated w=40 r=7", 40, 7));
  for (int64_t s : {1, 3, 8, 150}) row(MaskSpec::strided("strided s=" + std::to_string(s), s));
  for (int64_t b : {1, 4, 7, 128}) row(MaskSpec::blockLocal("block-local b=" + std::to_string(b), b));
  row(MaskSpec::summaryColumns("summary s=4 c=1", 4, 1));
  row(MaskSpec::summaryColumns("summary s=8 c=3", 8, 3));
  row(MaskSpec::summaryColumns("summary s=5 c=5", 5, 5));
  row(MaskSpec::summaryColumns("summary s=1 c=1", 1, 1));
  row(MaskSpec::summaryColumns("summary s=33 c=2", 33, 2));
  for (int64_t k : {1, 4, 200}) row(MaskSpec::sinks("sinks k=" + std::to_string(k), k));
  row(MaskSpec::offsetSet("offsets {0}", {0}));
  row(MaskSpec::offsetSet("offsets {1}", {1}));
  row(MaskSpec::offsetSet("offsets {0,1}", {0, 1}));
  row(MaskSpec::offsetSet("offsets {3,1,7}", {3, 1, 7}));
  row(MaskSpec::offsetSet("offsets {2,50,1000}", {2, 50, 1000}));
  row(MaskSpec::random("random b=4 r=1 seed=0", 4, 1, 0));
  row(MaskSpec::random("random b=4 r=2 seed=42", 4, 2, 42));
  row(MaskSpec::random("random b=16 r=3 seed=7", 16, 3, 7));
  row(MaskSpec::random("random b=1 r=2 seed=5", 1, 2, 5));
  row(MaskSpec::random("random b=3 r=100 seed=1", 3, 100, 1));
  // Small cells, so that n = 100 runs far past the canvas.
  row(MaskSpec::painted("painted 1x1 on", 1, {1}, 3));
  row(MaskSpec::painted("painted 1x1 off", 1, {0}, 3));
  row(MaskSpec::painted("painted 3x3", 3, gridOf({"100", "010", "111"}), 2));
  row(MaskSpec::painted("painted 3x3 b=1", 3, gridOf({"100", "110", "101"}), 1));
  row(MaskSpec::painted("painted 4x4 checker", 4, gridOf({"1010", "0101", "1010", "0101"}), 5));
  row(MaskSpec::painted("painted 8x8", 8,
                        gridOf({"10000000", "11000000", "10100000", "10110000", "10011000", "00001100",
                                "10000111", "11111111"}), 4));
  row(MaskSpec::painted("painted 8x8 full b=64", 8, std::vector<uint8_t>(64, 1), 64));
}

void TestMaskBank::familiesMatchFormula() {
  QFETCH(MaskSpec, spec);
  QCOMPARE(QString::fromStdString(spec.problem()), QString());
  std::vector<int64_t> keys;
  for (int64_t n : {1, 2, 7, 64, 100}) {
    int64_t pairs = 0;
    const auto dense = spec.dense(n);
    QCOMPARE(dense.size(), size_t(n * n));
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int64_t> expectedKeys;
      for (int64_t j = 0; j < n; ++j) {
        const bool want = truth(spec, i, j, n);
        if (spec.allows(i, j, n) != want)
          QFAIL(qPrintable(QString("allows(%1, %2, n=%3) is %4").arg(i).arg(j).arg(n).arg(!want)));
        QCOMPARE(dense[size_t(i * n + j)], uint8_t(want));
        if (want) expectedKeys.push_back(j);
      }
      QVERIFY(!expectedKeys.empty() && expectedKeys.back() == i);  // no empty row, diagonal in
      spec.keysOfRow(i, n, keys);
      if (keys != expectedKeys) QFAIL(qPrintable(QString("keysOfRow(%1, n=%2) differs").arg(i).arg(n)));
      QCOMPARE(spec.rowCount(i, n), int64_t(expectedKeys.size()));
      pairs += int64_t(expectedKeys.size());
    }
    QCOMPARE(spec.allowedPairs(n), pairs);
    QCOMPARE(spec.density(n), double(pairs) / (double(n) * (n + 1) / 2));
  }
}

// ---- matrices checked by hand ----

void TestMaskBank::handCheckedMatrices() {
  QCOMPARE(picture(MaskSpec::window("w", 2).dense(6), 6), lines({"1.....",
                                                                 "11....",
                                                                 ".11...",
                                                                 "..11..",
                                                                 "...11.",
                                                                 "....11"}));
  QCOMPARE(picture(MaskSpec::causal("c").dense(4), 4), lines({"1...", "11..", "111.", "1111"}));
  QCOMPARE(picture(MaskSpec::strided("s", 3).dense(7), 7), lines({"1......",
                                                                  ".1.....",
                                                                  "..1....",
                                                                  "1..1...",
                                                                  ".1..1..",
                                                                  "..1..1.",
                                                                  "1..1..1"}));
  QCOMPARE(picture(MaskSpec::dilatedWindow("d", 2, 2).dense(6), 6), lines({"1.....",
                                                                           ".1....",
                                                                           "1.1...",
                                                                           ".1.1..",
                                                                           "..1.1.",
                                                                           "...1.1"}));
  QCOMPARE(picture(MaskSpec::blockLocal("b", 3).dense(7), 7), lines({"1......",
                                                                    "11.....",
                                                                    "111....",
                                                                    "...1...",
                                                                    "...11..",
                                                                    "...111.",
                                                                    "......1"}));
  // Columns 3 and 7 are summaries (j mod 4 >= 3).
  QCOMPARE(picture(MaskSpec::summaryColumns("f", 4, 1).dense(8), 8), lines({"1.......",
                                                                            ".1......",
                                                                            "..1.....",
                                                                            "...1....",
                                                                            "...11...",
                                                                            "...1.1..",
                                                                            "...1..1.",
                                                                            "...1...1"}));
  QCOMPARE(picture(MaskSpec::sinks("k", 2).dense(5), 5), lines({"1....",
                                                               "11...",
                                                               "111..",
                                                               "11.1.",
                                                               "11..1"}));
  QCOMPARE(picture(MaskSpec::offsetSet("o", {0, 2}).dense(5), 5), lines({"1....",
                                                                        ".1...",
                                                                        "1.1..",
                                                                        ".1.1.",
                                                                        "..1.1"}));
  // Densities by hand: window w=2 at n=6 has 1 + 5*2 = 11 of 21 causal pairs.
  QCOMPARE(MaskSpec::window("w", 2).allowedPairs(6), int64_t(11));
  QCOMPARE(MaskSpec::window("w", 2).density(6), 11.0 / 21.0);
  QCOMPARE(MaskSpec::causal("c").density(1000), 1.0);
}

void TestMaskBank::paintedIsLengthFree() {
  // Cells of 2 tokens: two diagonal cells on the canvas; below it (query cell 2 on) the last row's
  // first cell (0: no sinks) and its diagonal cell (1) continue, so each query sees its own cell.
  const auto diag = MaskSpec::painted("p", 2, gridOf({"10", "01"}), 2);
  QCOMPARE(picture(diag.dense(6), 6), lines({"1.....", "11....", "..1...", "..11..", "....1.", "....11"}));
  // Sinks and a diagonal: the last row 1 0 1 continues as key 0 (its first cell) and the query's
  // own cell; its middle cell (one cell back) is 0.
  const auto sinks = MaskSpec::painted("p", 3, gridOf({"100", "110", "101"}), 1);
  QCOMPARE(picture(sinks.dense(6), 6), lines({"1.....", "11....", "1.1...", "1..1..", "1...1.", "1....1"}));
  // A query's keys never depend on how many tokens follow it: every prefix of a longer matrix is
  // the matrix of the shorter length.
  for (const auto& m : {diag, sinks, MaskSpec::painted("p", 4, gridOf({"1000", "0100", "1110", "1011"}), 3)}) {
    const int64_t big = 40;
    const auto whole = m.dense(big);
    for (int64_t n : {1, 5, 13, 29}) {
      const auto part = m.dense(n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          QCOMPARE(part[size_t(i * n + j)], whole[size_t(i * big + j)]);
    }
    // Its reach is bounded: b sink keys, and G * b back (the canvas, then the diagonals).
    const auto reach = m.keyReach();
    QVERIFY(reach.has_value());
    QCOMPARE(reach->sinks, m.b);
    QCOMPARE(reach->window, m.gridSize * m.b);
    for (int64_t i = 0; i < big; ++i)
      for (int64_t j = 0; j <= i; ++j)
        if (whole[size_t(i * big + j)]) QVERIFY(j < reach->sinks || i - j < reach->window);
  }
  // A painted lower triangle is the causal mask over its canvas (G * b tokens); an empty grid
  // leaves the diagonal at every n.
  const auto lower = MaskSpec::painted("p", 3, gridOf({"100", "110", "111"}), 4);
  const auto none = MaskSpec::painted("p", 3, gridOf({"000", "000", "000"}), 4);
  for (int64_t n : {1, 2, 3, 10, 12}) QCOMPARE(lower.allowedPairs(n), n * (n + 1) / 2);
  for (int64_t n : {1, 12, 99}) QCOMPARE(none.allowedPairs(n), n);
}

// ---- the random family ----

void TestMaskBank::randomContract() {
  for (int64_t r : {1, 2, 3, 5}) {
    const auto m = MaskSpec::random("r", 8, r, 1234);
    const auto copy = m;
    for (int64_t q = 0; q < 40; ++q) {
      const auto blocks = m.randomKeyBlocks(q);
      QCOMPARE(blocks, copy.randomKeyBlocks(q));        // deterministic, also across copies
      QCOMPARE(blocks, m.randomKeyBlocks(q));
      QCOMPARE(int64_t(blocks.size()), std::min(r, q + 1));  // r blocks, or all when fewer exist
      QVERIFY(std::is_sorted(blocks.begin(), blocks.end()));
      QVERIFY(std::adjacent_find(blocks.begin(), blocks.end()) == blocks.end());
      QVERIFY(blocks.front() >= 0 && blocks.back() <= q);  // causal blocks only
    }
    // The same keys for a query at every n, and the diagonal always in.
    std::vector<int64_t> a, b;
    for (int64_t i = 0; i < 300; ++i) {
      m.keysOfRow(i, 300, a);
      m.keysOfRow(i, 100000, b);
      QCOMPARE(a, b);
      QVERIFY(m.allows(i, i, 300));
    }
  }
  // Different seeds choose differently somewhere.
  const auto s1 = MaskSpec::random("a", 4, 2, 1), s2 = MaskSpec::random("b", 4, 2, 2);
  bool differs = false;
  for (int64_t q = 0; q < 20; ++q) differs |= s1.randomKeyBlocks(q) != s2.randomKeyBlocks(q);
  QVERIFY(differs);
}

void TestMaskBank::randomPinnedValues() {
  // Pinned so that a change of generator (which would change every saved experiment) fails here.
  // Values produced by this implementation and by the independent truthRandomBlocks() above.
  const auto m = MaskSpec::random("r", 64, 2, 42);
  std::vector<std::vector<int64_t>> got;
  for (int64_t q = 0; q < 8; ++q) {
    got.push_back(m.randomKeyBlocks(q));
    const auto expected = truthRandomBlocks(42, q, 2);
    QCOMPARE(got.back(), std::vector<int64_t>(expected.begin(), expected.end()));
  }
  const std::vector<std::vector<int64_t>> pinned = {{0}, {0, 1}, {0, 1}, {2, 3}, {1, 3}, {0, 3}, {1, 5}, {5, 6}};
  QCOMPARE(got, pinned);
}

void TestMaskBank::randomIsSpreadOverCandidates() {
  // r = 1 among 10 candidate blocks over 10000 seeds: each block about 1000 times. The bound
  // (±200, over 6 standard deviations) only catches a broken choice, e.g. always the last block.
  std::vector<int> hits(10, 0);
  for (uint64_t seed = 0; seed < 10000; ++seed) ++hits[size_t(MaskSpec::random("r", 1, 1, seed).randomKeyBlocks(9)[0])];
  for (int h : hits) QVERIFY2(h > 800 && h < 1200, qPrintable(QString::number(h)));
}

void TestMaskBank::rowsAreEnumeratedDirectly() {
  // Rows far into a huge sequence: the cost is the number of keys, so these return at once.
  const int64_t n = int64_t(1) << 40, i = n - 1;
  std::vector<int64_t> keys;
  MaskSpec::window("w", 4).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{i - 3, i - 2, i - 1, i}));
  MaskSpec::sinks("k", 2).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{0, 1, i}));
  MaskSpec::dilatedWindow("d", 3, 1000).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{i - 2000, i - 1000, i}));
  MaskSpec::offsetSet("o", {1, 5}).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{i - 5, i - 1, i}));
  MaskSpec::blockLocal("b", 4).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{i - 3, i - 2, i - 1, i}));
  MaskSpec::strided("s", n / 2).keysOfRow(i, n, keys);
  QCOMPARE(keys, (std::vector<int64_t>{i - n / 2, i}));
  // Closed forms: window w at n > w is w(w+1)/2 + (n-w)w; sinks k: k(k+1)/2 + (n-k)(k+1).
  QCOMPARE(MaskSpec::window("w", 4).allowedPairs(n), 10 + (n - 4) * 4);
  QCOMPARE(MaskSpec::sinks("k", 2).allowedPairs(n), 3 + (n - 2) * 3);
}

// ---- validation of specs built in code ----

void TestMaskBank::specValidation_data() {
  QTest::addColumn<MaskSpec>("spec");
  QTest::addColumn<QString>("message");
  auto row = [](const char* tag, const MaskSpec& m, const char* msg) { QTest::newRow(tag) << m << QString::fromUtf8(msg); };
  row("window w=0", MaskSpec::window("w0", 0), "mask \"w0\": field \"w\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("dilated r=0", MaskSpec::dilatedWindow("d", 2, 0), "mask \"d\": field \"r\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("dilated w=-1", MaskSpec::dilatedWindow("d", -1, 2), "mask \"d\": field \"w\" must be an integer between 1 and 2^30 = 1073741824, got -1");
  row("strided", MaskSpec::strided("s", 0), "mask \"s\": field \"s\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("block-local", MaskSpec::blockLocal("b", -5), "mask \"b\": field \"b\" must be an integer between 1 and 2^30 = 1073741824, got -5");
  row("summary s=0", MaskSpec::summaryColumns("f", 0, 1), "mask \"f\": field \"s\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("summary c>s", MaskSpec::summaryColumns("f", 8, 9),
      "mask \"f\": field \"c\" must be an integer between 1 and s = 8, got 9");
  row("summary c=0", MaskSpec::summaryColumns("f", 8, 0),
      "mask \"f\": field \"c\" must be an integer between 1 and s = 8, got 0");
  row("sinks", MaskSpec::sinks("k", 0), "mask \"k\": field \"k\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("offsets empty", MaskSpec::offsetSet("o", {}), "mask \"o\": field \"O\" must be a non-empty list of integers ≥ 0, got []");
  row("offsets negative", MaskSpec::offsetSet("o", {0, -1}), "mask \"o\": field \"O\" item 1 must be an integer between 0 and 2^30 = 1073741824, got -1");
  row("offsets twice", MaskSpec::offsetSet("o", {1, 2, 1}), "mask \"o\": field \"O\" lists the offset 1 twice");
  // Beyond 2^30 a reach such as (w - 1) * r + 1 could overflow int64; such banks are refused.
  row("dilated w*r past int64", MaskSpec::dilatedWindow("d", int64_t{1} << 40, int64_t{1} << 30),
      "mask \"d\": field \"w\" must be an integer between 1 and 2^30 = 1073741824, got 1099511627776");
  row("offset 2^63-1", MaskSpec::offsetSet("o", {0, INT64_MAX}),
      "mask \"o\": field \"O\" item 1 must be an integer between 0 and 2^30 = 1073741824, got 9223372036854775807");
  row("largest window", MaskSpec::window("w", int64_t{1} << 30), "");
  row("random b", MaskSpec::random("r", 0, 1, 0), "mask \"r\": field \"b\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("random r", MaskSpec::random("r", 4, 0, 0), "mask \"r\": field \"r\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("painted size", MaskSpec::painted("p", 2, {1, 0, 1}),
      "mask \"p\": field \"grid\" must be a non-empty square list of rows of 0 and 1 (size 2, 3 cells)");
  row("painted empty", MaskSpec::painted("p", 0, {}),
      "mask \"p\": field \"grid\" must be a non-empty square list of rows of 0 and 1 (size 0, 0 cells)");
  row("painted value", MaskSpec::painted("p", 2, {1, 0, 0, 7}), "mask \"p\": field \"grid\" row 1, column 1 must be 0 or 1, got 7");
}

void TestMaskBank::specValidation() {
  QFETCH(MaskSpec, spec);
  QFETCH(QString, message);
  QCOMPARE(errorOf([&] { spec.validate(); }), message);
}

// 200,000 offsets (the duplicate check compared each with all before it: quadratic) are
// accepted when distinct, and a repeat at the very end is found.
void TestMaskBank::longOffsetListsAreChecked() {
  std::vector<int64_t> offsets(200000);
  for (size_t t = 0; t < offsets.size(); ++t) offsets[t] = static_cast<int64_t>(offsets.size() - t);  // descending
  QCOMPARE(errorOf([&] { MaskSpec::offsetSet("o", offsets).validate(); }), QString());
  offsets.back() = 123456;
  QCOMPARE(errorOf([&] { MaskSpec::offsetSet("o", offsets).validate(); }),
           QString("mask \"o\": field \"O\" lists the offset 123456 twice"));
}

// ---- the combined mask ----

void TestMaskBank::combinedMask() {
  const MaskBank bank = everyFamilyBank();
  const std::vector<std::vector<double>> cases = {
      {0, 0.5, 0, 0, 0, 0, 2, 0, 0, 0},       // window + sinks
      {0, 0, 0.25, 1, 0, 3, 0, 1, 0.5, 2},    // no causal
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},         // everything
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 1e-3},      // one mask
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};        // nothing: W = 0, even on the diagonal
  for (int64_t n : {1, 7, 40}) {
    for (const auto& alpha : cases) {
      const auto c = bank.combined(alpha, n);
      QCOMPARE(c.n, n);
      QCOMPARE(c.weights.size(), size_t(n * n));
      int64_t attended = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double want = 0;
          for (size_t k = 0; k < bank.masks.size(); ++k)
            if (truth(bank.masks[k], i, j, n)) want += alpha[k];
          QVERIFY(std::abs(c.weights[size_t(i * n + j)] - want) <= 1e-6 * std::max(1.0, want));
          attended += want > 0;
        }
      QCOMPARE(c.attendedPairs, attended);
      QCOMPARE(c.density, double(attended) / (double(n) * (n + 1) / 2));
      QCOMPARE(bank.attendedPairs(alpha, n), attended);  // the same count without the matrix
    }
  }
  // The union at a length where no matrix is built: sinks + window by inclusion-exclusion.
  MaskBank two;
  two.masks = {MaskSpec::sinks("k", 4), MaskSpec::window("w", 16)};
  const int64_t n = 5000;  // rows >= 19 have 4 sinks + 16 window keys, disjoint
  int64_t expected = 0;
  for (int64_t i = 0; i < n; ++i) expected += std::min<int64_t>(i + 1, i < 20 ? i + 1 : 20);
  QCOMPARE(two.attendedPairs({1, 1}, n), expected);
}

void TestMaskBank::combinedMaskRejectsBadCoefficients() {
  const MaskBank bank = everyFamilyBank();
  QCOMPARE(errorOf([&] { bank.combined({1, 2}, 4); }),
           QStringLiteral("expected 10 coefficients (one per mask), got 2"));
  QCOMPARE(errorOf([&] { bank.attendedPairs({0, 0, 0, -0.5, 0, 0, 0, 0, 0, 0}, 4); }),
           QString::fromUtf8("coefficient 3 (mask \"stride-4\") must be a finite number ≥ 0, got -0.5"));
  QCOMPARE(errorOf([&] { bank.combined({0, 0, 0, 0, 0, 0, 0, 0, 0, std::nan("")}, 4); }),
           QString::fromUtf8("coefficient 9 (mask \"painted-3\") must be a finite number ≥ 0, got nan"));
}

// ---- files ----

void TestMaskBank::roundTrip() {
  const MaskBank bank = everyFamilyBank();
  bank.validate();
  const std::string text = bank.toJsonText();
  QCOMPARE(bank.toJsonText(), text);  // stable
  const MaskBank back = MaskBank::fromJsonText(text, "mem");
  QVERIFY(back == bank);
  QCOMPARE(back.toJsonText(), text);
  QVERIFY(MaskBank::fromJson(nlohmann::json(bank.toJson()), "mem") == bank);
  // The exact canonical layout, for one small bank.
  MaskBank small;
  small.name = "small";
  small.masks = {MaskSpec::window("win-2", 2), MaskSpec::offsetSet("prev", {0, 1}),
                 MaskSpec::painted("p", 2, gridOf({"10", "11"}))};
  QCOMPARE(small.toJsonText(), std::string(R"({
  "format": "attnx-mask-bank",
  "version": 2,
  "name": "small",
  "masks": [
    {"name": "win-2", "family": "window", "w": 2},
    {"name": "prev", "family": "offsets", "O": [0, 1]},
    {"name": "p", "family": "painted", "b": 64, "grid": [
      [1, 0],
      [1, 1]
    ]}
  ]
}
)"));
  // Whitespace and key order of the input do not matter.
  const auto loose = MaskBank::fromJsonText(
      R"({"masks":[{"w":2,"family":"window","name":"win-2"},{"O":[0,1],"name":"prev","family":"offsets"},
          {"grid":[[1,0],[1,1]],"family":"painted","name":"p"}],"name":"small","version":1,"format":"attnx-mask-bank"})",
      "loose");
  QVERIFY(loose == small);
  // That input is a version-1 file: its painted mask, which used to stretch over the sequence, gets
  // cells of 64 tokens, and the bank says so; a current file says nothing.
  QCOMPARE(loose.notes.size(), size_t{1});
  QVERIFY2(loose.notes[0].rfind("mask 2 (\"p\"): a version-1 painted grid was stretched", 0) == 0, loose.notes[0].c_str());
  QVERIFY(MaskBank::fromJsonText(small.toJsonText(), "current").notes.empty());
  // Version 2 asks for the cell size.
  QCOMPARE(errorOf([] {
             MaskBank::fromJsonText(R"({"format": "attnx-mask-bank", "version": 2, "masks": [
                 {"name": "p", "family": "painted", "grid": [[1]]}]})", "v2.json");
           }),
           QString::fromUtf8("v2.json: mask 0 (\"p\"): field \"b\" is missing (painted masks take \"b\" and \"grid\")"));
}

void TestMaskBank::saveIsAtomicAndValidated() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const std::string path = dir.filePath("bank.json").toStdString();
  const MaskBank bank = everyFamilyBank();
  bank.save(path);
  QVERIFY(MaskBank::load(path) == bank);
  QCOMPARE(test::readTextFile(path), bank.toJsonText());
  // Saving again gives the same bytes; only the bank file is in the folder (no temporary left).
  bank.save(path);
  QCOMPARE(test::readTextFile(path), bank.toJsonText());
  QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{"bank.json"});
  // An invalid bank is not written, and the old file stays.
  MaskBank bad = bank;
  bad.masks[1].w = 0;
  QCOMPARE(errorOf([&] { bad.save(path); }),
           QString::fromStdString(path + ": not saved: mask 1 (\"win-3\"): field \"w\" must be an integer between 1 and 2^30 = 1073741824, got 0"));
  QCOMPARE(test::readTextFile(path), bank.toJsonText());
  bad = bank;
  bad.masks[2].name = "full";
  QCOMPARE(errorOf([&] { bad.validate(); }),
           QStringLiteral("mask 2 (\"full\"): the name \"full\" is already used by mask 0"));
  bad.masks.clear();
  QCOMPARE(errorOf([&] { bad.validate(); }), QStringLiteral("the bank has no masks: a bank needs at least one mask"));
  QCOMPARE(errorOf([&] { MaskBank::load(dir.filePath("missing.json").toStdString()); }),
           QString::fromStdString(dir.filePath("missing.json").toStdString() + ": cannot open (No such file or directory)"));
}

void TestMaskBank::defaultBanksLoad_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("name");
  QTest::newRow("local-sinks") << "local-sinks.json" << "local-sinks";
  QTest::newRow("sparse-transformer") << "sparse-transformer.json" << "sparse-transformer";
  QTest::newRow("bigbird-like") << "bigbird-like.json" << "bigbird-like";
  QTest::newRow("all-families") << "all-families.json" << "all-families";
}

void TestMaskBank::defaultBanksLoad() {
  QFETCH(QString, file);
  QFETCH(QString, name);
  const std::string path = banksDir() + "/" + file.toStdString();
  const MaskBank bank = MaskBank::load(path);
  bank.validate();
  QCOMPARE(QString::fromStdString(bank.name), name);
  QVERIFY(!bank.description.empty());
  QCOMPARE(test::readTextFile(path), bank.toJsonText());  // shipped in canonical form
  // Every bank keeps the full causal mask, so that the teacher's attention stays reachable.
  QVERIFY(std::any_of(bank.masks.begin(), bank.masks.end(), [](const MaskSpec& m) { return m.family == MaskFamily::Causal; }));
  if (name == "all-families") {
    QCOMPARE(bank.masks.size(), allFamilies().size());
    for (size_t t = 0; t < bank.masks.size(); ++t) QVERIFY(bank.masks[t].family == allFamilies()[t]);
  }
}

void TestMaskBank::everyShippedBankLoads() {
  // Whatever is added to resources/banks later must load too, and be saved in canonical form.
  const QDir dir(QString::fromStdString(banksDir()));
  const auto files = dir.entryList({"*.json"}, QDir::Files, QDir::Name);
  QVERIFY(files.size() >= 4);
  for (const auto& file : files) {
    const std::string path = dir.filePath(file).toStdString();
    QCOMPARE(errorOf([&] { MaskBank::load(path).validate(); }), QString());  // no error
    QCOMPARE(test::readTextFile(path), MaskBank::load(path).toJsonText());
  }
}

void TestMaskBank::localSinksContents() {
  const MaskBank bank = MaskBank::load(banksDir() + "/local-sinks.json");
  MaskBank expected;
  expected.name = "local-sinks";
  expected.description = bank.description;
  expected.masks = {MaskSpec::window("win-16", 16), MaskSpec::window("win-64", 64), MaskSpec::window("win-256", 256),
                    MaskSpec::sinks("sinks-4", 4),    MaskSpec::offsetSet("prev-token", {0, 1}),
                    MaskSpec::causal("full")};
  QVERIFY(bank == expected);
}

// ---- rejected files, each with its exact message ----

void TestMaskBank::badFixtures_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("message");
  auto row = [](const char* file, const char* msg) { QTest::newRow(file) << QString(file) << QString::fromUtf8(msg); };
  row("not-json.json", "not valid JSON (line 4, column 9)");  // a missing comma: the error is seen at the end of "masks"
  row("not-an-object.json", "expected a JSON object (an attnx mask bank), got [{\"family\":\"window\",\"name\":\"win\",\"w\":4}]");
  row("wrong-format.json", "not an attnx mask bank: field \"format\" is \"attnx-run\", expected \"attnx-mask-bank\"");
  row("missing-format.json", "not an attnx mask bank: field \"format\" is missing (expected \"attnx-mask-bank\")");
  row("newer-version.json", "bank format version 3 is newer than this attnx reads (2): upgrade attnx to open it");
  row("bad-version.json", "field \"version\" must be an integer ≥ 1, got \"1\"");
  row("missing-masks.json", "field \"masks\" is missing (the list of masks)");
  row("empty-masks.json", "field \"masks\" is empty: a bank needs at least one mask");
  row("unknown-top-field.json",
      "unknown field \"mask\" (a bank has \"format\", \"version\", \"name\", \"description\" and \"masks\")");
  row("missing-name.json", "mask 1: field \"name\" is missing");
  row("empty-name.json", "mask 0: field \"name\" must be a non-empty string, got \"\"");
  row("duplicate-name.json", "mask 2 (\"win-64\"): the name \"win-64\" is already used by mask 0");
  row("unknown-family.json",
      "mask 1 (\"sliding\"): unknown family \"sliding-window\" (known: causal, window, dilated-window, strided, "
      "block-local, summary-columns, sinks, offsets, random, painted)");
  row("missing-family.json", "mask 0 (\"win\"): field \"family\" is missing");
  row("missing-param.json", "mask 0 (\"dil\"): field \"r\" is missing (dilated-window masks take \"w\" and \"r\")");
  row("extra-param.json", "mask 1 (\"full\"): unknown field \"w\" (causal masks take no parameters)");
  row("wrong-param.json", "mask 0 (\"rnd\"): unknown field \"p\" (random masks take \"b\", \"r\" and \"seed\")");
  row("wrong-type.json", "mask 0 (\"win-64\"): field \"w\" must be an integer ≥ 1, got \"64\"");
  row("float-param.json", "mask 0 (\"stride\"): field \"s\" must be an integer ≥ 1, got 2.5");
  row("out-of-range.json", "mask 3 (\"win-0\"): field \"w\" must be an integer between 1 and 2^30 = 1073741824, got 0");
  row("summary-too-many.json", "mask 0 (\"fixed\"): field \"c\" must be an integer between 1 and s = 4, got 5");
  row("negative-seed.json", "mask 0 (\"rnd\"): field \"seed\" must be an integer ≥ 0, got -3");
  row("offsets-empty.json", "mask 0 (\"prev\"): field \"O\" must be a non-empty list of integers ≥ 0, got []");
  row("offsets-negative.json", "mask 0 (\"prev\"): field \"O\" item 1 must be an integer between 0 and 2^30 = 1073741824, got -1");
  row("grid-not-square.json", "mask 0 (\"paint\"): field \"grid\" row 2 has 2 cells, expected 3 (the grid must be square)");
  row("grid-not-binary.json", "mask 0 (\"paint\"): field \"grid\" row 1, column 0 must be 0 or 1, got 2");
  row("grid-empty.json", "mask 0 (\"paint\"): field \"grid\" must be a non-empty square list of rows of 0 and 1, got []");
}

void TestMaskBank::badFixtures() {
  QFETCH(QString, file);
  QFETCH(QString, message);
  const std::string path = test::fixture("banks/" + file.toStdString());
  QVERIFY2(QFile::exists(QString::fromStdString(path)), path.c_str());
  QCOMPARE(errorOf([&] { MaskBank::load(path); }), QString::fromStdString(path) + ": " + message);
}

void TestMaskBank::badTexts_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QString>("message");
  auto row = [](const char* tag, const std::string& text, const char* msg) {
    QTest::newRow(tag) << QString::fromStdString(text) << QString::fromUtf8(msg);
  };
  auto bank = [](const char* masks) {
    return std::string(R"({"format": "attnx-mask-bank", "version": 1, "masks": )") + masks + "}";
  };
  row("empty text", "", "bank.json: not valid JSON (line 1, column 1)");
  row("truncated", "{\"format\": \"attnx-mask-bank\",\n  \"version\": 1,\n  \"masks\": [", "bank.json: not valid JSON (line 3, column 13)");
  row("version 0", R"({"format": "attnx-mask-bank", "version": 0, "masks": []})",
      "bank.json: field \"version\" must be an integer ≥ 1, got 0");
  row("no version", R"({"format": "attnx-mask-bank", "masks": []})", "bank.json: field \"version\" is missing");
  row("name not string", R"({"format": "attnx-mask-bank", "version": 1, "name": 3, "masks": []})",
      "bank.json: field \"name\" must be a string, got 3");
  row("masks not list", bank(R"({"name": "w"})"), "bank.json: field \"masks\" must be a list of masks, got {\"name\":\"w\"}");
  row("mask not object", bank(R"([{"name": "c", "family": "causal"}, 7])"), "bank.json: mask 1: expected a JSON object, got 7");
  row("family not string", bank(R"([{"name": "c", "family": 1}])"), "bank.json: mask 0 (\"c\"): field \"family\" must be a string, got 1");
  row("name not string in mask", bank(R"([{"name": ["a"], "family": "causal"}])"),
      "bank.json: mask 0: field \"name\" must be a non-empty string, got [\"a\"]");
  row("too large", bank(R"([{"name": "w", "family": "window", "w": 18446744073709551615}])"),
      "bank.json: mask 0 (\"w\"): field \"w\" must be an integer ≥ 1, got 18446744073709551615");
  row("negative size", bank(R"([{"name": "b", "family": "block-local", "b": -4}])"),
      "bank.json: mask 0 (\"b\"): field \"b\" must be an integer between 1 and 2^30 = 1073741824, got -4");
  row("offset not integer", bank(R"([{"name": "o", "family": "offsets", "O": [1, "2"]}])"),
      "bank.json: mask 0 (\"o\"): field \"O\" item 1 must be an integer ≥ 0, got \"2\"");
  row("offset twice", bank(R"([{"name": "o", "family": "offsets", "O": [1, 2, 2]}])"),
      "bank.json: mask 0 (\"o\"): field \"O\" lists the offset 2 twice");
  row("grid row not list", bank(R"([{"name": "p", "family": "painted", "grid": ["10", "01"]}])"),
      "bank.json: mask 0 (\"p\"): field \"grid\" row 0 must be a list of 0 and 1, got \"10\"");
  row("grid cell bool", bank(R"([{"name": "p", "family": "painted", "grid": [[true]]}])"),
      "bank.json: mask 0 (\"p\"): field \"grid\" row 0, column 0 must be 0 or 1, got true");
  row("sinks k missing", bank(R"([{"name": "s", "family": "sinks"}])"),
      "bank.json: mask 0 (\"s\"): field \"k\" is missing (sinks masks take \"k\")");
  row("long value cut", bank(R"([{"name": "s", "family": "sinks", "k": "a very long string that goes on and on and on"}])"),
      "bank.json: mask 0 (\"s\"): field \"k\" must be an integer ≥ 1, got \"a very long string that goes on and on …");
  row("cut between characters", bank(R"([{"name": "s", "family": "sinks", "k": "ééééééééééééééééééééééé"}])"),
      "bank.json: mask 0 (\"s\"): field \"k\" must be an integer ≥ 1, got \"ééééééééééééééééééé…");
}

void TestMaskBank::badTexts() {
  QFETCH(QString, text);
  QFETCH(QString, message);
  QCOMPARE(errorOf([&] { MaskBank::fromJsonText(text.toStdString(), "bank.json"); }), message);
}

QTEST_APPLESS_MAIN(TestMaskBank)
#include "test_mask_bank.moc"
