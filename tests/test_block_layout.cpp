// BlockLayout against brute force: for every (i, j) the members the layout gives equal the bits
// of MaskSpec::allows over the set, FULL tiles really are uniform over their causal pairs, every
// attended pair lies in a listed tile and no listed tile is empty. Several n (multiples of the
// block size and not), block sizes, first rows (decoding) and every family.
#include <QtTest>

#include <random>

#include "core/masks/block_layout.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

std::vector<MaskSpec> everyFamily() {
  std::vector<uint8_t> grid = {1, 0, 0, 0,  1, 1, 0, 0,  0, 1, 1, 0,  1, 0, 1, 1};
  return {MaskSpec::causal("causal"),
          MaskSpec::window("win5", 5),
          MaskSpec::dilatedWindow("dil3x2", 3, 2),
          MaskSpec::strided("stride7", 7),
          MaskSpec::blockLocal("block6", 6),
          MaskSpec::summaryColumns("sum8", 8, 2),
          MaskSpec::sinks("sink3", 3),
          MaskSpec::offsetSet("off", {1, 4, 9}),
          MaskSpec::random("rand", 8, 2, 42),
          MaskSpec::painted("paint", 4, grid)};
}

// Independent reference: the bits straight from allows(), pair by pair.
MaskMembers bruteMembers(const std::vector<MaskSpec>& set, int64_t i, int64_t j, int64_t n) {
  MaskMembers bits = 0;
  for (size_t m = 0; m < set.size(); ++m)
    if (set[m].allows(i, j, n)) bits |= MaskMembers{1} << m;
  return bits;
}

void checkAgainstBruteForce(const std::vector<MaskSpec>& set, int64_t n, int64_t blockSize, int64_t rowBegin) {
  const auto L = compileBlockLayout(set, n, blockSize, rowBegin);
  const QString where = QString("n=%1 block=%2 rowBegin=%3 masks=%4").arg(n).arg(blockSize).arg(rowBegin).arg(set.size());
  QVERIFY2(L.numQueryBlocks() == (n - rowBegin + blockSize - 1) / blockSize, qPrintable(where));
  int64_t attended = 0;
  for (int64_t i = rowBegin; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const MaskMembers expected = j <= i ? bruteMembers(set, i, j, n) : 0;
      if (expected) ++attended;
      if (L.membersAt(i, j) != expected)
        QFAIL(qPrintable(where + QString(": members at (%1, %2) = %3, expected %4")
                                     .arg(i).arg(j).arg(L.membersAt(i, j)).arg(expected)));
    }
  }
  QCOMPARE(L.attendedPairs, attended);
  for (int64_t qb = 0; qb < L.numQueryBlocks(); ++qb) {
    const int64_t r0 = L.firstRow(qb);
    int64_t previous = -1;
    for (int64_t t = L.tileStart[qb]; t < L.tileStart[qb + 1]; ++t) {
      const auto& tile = L.tiles[t];
      QVERIFY2(tile.keyBlock > previous, qPrintable(where + ": key blocks not strictly ascending"));
      previous = tile.keyBlock;
      int64_t pairs = 0, firstColumn = blockSize, lastColumn = -1;
      bool uniform = true;
      MaskMembers first = 0;
      for (int64_t i = r0; i < r0 + L.rowsIn(qb); ++i) {
        for (int64_t j = tile.keyBlock * blockSize; j < std::min(n, (tile.keyBlock + 1) * blockSize) && j <= i; ++j) {
          const auto b = bruteMembers(set, i, j, n);
          if (b) {
            ++pairs;
            firstColumn = std::min(firstColumn, j - tile.keyBlock * blockSize);
            lastColumn = std::max(lastColumn, j - tile.keyBlock * blockSize);
          }
          if (!first) first = b;
          if (b == 0 || b != first) uniform = false;
        }
      }
      QVERIFY2(pairs > 0, qPrintable(where + ": an empty tile is listed"));
      QVERIFY2(tile.full == uniform, qPrintable(where + QString(": tile (%1, %2) full=%3 but uniform=%4")
                                                           .arg(qb).arg(tile.keyBlock).arg(tile.full).arg(uniform)));
      if (tile.full) {
        QCOMPARE(tile.members, first);
      } else {  // the columns the kernel computes are exactly those holding attended pairs
        QCOMPARE(int64_t{L.patternColumns[tile.pattern].first}, firstColumn);
        QCOMPARE(int64_t{L.patternColumns[tile.pattern].second}, lastColumn + 1);
      }
    }
  }
}

}  // namespace

