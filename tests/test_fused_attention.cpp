// The fused causal attention (core/masks/fused_attention.h, the bench's "fused-dense" baseline)
// against softmax(q k^T / sqrt(d) + causal mask) v computed here in float64, at lengths that are
// and are not multiples of the tiles, with fewer queries than keys (a KV cache's last rows), odd
// tile sizes, one and two threads; then against the reference block-sparse kernel on a plan that is
// all causal (the same attention through independent code).
#include <QtTest>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "core/eval/attention_plan.h"
#include "core/masks/block_layout.h"
#include "core/masks/fused_attention.h"
#include "core/masks/sparse_attention.h"
#include "tests/support/sparse_cases.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

constexpr double kTolerance = 1e-5;

// Row i of q is position Tk - Tq + i and sees keys 0 .. Tk - Tq + i. In float64, written out.
torch::Tensor straightforwardAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const auto q64 = q.to(torch::kFloat64), k64 = k.to(torch::kFloat64), v64 = v.to(torch::kFloat64);
  const int64_t Tq = q.size(2), Tk = k.size(2);
  const auto idx = torch::TensorOptions().dtype(torch::kLong);
  const auto future = torch::arange(Tk, idx).unsqueeze(0) > (torch::arange(Tq, idx) + (Tk - Tq)).unsqueeze(1);
  const auto scores = torch::matmul(q64, k64.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(3)));
  const auto P = torch::softmax(scores.masked_fill(future, -std::numeric_limits<double>::infinity()), -1);
  return torch::matmul(P, v64);
}

}  // namespace

