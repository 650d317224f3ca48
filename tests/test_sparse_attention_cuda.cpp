// The CUDA forward kernel's parts. Everywhere: the flattened layouts and the per-row functions the
// kernel runs (core/cuda/sparse_flat.h), executed on the CPU, against the reference CPU kernel on
// random inputs (soft mask and support mode, block sizes 16 and 64, whole sequences, a prompt chunk
// and a decoded row, an empty head, heads sharing one layout). On a machine with a CUDA build and a
// GPU: the kernel itself against the CPU kernel, the compiled student (one layer, and a whole tiny
// GPT-2) on the GPU against the same student on the CPU, and the caching allocator's peak against a
// known allocation (skipped, and said so, everywhere else).
#include <QtTest>

#include <random>
#include <set>

#include <torch/torch.h>

#include "core/bench/model_bench.h"
#include "core/bench/tracking_allocator.h"
#include "core/cuda/sparse_attention_cuda.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/model/gpt2.h"
#include "core/masks/block_layout.h"
#include "core/masks/sparse_attention.h"
#include "tests/support/sparse_cases.h"

using namespace attnx;
using attnx::test::maxError;

namespace {

constexpr double kTolerance = 1e-4;

struct Heads {
  std::shared_ptr<SparseHeads> soft, support;
  torch::Tensor alpha;  // (H, K)
};

// Random plan over the mixed bank; head 0's layout is reused by the last head, so the flattening
// meets a layout shared by two heads (its patterns stored once).
Heads randomHeads(std::mt19937& rng, int64_t H, int64_t n, int64_t Tq, int64_t blockSize) {
  const auto bank = test::mixedBank();
  const int64_t K = static_cast<int64_t>(bank.masks.size());
  auto alpha = test::randomAlpha(rng, 1, H, K, true);
  for (int64_t m = 0; m < K; ++m) alpha[(H - 1) * K + m] = alpha[m];
  const auto plan = AttentionPlan::fromAlpha(alpha, 1, H, bank, PruningRule::thresholdRule(0));
  const auto layouts = compilePlanLayouts(plan, bank, PlanCombine::BranchMixture, n, blockSize, n - Tq);
  Heads heads{std::make_shared<SparseHeads>(), std::make_shared<SparseHeads>(),
              torch::tensor(plan.alphaTensorValues()).view({H, K}).to(torch::kFloat32)};
  for (int64_t h = 0; h < H; ++h) {
    heads.soft->layouts.push_back(layouts.unionLayouts[h == H - 1 ? 0 : h]);
    heads.soft->columns.emplace_back();
    for (const auto& e : plan.active(0, h)) heads.soft->columns.back().push_back(e.maskIndex);
    const auto& branches = layouts.branchLayouts[h];
    heads.support->layouts.push_back(branches.empty() ? nullptr : branches[0]);
  }
  return heads;
}

struct Shape {
  int64_t n, Tq, blockSize, d;
};
const std::vector<Shape> kShapes = {{200, 200, 16, 32}, {200, 70, 16, 64}, {130, 1, 16, 64},
                                    {200, 200, 64, 64}, {300, 45, 64, 32}, {150, 150, 64, 128}};


// Runs `kernel` on random cases of every shape, soft mask and support mode, against the reference CPU
// kernel. kernel(q, k, v, heads, alpha) returns the output on the CPU.
template <typename Kernel>
void checkAgainstReference(const std::vector<Shape>& shapes, uint32_t seed, Kernel kernel) {
  std::mt19937 rng(seed);
  torch::manual_seed(seed);
  const int64_t B = 2, H = 4;
  for (const auto& s : shapes) {
    const auto heads = randomHeads(rng, H, s.n, s.Tq, s.blockSize);
    const auto q = torch::randn({B, H, s.Tq, s.d}), k = torch::randn({B, H, s.n, s.d}), v = torch::randn({B, H, s.n, s.d});
    for (bool soft : {true, false}) {
      const auto layouts = soft ? heads.soft : heads.support;
      const auto alpha = soft ? heads.alpha : torch::Tensor();
      const auto expected = blockSparseAttention(q, k, v, layouts, alpha, SparseKernel::Reference);
      const double error = maxError(kernel(q, k, v, *layouts, alpha), expected);
      QVERIFY2(error < kTolerance, qPrintable(QString("%1 n=%2 Tq=%3 block=%4 d=%5: error %6")
                                                  .arg(soft ? "soft" : "support").arg(s.n).arg(s.Tq)
                                                  .arg(s.blockSize).arg(s.d).arg(error)));
    }
  }
}

// Skips the calling test unless this build has the kernel and the machine a GPU.
#define ATTNX_REQUIRE_GPU()                                                                  \
  do {                                                                                       \
    if (!cudaSparseAttentionBuilt()) QSKIP("this build has no CUDA kernel: nothing ran on a GPU"); \
    if (!torch::cuda::is_available()) QSKIP("no CUDA device on this machine: nothing ran on a GPU"); \
  } while (0)

// A random plan over the mixed bank for L x H heads (threshold 0.05 prunes some masks).
CompiledPlanAttention randomStudent(uint32_t seed, int64_t L, int64_t H, PlanCombine combine) {
  std::mt19937 rng(seed);
  const auto bank = test::mixedBank();
  const auto alpha = test::randomAlpha(rng, L, H, static_cast<int64_t>(bank.masks.size()), true);
  return CompiledPlanAttention(AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(0.05)), bank,
                               combine, false, 16);
}

}  // namespace