class TestBlockLayout : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void eachFamilyAlone() {
    for (const auto& spec : everyFamily())
      for (int64_t n : {1, 5, 16, 37, 64})
        for (int64_t blockSize : {1, 4, 16})
          checkAgainstBruteForce({spec}, n, blockSize, 0);
  }

  void unionsOfFamilies() {
    const auto all = everyFamily();
    std::mt19937 rng(7);
    for (int trial = 0; trial < 30; ++trial) {
      std::vector<MaskSpec> set;
      for (const auto& s : all)
        if (rng() % 3 == 0) set.push_back(s);
      if (set.empty()) set.push_back(all[rng() % all.size()]);
      for (int64_t n : {23, 48, 70})
        for (int64_t blockSize : {8, 16})
          checkAgainstBruteForce(set, n, blockSize, 0);
    }
    checkAgainstBruteForce(all, 100, 64, 0);  // n not a multiple of the default block size
    checkAgainstBruteForce(all, 128, 64, 0);
  }

  void decodingRows() {
    // KV-cache decoding compiles only the last rows (rowBegin > 0, not block-aligned).
    const auto all = everyFamily();
    for (int64_t rowBegin : {0, 1, 13, 40, 69})
      checkAgainstBruteForce(all, 70, 16, rowBegin);
    checkAgainstBruteForce({MaskSpec::window("w", 9), MaskSpec::sinks("s", 2)}, 200, 64, 199);
  }

  void windowWithSinksIsMostlyFullAndDeduplicated() {
    // window 256 + 4 sinks at n = 4096, blocks of 64: per query block (from the 6th on) the sink block
    // (partial), the window's trailing boundary block (partial), 3 full blocks in between, and the
    // diagonal block (partial: every mask allows the diagonal, so there the sinks mask joins in).
    const auto L = compileBlockLayout({MaskSpec::window("w256", 256), MaskSpec::sinks("s4", 4)}, 4096, 64);
    QCOMPARE(L.numQueryBlocks(), int64_t{64});
    QVERIFY(L.numTiles() <= 64 * 6);
    QCOMPARE(L.fullTiles(), int64_t{59 * 3 + (0 + 0 + 1 + 2 + 3)});  // blocks 0-4: fewer in reach
    // Boundary tiles repeat with the block: only a handful of distinct patterns for 64 blocks.
    QVERIFY2(L.patterns.size() <= 8, qPrintable(QString::number(L.patterns.size())));
    // Union pairs in closed form: window rows hold min(i+1, 256) keys, plus sinks outside the window.
    int64_t expected = 0;
    for (int64_t i = 0; i < 4096; ++i) expected += std::min<int64_t>(i + 1, 256) + std::max<int64_t>(0, std::min<int64_t>(4, i - 255));
    QCOMPARE(L.attendedPairs, expected);
  }

  void planLayoutsShareEqualHeads() {
    const auto bank = test::makeBank({MaskSpec::window("w4", 4), MaskSpec::sinks("s1", 1), MaskSpec::strided("st3", 3)});
    // L = 1, H = 3, K = 3: heads 0 and 2 have the same active set; head 1 only mask 2.
    const std::vector<double> alpha = {0.5, 0.2, 0.0,  0.0, 0.0, 0.9,  0.1, 0.3, 0.0};
    const auto plan = AttentionPlan::fromAlpha(alpha, 1, 3, bank, PruningRule::thresholdRule(0));
    const auto layouts = compilePlanLayouts(plan, bank, PlanCombine::BranchMixture, 30, 8);
    QCOMPARE(layouts.unionLayouts[0].get(), layouts.unionLayouts[2].get());
    QVERIFY(layouts.unionLayouts[0].get() != layouts.unionLayouts[1].get());
    QCOMPARE(layouts.unionLayouts[1]->numMasks, int64_t{1});
    QCOMPARE(layouts.branchLayouts[0].size(), size_t{2});
    QCOMPARE(layouts.branchLayouts[1].size(), size_t{1});
    QCOMPARE(layouts.branchLayouts[0][0].get(), layouts.branchLayouts[2][0].get());
    for (int64_t i = 0; i < 30; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        QCOMPARE(layouts.branchLayouts[1][0]->membersAt(i, j), MaskMembers(bank.masks[2].allows(i, j, 30) ? 1 : 0));
        QCOMPARE(layouts.unionLayouts[0]->membersAt(i, j),
                 MaskMembers((bank.masks[0].allows(i, j, 30) ? 1 : 0) | (bank.masks[1].allows(i, j, 30) ? 2 : 0)));
      }

    PlanLayoutCache cache(plan, bank, PlanCombine::SoftMask, 8);
    const auto a = cache.get(30), b = cache.get(30), c = cache.get(31);
    QCOMPARE(a.get(), b.get());
    QVERIFY(a.get() != c.get());
    QCOMPARE(c->n, int64_t{31});
  }

  void errors() {
    QCOMPARE(QString::fromStdString(test::errorOf([] { compileBlockLayout({}, 10); })),
             QString("block layout: no masks to compile"));
    QCOMPARE(QString::fromStdString(test::errorOf([] { compileBlockLayout({MaskSpec::causal("c")}, 10, 0); })),
             QString("block layout: block size must be >= 1, got 0"));
    QCOMPARE(QString::fromStdString(test::errorOf([] { compileBlockLayout({MaskSpec::causal("c")}, 10, 4, 10); })),
             QString("block layout: rows from 10 at length 10 (need 0 <= first row < n)"));
    QVERIFY(!test::errorOf([] { compileBlockLayout({MaskSpec::window("bad", 0)}, 10); }).empty());
  }
};

QTEST_APPLESS_MAIN(TestBlockLayout)
#include "test_block_layout.moc"