class TestFusedAttention : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void init() { torch::manual_seed(7); }

  void matchesStraightforwardAttention_data() {
    QTest::addColumn<int>("Tq");
    QTest::addColumn<int>("Tk");
    QTest::addColumn<int>("d");
    QTest::addColumn<int>("queryTile");
    QTest::addColumn<int>("keyTile");
    QTest::newRow("n=1") << 1 << 1 << 64 << 64 << 64;
    QTest::newRow("n=7") << 7 << 7 << 64 << 64 << 64;
    QTest::newRow("n=64, one tile") << 64 << 64 << 64 << 64 << 64;
    QTest::newRow("n=65") << 65 << 65 << 64 << 64 << 64;
    QTest::newRow("n=200") << 200 << 200 << 64 << 64 << 64;
    QTest::newRow("n=517, d=32") << 517 << 517 << 32 << 64 << 64;
    QTest::newRow("n=1000, d=128") << 1000 << 1000 << 128 << 64 << 64;
    QTest::newRow("n=300, tiles 48 x 80") << 300 << 300 << 64 << 48 << 80;
    QTest::newRow("n=300, tiles 128 x 32") << 300 << 300 << 64 << 128 << 32;
    QTest::newRow("Tq=37 of Tk=300 (cache)") << 37 << 300 << 64 << 64 << 64;
    QTest::newRow("Tq=1 of Tk=129 (decode)") << 1 << 129 << 64 << 64 << 64;
    QTest::newRow("Tq=100 of Tk=100, tiles 16") << 100 << 100 << 16 << 16 << 16;
  }

  void matchesStraightforwardAttention() {
    QFETCH(int, Tq);
    QFETCH(int, Tk);
    QFETCH(int, d);
    QFETCH(int, queryTile);
    QFETCH(int, keyTile);
    torch::NoGradGuard noGrad;
    const auto q = torch::randn({2, 3, Tq, d}), k = torch::randn({2, 3, Tk, d}), v = torch::randn({2, 3, Tk, d});
    const auto expected = straightforwardAttention(q, k, v);
    const auto out = fusedCausalAttention(q, k, v, queryTile, keyTile);
    QCOMPARE(out.sizes(), q.sizes());
    const double err = test::maxError(out, expected);
    QVERIFY2(err <= kTolerance, qPrintable(QString("max abs error %1").arg(err)));
  }

  // Large scores (standard deviation 16): the running max jumps from tile to tile by more than
  // exp's range, so the rescaling of the accumulator matters. Scores this large carry float32's own
  // rounding (~1e-5 here): the bound is LibTorch's float32 dense attention's error on the same inputs.
  void largeScoresStayExact() {
    torch::NoGradGuard noGrad;
    const int64_t n = 333, d = 64;
    const auto q = torch::randn({1, 2, n, d}) * 4, k = torch::randn({1, 2, n, d}) * 4;
    const auto v = torch::randn({1, 2, n, d});
    const auto expected = straightforwardAttention(q, k, v);
    const auto future = torch::ones({n, n}, torch::kBool).triu(1);
    const auto dense32 = torch::matmul(
        torch::softmax(torch::matmul(q, k.transpose(-2, -1)).div(8).masked_fill(future, -INFINITY), -1), v);
    const double err = test::maxError(fusedCausalAttention(q, k, v), expected);
    const double bound = std::max(kTolerance, 2 * test::maxError(dense32, expected));
    QVERIFY2(err <= bound, qPrintable(QString("max abs error %1, bound %2").arg(err).arg(bound)));
  }

  // Each tile is computed alone whichever thread takes it: the same bits on one thread or two.
  void threadCountDoesNotChangeTheResult() {
    torch::NoGradGuard noGrad;
    const auto q = torch::randn({1, 4, 450, 64}), k = torch::randn({1, 4, 450, 64}), v = torch::randn({1, 4, 450, 64});
    const int before = torch::get_num_threads();
    torch::set_num_threads(1);
    const auto one = fusedCausalAttention(q, k, v);
    torch::set_num_threads(2);
    const auto two = fusedCausalAttention(q, k, v);
    torch::set_num_threads(before);
    QVERIFY(torch::equal(one, two));
  }

  // The block-sparse reference kernel (plain tile loops, no shared code) on a plan that attends every
  // causal pair computes the same. (The fast block-sparse kernel runs such heads through this one.)
  void agreesWithTheReferenceSparseKernelOnACausalPlan() {
    torch::NoGradGuard noGrad;
    const int64_t H = 3, n = 250, d = 64;
    const auto bank = test::makeBank({MaskSpec::causal("causal")});
    const auto plan = AttentionPlan::fromAlpha(std::vector<double>(H, 1.0), 1, H, bank, PruningRule::thresholdRule(0));
    const auto layouts = compilePlanLayouts(plan, bank, PlanCombine::SoftMask, n);
    auto heads = std::make_shared<SparseHeads>();
    for (int64_t h = 0; h < H; ++h) heads->layouts.push_back(layouts.unionLayouts[h]), heads->columns.push_back({0});
    const auto q = torch::randn({2, H, n, d}), k = torch::randn({2, H, n, d}), v = torch::randn({2, H, n, d});
    const auto reference = blockSparseAttention(q, k, v, heads, torch::ones({H, 1}), SparseKernel::Reference);
    const double err = test::maxError(fusedCausalAttention(q, k, v), reference);
    QVERIFY2(err <= kTolerance, qPrintable(QString("max abs difference %1").arg(err)));
  }

  void refusesWhatItCannotCompute() {
    const auto q = torch::randn({1, 1, 8, 16}), k = torch::randn({1, 1, 8, 16});
    QVERIFY(!test::errorOf([&] { fusedCausalAttention(q, k, torch::randn({1, 1, 7, 16})); }).empty());
    QVERIFY(!test::errorOf([&] { fusedCausalAttention(torch::randn({1, 1, 9, 16}), k, k); }).empty());
    QVERIFY(!test::errorOf([&] { fusedCausalAttention(q.to(torch::kFloat64), k, k); }).empty());
    const auto message = test::errorOf([&] { fusedCausalAttention(q.clone().requires_grad_(), k, k); });
    QVERIFY2(message.find("forward only") != std::string::npos, message.c_str());
  }
};

QTEST_APPLESS_MAIN(TestFusedAttention)
#include "test_fused_attention.moc"
