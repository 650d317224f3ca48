// The block-sparse kernel and the compiled student against the dense reference
// (MaskMixtureAttention with the plan's weights as alpha, 0 for pruned masks): forward outputs,
// gradients of q, k, v and alpha, and probabilities, on random inputs for both ways of combining,
// several lengths (multiples of the block size and not), block sizes, KV-cache offsets, and empty
// heads; then the tiny GPT-2: logits, perplexity and greedy KV-cache generation. The fast kernel
// (the default) and the reference kernel are also checked against each other on 64-wide tiles.
#include <QtTest>

#include <random>

#include <torch/torch.h>

#include "core/eval/compiled_plan_attention.h"
#include "core/eval/generation.h"
#include "core/eval/perplexity.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/masks/block_layout.h"
#include "core/masks/sparse_attention.h"
#include "core/model/mask_mixture_attention.h"
#include "tests/support/sparse_cases.h"
#include "tests/support/test_support.h"

using namespace attnx;
using attnx::test::mixedBank;
using attnx::test::randomAlpha;
using attnx::test::maxError;

namespace {

constexpr double kTolerance = 1e-4;

// The dense reference: ClampedRaw coefficients with theta = alpha (so d alpha = d theta where alpha > 0).
MaskMixtureAttention reference(const MaskBank& bank, const AttentionPlan& plan, MixtureOptions::Combine combine,
                               bool normalise) {
  MixtureOptions o;
  o.combine = combine;
  o.normaliseBranches = normalise;
  o.param = MixtureOptions::Parametrisation::ClampedRaw;
  o.initialCoefficient = 0;
  MaskMixtureCoefficients c(plan.numLayers, plan.numHeads, plan.numMasks(), o);
  {
    torch::NoGradGuard g;
    c->theta.copy_(torch::tensor(plan.alphaTensorValues(), torch::kFloat64).view(c->theta.sizes()));
  }
  return MaskMixtureAttention(bank, o, c, plan.numLayers, plan.numHeads);
}


struct Case {
  MixtureOptions::Combine combine;
  bool normalise;
  int64_t n, Tq, blockSize;
};

void checkCase(const Case& c, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  torch::manual_seed(seed);
  const auto bank = mixedBank();
  const int64_t L = 2, H = 3, K = static_cast<int64_t>(bank.masks.size()), B = 2, d = 16;
  const auto plan = AttentionPlan::fromAlpha(randomAlpha(rng, L, H, K, true), L, H, bank, PruningRule::thresholdRule(0));
  const bool branch = c.combine == MixtureOptions::Combine::BranchMixture;
  auto dense = reference(bank, plan, c.combine, c.normalise);
  CompiledPlanAttention compiled(plan, bank, branch ? PlanCombine::BranchMixture : PlanCombine::SoftMask, c.normalise,
                                 c.blockSize);
  const QString where = QString("%1%2 n=%3 Tq=%4 block=%5")
                            .arg(branch ? "branch" : "soft").arg(c.normalise ? " normalised" : "")
                            .arg(c.n).arg(c.Tq).arg(c.blockSize);
  for (int64_t layer = 0; layer < L; ++layer) {
    auto q = torch::randn({B, H, c.Tq, d}).requires_grad_(true);
    auto k = torch::randn({B, H, c.n, d}).requires_grad_(true);
    auto v = torch::randn({B, H, c.n, d}).requires_grad_(true);
    auto q2 = q.detach().clone().requires_grad_(true), k2 = k.detach().clone().requires_grad_(true),
         v2 = v.detach().clone().requires_grad_(true);
    auto alpha = compiled.alpha().detach().clone().requires_grad_(true);
    compiled.setAlpha(alpha);
    const int64_t offset = c.n - c.Tq;
    const auto outDense = dense.forward(q, k, v, layer, offset);
    const auto outSparse = compiled.forward(q2, k2, v2, layer, offset);
    QVERIFY2(maxError(outDense, outSparse) < kTolerance,
             qPrintable(where + QString(" layer %1 forward error %2").arg(layer).arg(maxError(outDense, outSparse))));
    const auto probe = torch::randn_like(outDense);
    (outDense * probe).sum().backward();
    (outSparse * probe).sum().backward();
    QVERIFY2(maxError(q.grad(), q2.grad()) < kTolerance, qPrintable(where + " dq"));
    QVERIFY2(maxError(k.grad(), k2.grad()) < kTolerance, qPrintable(where + " dk"));
    QVERIFY2(maxError(v.grad(), v2.grad()) < kTolerance, qPrintable(where + " dv"));
    // alpha: only the plan's active masks are parameters of the compiled student.
    const auto active = (torch::tensor(plan.alphaTensorValues()).view({L, H, K}) > 0).select(0, layer);
    const auto gDense = dense.coefficients()->theta.grad().select(0, layer).masked_select(active);
    const auto gSparse = alpha.grad().select(0, layer).masked_select(active);
    QVERIFY2(maxError(gDense, gSparse) < kTolerance,
             qPrintable(where + QString(" dalpha error %1").arg(maxError(gDense, gSparse))));
    dense.coefficients()->theta.mutable_grad() = torch::Tensor();
    torch::NoGradGuard g;
    const auto pDense = dense.probabilities(q, k, layer, offset);
    const auto pSparse = compiled.probabilities(q, k, layer, offset);
    QVERIFY2(maxError(pDense, pSparse) < kTolerance, qPrintable(where + " probabilities"));
  }
}

// Output and gradients of q, k, v (and alpha when defined) of one kernel.
std::vector<torch::Tensor> runKernel(SparseKernel kernel, const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, std::shared_ptr<const SparseHeads> heads,
                                     const torch::Tensor& alpha, const torch::Tensor& probe) {
  auto q2 = q.clone().requires_grad_(true), k2 = k.clone().requires_grad_(true), v2 = v.clone().requires_grad_(true);
  auto a2 = alpha.defined() ? alpha.clone().requires_grad_(true) : torch::Tensor();
  const auto out = blockSparseAttention(q2, k2, v2, std::move(heads), a2, kernel);
  (out * probe).sum().backward();
  std::vector<torch::Tensor> result{out.detach(), q2.grad(), k2.grad(), v2.grad()};
  if (a2.defined()) result.push_back(a2.grad());
  return result;
}

// A plan's one layer as the kernel's inputs: soft mask (union layouts, the alpha columns of each
// head's active masks) and support mode (each head's first branch, null where it has none).
struct KernelHeads {
  std::shared_ptr<SparseHeads> soft = std::make_shared<SparseHeads>(), support = std::make_shared<SparseHeads>();
};
KernelHeads kernelHeads(const AttentionPlan& plan, const MaskBank& bank, int64_t n, int64_t Tq, int64_t blockSize) {
  const auto layouts = compilePlanLayouts(plan, bank, PlanCombine::BranchMixture, n, blockSize, n - Tq);
  KernelHeads heads;
  for (int64_t h = 0; h < plan.numHeads; ++h) {
    heads.soft->layouts.push_back(layouts.unionLayouts[h]);
    heads.soft->columns.emplace_back();
    for (const auto& e : plan.active(0, h)) heads.soft->columns.back().push_back(e.maskIndex);
    const auto& branches = layouts.branchLayouts[h];
    heads.support->layouts.push_back(branches.empty() ? nullptr : branches[0]);
  }
  return heads;
}

// The fast kernel against the reference one, output and every gradient, in soft and support mode.
void checkFastAgainstReference(const KernelHeads& heads, const torch::Tensor& alpha, const torch::Tensor& q,
                               const torch::Tensor& k, const torch::Tensor& v, const QString& where) {
  const auto probe = torch::randn_like(q);
  for (bool useSoft : {true, false}) {
    const auto h = useSoft ? heads.soft : heads.support;
    const auto a = useSoft ? alpha : torch::Tensor();
    const auto fast = runKernel(SparseKernel::Fast, q, k, v, h, a, probe);
    const auto ref = runKernel(SparseKernel::Reference, q, k, v, h, a, probe);
    QCOMPARE(fast.size(), ref.size());
    const char* names[] = {"out", "dq", "dk", "dv", "dalpha"};
    for (size_t i = 0; i < fast.size(); ++i)
      QVERIFY2(maxError(fast[i], ref[i]) < kTolerance,
               qPrintable(QString("%1 %2 %3 error %4").arg(useSoft ? "soft" : "support", where, names[i])
                              .arg(maxError(fast[i], ref[i]))));
  }
}

std::vector<int64_t> randomIds(std::mt19937& rng, int64_t length, int64_t vocab) {
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(length));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

}  // namespace