class TestSparseAttentionCuda : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void rowFunctionsOnTheCpuMatchTheReferenceKernel() {
    checkAgainstReference(kShapes, 5, [](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                         const SparseHeads& heads, const torch::Tensor& alpha) {
      return flatSparseAttentionCpu(q, k, v, heads, alpha);
    });
  }

  void flatteningStoresASharedLayoutOnce() {
    std::mt19937 rng(9);
    const int64_t H = 4, n = 200, blockSize = 16;
    const auto heads = randomHeads(rng, H, n, n, blockSize);
    const auto q = torch::zeros({1, H, n, 32}), kv = torch::zeros({1, H, n, 32});
    const auto flat = flattenSparseHeads(q, kv, kv, *heads.soft, heads.alpha);
    // Patterns: those of each distinct layout, counted here from the layouts themselves.
    std::set<const BlockLayout*> distinct;
    size_t patterns = 0, tiles = 0;
    for (const auto& layout : heads.soft->layouts) {
      if (!layout) continue;
      tiles += layout->tiles.size();
      if (distinct.insert(layout.get()).second) patterns += layout->patterns.size();
    }
    QCOMPARE(flat.patterns.size(), patterns * blockSize * blockSize);
    QCOMPARE(flat.tileKeyBlock.size(), tiles);
    QCOMPARE(flat.tileOffsets.size(), size_t(H * ((n + blockSize - 1) / blockSize + 1)));
    QCOMPARE(flat.headHasLayout[1], 0);  // randomAlpha empties head 1
  }

  void rejectsAnUnsupportedHeadDimension() {
    std::mt19937 rng(3);
    const auto heads = randomHeads(rng, 2, 40, 40, 16);
    const auto x = torch::randn({1, 2, 40, 24});
    try {
      flatSparseAttentionCpu(x, x, x, *heads.soft, heads.alpha);
      QFAIL("head dimension 24 was accepted");
    } catch (const std::exception& e) {
      QVERIFY2(QString(e.what()).contains("head dimension 24"), e.what());
    }
  }

  void cudaKernelMatchesTheCpuKernel() {
    if (!cudaSparseAttentionBuilt()) {
      // Without the kernel the entry point says so instead of failing obscurely.
      const auto x = torch::zeros({1, 1, 4, 32});
      SparseHeads none;
      none.layouts.push_back(nullptr);
      QVERIFY_THROWS_EXCEPTION(std::runtime_error, blockSparseAttentionCuda(x, x, x, none));
      QSKIP("this build has no CUDA kernel (no CUDA compiler or CUDA LibTorch): nothing ran on a GPU");
    }
    if (!torch::cuda::is_available()) QSKIP("no CUDA device on this machine: nothing ran on a GPU");
    auto shapes = kShapes;
    shapes.push_back({1000, 1000, 64, 64});
    shapes.push_back({1000, 1, 64, 64});
    checkAgainstReference(shapes, 21, [](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                         const SparseHeads& heads, const torch::Tensor& alpha) {
      return blockSparseAttentionCuda(q.cuda(), k.cuda(), v.cuda(), heads, alpha).cpu();
    });
  }

  // --device cuda runs the compiled student through the CUDA kernel: the same numbers as on the CPU,
  // for both combines, whole sequences and the last rows of a longer one (decoding).
  void compiledStudentOnTheGpuMatchesTheCpu() {
    ATTNX_REQUIRE_GPU();
    torch::NoGradGuard noGrad;
    torch::manual_seed(4);
    const int64_t H = 4, n = 300, d = 64;
    for (auto combine : {PlanCombine::SoftMask, PlanCombine::BranchMixture}) {
      const auto student = randomStudent(11, 1, H, combine);
      const auto q = torch::randn({2, H, n, d}), k = torch::randn({2, H, n, d}), v = torch::randn({2, H, n, d});
      for (int64_t Tq : {n, int64_t{1}, int64_t{37}}) {
        const auto qs = q.narrow(2, n - Tq, Tq);
        const auto cpu = student.forward(qs, k, v, 0, n - Tq);
        const auto gpu = student.forward(qs.cuda(), k.cuda(), v.cuda(), 0, n - Tq).cpu();
        const double error = maxError(gpu, cpu);
        QVERIFY2(error < kTolerance, qPrintable(QString("combine %1 Tq %2: error %3")
                                                    .arg(int(combine)).arg(Tq).arg(error)));
      }
    }
  }

  void tinyGpt2WithTheCompiledStudentMatchesOnTheGpu() {
    ATTNX_REQUIRE_GPU();
    torch::NoGradGuard noGrad;
    auto config = Gpt2Config::preset("tiny");
    config.embedDim = 128;  // head dimension 32: the CUDA kernel takes 32, 64 or 128 (tiny's own is 16)
    Gpt2 model(config);
    model->initWeights(3);
    const auto& c = model->config();
    const auto student = randomStudent(12, c.numLayers, c.numHeads, PlanCombine::BranchMixture);
    const auto ids = torch::randint(c.vocabSize, {2, 200}, torch::kLong);
    const auto cpu = model->forward(ids, nullptr, &student);
    model->to(torch::kCUDA);
    const auto gpu = model->forward(ids.cuda(), nullptr, &student).cpu();
    const double error = maxError(gpu, cpu);
    QVERIFY2(error < 1e-3, qPrintable(QString("logits differ by %1").arg(error)));
  }

  // The caching allocator's peak (what bench reports on a GPU) against an allocation of known size:
  // 3 MiB is a multiple of the allocator's 512-byte rounding, so the count is exact.
  void gpuPeakMemoryCountsAKnownAllocation() {
    ATTNX_REQUIRE_GPU();
    const int64_t floats = 3 * 1024 * 1024 / 4;
    const auto t = timeCall([&] { torch::empty({floats}, torch::TensorOptions().device(torch::kCUDA)); }, 0, 2,
                            torch::Device(torch::kCUDA, 0));
    QCOMPARE(t.peakBytes, int64_t{3 * 1024 * 1024});
    QVERIFY(cudaTensorMemory(0).peakBytes >= int64_t{3 * 1024 * 1024});
  }
};

QTEST_GUILESS_MAIN(TestSparseAttentionCuda)
#include "test_sparse_attention_cuda.moc"
