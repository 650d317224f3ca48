// The attention kernels' small products (core/masks/tile_gemm.h) against torch::matmul in float64:
// every row and column remainder of the 6 x 16 micro-kernel, A read directly and transposed, alpha
// and beta, beta = 0 over a C full of NaN; and the transposed key panels, packed and as stored.
#include <QtTest>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "core/masks/cpu_tile_ops.h"
#include "core/masks/tile_gemm.h"
#include "tests/support/sparse_cases.h"

using namespace attnx;

namespace {

constexpr double kTolerance = 2e-5;

}  // namespace

class TestTileGemm : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void init() { torch::manual_seed(11); }

  void matchesMatmul_data() {
    QTest::addColumn<int>("M");
    QTest::addColumn<int>("N");
    QTest::addColumn<int>("K");
    QTest::addColumn<bool>("transposedA");
    QTest::addColumn<double>("beta");
    // Row counts around the micro-tile's 6, column counts around its 16, K down to 1.
    for (const int M : {1, 5, 6, 7, 64})
      for (const int N : {1, 8, 16, 17, 64})
        for (const bool transposedA : {false, true}) {
          const int K = M == 7 ? 1 : 64;
          const double beta = N == 17 ? 0.5 : 0.0;
          QTest::newRow(qPrintable(QString("%1x%2x%3%4 beta %5").arg(M).arg(N).arg(K).arg(transposedA ? " A^T" : "").arg(beta)))
              << M << N << K << transposedA << beta;
        }
    QTest::newRow("64x64x37, strided C") << 64 << 64 << 37 << false << 1.0;
  }

  void matchesMatmul() {
    QFETCH(int, M);
    QFETCH(int, N);
    QFETCH(int, K);
    QFETCH(bool, transposedA);
    QFETCH(double, beta);
    const float alpha = 0.375f;
    // A as stored: M x K, or K x M for A^T; inside wider rows so that the leading dimensions matter.
    const auto storedA = transposedA ? torch::randn({K, M + 3}) : torch::randn({M, K + 5});
    const auto A = transposedA ? storedA.narrow(1, 0, M).t() : storedA.narrow(1, 0, K);
    const auto storedB = torch::randn({K, N + 2});
    const auto B = storedB.narrow(1, 0, N);
    const int64_t ldc = N + 7;
    auto storedC = torch::randn({M, ldc});
    if (beta == 0.0) storedC.fill_(std::numeric_limits<float>::quiet_NaN());  // must not be read
    const auto C0 = storedC.narrow(1, 0, N).clone();
    const auto tail = storedC.narrow(1, N, ldc - N).clone();
    const auto expected =
        beta == 0.0 ? alpha * torch::matmul(A.to(torch::kFloat64), B.to(torch::kFloat64))
                    : alpha * torch::matmul(A.to(torch::kFloat64), B.to(torch::kFloat64)) + beta * C0.to(torch::kFloat64);
    const int64_t lda = storedA.size(1);
    tile::smallGemm(M, N, K, alpha, storedA.data_ptr<float>(), transposedA ? 1 : lda, transposedA ? lda : 1,
                    storedB.data_ptr<float>(), storedB.size(1), static_cast<float>(beta), storedC.data_ptr<float>(), ldc);
    const double err = test::maxError(storedC.narrow(1, 0, N), expected);
    QVERIFY2(err <= kTolerance * std::max(1, K / 8), qPrintable(QString("max abs error %1").arg(err)));
    // Columns past N in each row of C are left as they were.
    QVERIFY(torch::equal(storedC.narrow(1, N, ldc - N).isnan(), tail.isnan()));
    QVERIFY(torch::equal(storedC.narrow(1, N, ldc - N).nan_to_num(0), tail.nan_to_num(0)));
  }

  // S = alpha A X[key0, key0 + C)^T of one head, from the packed panels (16 or more queries) and from
  // X as stored (fewer), for key spans at the start, inside and at the end of a block, and a last
  // block shorter than the others.
  // Packed in 8 x 8 register blocks with scalar edges: d and the last block's rows a multiple of 8 or not.
  void transposedRowsMatchMatmul_data() {
    QTest::addColumn<int>("queries");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("d");
    QTest::newRow("packed, 150 x 40") << 64 << 150 << 40;
    QTest::newRow("packed, 150 x 20") << 64 << 150 << 20;
    QTest::newRow("packed, 152 x 64") << 16 << 152 << 64;
    QTest::newRow("as stored (decoding), 150 x 40") << 1 << 150 << 40;
  }

  void transposedRowsMatchMatmul() {
    QFETCH(int, queries);
    QFETCH(int, rows);
    QFETCH(int, d);
    const int64_t heads = 3, block = 64;
    const auto x = torch::randn({heads, rows, d});
    const tile::TransposedRows keys(x.data_ptr<float>(), heads, rows, d, block, queries);
    QCOMPARE(keys.packed(), queries >= tile::TransposedRows::kPackMinQueries && tile::cpuHasAvx2Fma());
    const int64_t R = 9;
    const auto A = torch::randn({R, d});
    struct Span {
      int64_t h, key0, C;
    };
    for (const Span span : {Span{0, 0, 64}, Span{1, 70, 33}, Span{2, 128, 22}, Span{2, 149, 1}}) {
      auto S = torch::empty({R, span.C});
      keys.product(span.h, span.key0, R, span.C, 0.5f, A.data_ptr<float>(), d, 0.f, S.data_ptr<float>(), span.C);
      const auto expected =
          0.5 * torch::matmul(A.to(torch::kFloat64), x[span.h].narrow(0, span.key0, span.C).to(torch::kFloat64).t());
      const double err = test::maxError(S, expected);
      QVERIFY2(err <= kTolerance, qPrintable(QString("head %1 keys %2+%3: max abs error %4")
                                                 .arg(span.h).arg(span.key0).arg(span.C).arg(err)));
    }
  }
};

QTEST_APPLESS_MAIN(TestTileGemm)
#include "test_tile_gemm.moc"