class TestSparseAttention : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void softMaskMatchesDense() {
    uint64_t seed = 1;
    for (int64_t blockSize : {8, 64})
      for (int64_t n : {1, 7, 64, 100, 150})
        checkCase({MixtureOptions::Combine::SoftMask, false, n, n, blockSize}, seed++);
  }

  void branchMixtureMatchesDense() {
    uint64_t seed = 100;
    for (bool normalise : {false, true})
      for (int64_t blockSize : {8, 64})
        for (int64_t n : {1, 37, 64, 130})
          checkCase({MixtureOptions::Combine::BranchMixture, normalise, n, n, blockSize}, seed++);
  }

  void decodingOffsetsMatchDense() {
    // KV cache: the last Tq rows of n (Tq = 1 while decoding, more for a prompt chunk).
    uint64_t seed = 200;
    for (auto combine : {MixtureOptions::Combine::SoftMask, MixtureOptions::Combine::BranchMixture})
      for (int64_t Tq : {1, 5, 33})
        checkCase({combine, false, 90, Tq, 16}, seed++);
  }

  void theComparisonDetectsADifferentPlan() {
    // Control: the tolerance is meaningful, a compiled plan one mask away from the reference fails it.
    const auto bank = test::makeBank({MaskSpec::window("w9", 9), MaskSpec::window("w8", 8)});
    const auto planA = AttentionPlan::fromAlpha({1.0, 0.0}, 1, 1, bank, PruningRule::thresholdRule(0));
    const auto planB = AttentionPlan::fromAlpha({0.0, 1.0}, 1, 1, bank, PruningRule::thresholdRule(0));
    auto dense = reference(bank, planA, MixtureOptions::Combine::SoftMask, false);
    CompiledPlanAttention compiledA(planA, bank, PlanCombine::SoftMask, false, 16);
    CompiledPlanAttention compiledB(planB, bank, PlanCombine::SoftMask, false, 16);
    torch::NoGradGuard g;
    auto q = torch::randn({1, 1, 40, 8}), k = torch::randn({1, 1, 40, 8}), v = torch::randn({1, 1, 40, 8});
    const auto ref = dense.forward(q, k, v, 0, 0);
    QVERIFY(maxError(ref, compiledA.forward(q, k, v, 0, 0)) < kTolerance);
    QVERIFY(maxError(ref, compiledB.forward(q, k, v, 0, 0)) > 1e-2);
  }

  void zeroWeightRowFallsBackToDiagonal() {
    // A weight set to 0 during training: the pairs only that mask covered are dropped, and a row with
    // nothing left attends its own key, as in the reference.
    const auto bank = test::makeBank({MaskSpec::window("w3", 3), MaskSpec::sinks("s1", 1)});
    const auto plan = AttentionPlan::fromAlpha({0.5, 0.7}, 1, 1, bank, PruningRule::thresholdRule(0));
    CompiledPlanAttention compiled(plan, bank, PlanCombine::SoftMask, false, 4);
    compiled.setAlpha(torch::tensor({0.0f, 0.0f}).view({1, 1, 2}));
    auto q = torch::randn({1, 1, 10, 8}), k = torch::randn({1, 1, 10, 8}), v = torch::randn({1, 1, 10, 8});
    QVERIFY(maxError(compiled.forward(q, k, v, 0, 0), v) < 1e-6);
  }

  void fastKernelMatchesReferenceKernel() {
    // The benchmarks' shape (64-wide tiles, head dimension 64) and small tiles; soft mask (union
    // layouts, random weights) and support mode (each head's first branch, null where it has none);
    // whole sequences, a prompt chunk and a decoded row. Two banks: one mask of every family, and
    // Sparse Transformer's strided pattern with offsets, whose tiles attend a diagonal or two (the
    // kernel's pair-by-pair path for sparse tiles).
    const int64_t H = 3, B = 2, d = 64;
    std::mt19937 rng(11);
    torch::manual_seed(11);
    const auto strided = test::makeBank({MaskSpec::window("w40", 40), MaskSpec::strided("s32", 32),
                                         MaskSpec::offsetSet("off", {3, 70}), MaskSpec::strided("s64", 64)});
    for (const auto& bank : {mixedBank(), strided})
    for (int64_t blockSize : {16, 64})
      for (const auto& [n, Tq] : std::vector<std::pair<int64_t, int64_t>>{{200, 200}, {200, 70}, {130, 1}}) {
        const int64_t K = static_cast<int64_t>(bank.masks.size());
        const auto plan = AttentionPlan::fromAlpha(randomAlpha(rng, 1, H, K, true), 1, H, bank, PruningRule::thresholdRule(0));
        const auto alpha = torch::tensor(plan.alphaTensorValues()).view({H, K}).to(torch::kFloat32);
        const auto q = torch::randn({B, H, Tq, d}), k = torch::randn({B, H, n, d}), v = torch::randn({B, H, n, d});
        checkFastAgainstReference(kernelHeads(plan, bank, n, Tq, blockSize), alpha, q, k, v,
                                  QString("n=%1 Tq=%2 block=%3").arg(n).arg(Tq).arg(blockSize));
      }
  }

  // A head the plan leaves full causal runs the fused kernel's query tiles (its log-sum-exp shifted by
  // the constant log W the backward adds back); beside it a head of causal + window (not one mask set
  // everywhere) and a window head take the block path. Forward and every gradient against the
  // reference kernel, soft mask and support mode, whole sequences, a prompt chunk and a decoded row.
  void fullCausalHeadsMatchReferenceKernel() {
    const int64_t H = 3, B = 2, d = 64;
    torch::manual_seed(5);
    const auto bank = test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("w40", 40)});
    const std::vector<double> alpha{0.7, 0.0, /*head 1*/ 0.4, 0.9, /*head 2*/ 0.0, 1.3};
    const auto plan = AttentionPlan::fromAlpha(alpha, 1, H, bank, PruningRule::thresholdRule(0));
    for (int64_t blockSize : {16, 64})
      for (const auto& [n, Tq] : std::vector<std::pair<int64_t, int64_t>>{{300, 300}, {300, 70}, {130, 1}}) {
        const auto a = torch::tensor(plan.alphaTensorValues()).view({H, 2}).to(torch::kFloat32);
        const auto q = torch::randn({B, H, Tq, d}) * 2, k = torch::randn({B, H, n, d}) * 2, v = torch::randn({B, H, n, d});
        checkFastAgainstReference(kernelHeads(plan, bank, n, Tq, blockSize), a, q, k, v,
                                  QString("n=%1 Tq=%2 block=%3").arg(n).arg(Tq).arg(blockSize));
      }
  }

  void tinyGpt2CompiledEqualsDenseMasked() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    model->eval();
    const auto& cfg = model->config();
    const auto bank = mixedBank();
    std::mt19937 rng(5);
    for (auto combine : {MixtureOptions::Combine::SoftMask, MixtureOptions::Combine::BranchMixture}) {
      const auto K = static_cast<int64_t>(bank.masks.size());
      const auto plan = AttentionPlan::fromAlpha(randomAlpha(rng, cfg.numLayers, cfg.numHeads, K, true), cfg.numLayers,
                                                 cfg.numHeads, bank, PruningRule::thresholdRule(0));
      const bool branch = combine == MixtureOptions::Combine::BranchMixture;
      auto dense = reference(bank, plan, combine, false);
      CompiledPlanAttention compiled(plan, bank, branch ? PlanCombine::BranchMixture : PlanCombine::SoftMask);
      torch::NoGradGuard g;
      const auto ids = randomIds(rng, cfg.contextLength, cfg.vocabSize);
      const auto idsTensor = torch::tensor(ids, torch::kLong).unsqueeze(0);
      const auto logitsDense = model->forward(idsTensor, nullptr, &dense);
      const auto logitsSparse = model->forward(idsTensor, nullptr, &compiled);
      QVERIFY2(maxError(logitsDense, logitsSparse) < kTolerance,
               qPrintable(QString("logits error %1").arg(maxError(logitsDense, logitsSparse))));
      // Perplexity of a text longer than the context (sliding windows) through both kernels.
      const auto longIds = randomIds(rng, 2 * cfg.contextLength + 5, cfg.vocabSize);
      const double pplDense = scoreTokens(model, longIds, 0, &dense).perplexity();
      const double pplSparse = scoreTokens(model, longIds, 0, &compiled).perplexity();
      QVERIFY2(std::abs(pplDense - pplSparse) <= 1e-4 * pplDense,
               qPrintable(QString("perplexity %1 vs %2").arg(pplDense).arg(pplSparse)));
      // Greedy generation with the KV cache: the compiled student decodes row by row.
      SamplingOptions s;
      s.maxNewTokens = 20;
      s.stopOnEos = false;
      const auto prompt = randomIds(rng, 6, cfg.vocabSize);
      QCOMPARE(generate(model, prompt, s, &compiled).tokens, generate(model, prompt, s, &dense).tokens);
    }
  }

  void rejectsWrongInputs() {
    const auto bank = test::makeBank({MaskSpec::window("w3", 3)});
    const auto plan = AttentionPlan::fromAlpha({0.5}, 1, 1, bank, PruningRule::thresholdRule(0));
    CompiledPlanAttention compiled(plan, bank, PlanCombine::SoftMask);
    auto q = torch::randn({1, 2, 4, 8}), k = torch::randn({1, 2, 4, 8});
    QVERIFY(test::errorOf([&] { compiled.forward(q, k, k, 0, 0); }).find("2 heads, the plan is for 1") != std::string::npos);
    auto q1 = torch::randn({1, 1, 4, 8}), k1 = torch::randn({1, 1, 5, 8});
    QVERIFY(test::errorOf([&] { compiled.forward(q1, k1, k1, 0, 0); }).find("must be queryOffset") != std::string::npos);
    QVERIFY(test::errorOf([&] { compiled.forward(q1, k1, k1, 3, 1); }).find("layer 3 out of range") != std::string::npos);
  }
};

QTEST_APPLESS_MAIN(TestSparseAttention)
#include "test_sparse_attention.moc"
