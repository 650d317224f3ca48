// The mask-mixture kernel against dense references written here with explicit loops over (i, j)
// (never the kernel's code), against DenseCausalAttention, inside GPT-2 (full pass, KV cache), and
// its gradients with respect to the coefficients. Reports the max difference of every check.
#include <QtTest>

#include <cmath>
#include <random>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/model/dense_attention.h"
#include "core/model/mask_mixture_attention.h"
#include "tests/support/test_support.h"

using namespace attnx;
using Combine = MixtureOptions::Combine;
using Param = MixtureOptions::Parametrisation;
using Gran = MixtureOptions::Granularity;

namespace {

// Masks of every family; banks are drawn from these.
std::vector<MaskSpec> maskPool() {
  std::vector<uint8_t> grid = {1, 0, 0, 0,  //
                               1, 1, 0, 0,  //
                               0, 1, 1, 0,  //
                               1, 0, 1, 1};
  return {MaskSpec::causal("causal"),
          MaskSpec::window("win3", 3),
          MaskSpec::dilatedWindow("dil3x2", 3, 2),
          MaskSpec::strided("stride4", 4),
          MaskSpec::blockLocal("block5", 5),
          MaskSpec::summaryColumns("sum4c1", 4, 1),
          MaskSpec::sinks("sink2", 2),
          MaskSpec::offsetSet("off015", {0, 1, 5}),
          MaskSpec::random("rand4", 4, 1, 7),
          MaskSpec::painted("paint4", 4, grid)};
}


// K distinct masks of the pool, drawn with `seed`.
MaskBank randomBank(uint32_t seed, size_t K) {
  auto pool = maskPool();
  std::mt19937 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  pool.resize(K);
  return test::makeBank(pool);
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

struct Reference {
  torch::Tensor out;    // (B, H, Tq, d)
  torch::Tensor probs;  // (B, H, Tq, Tk)
};

// Dense reference in double with loops over (b, h, i, j): soft mask materialises W_ij and takes
// P_ij = W_ij exp(S_ij) / sum_j' W_ij' exp(S_ij') (diagonal when W_i. = 0); branch mixture
// materialises each branch's restricted softmax and sums alpha_k-weighted outputs.
Reference reference(const MaskBank& bank, Combine combine, bool normalise, const torch::Tensor& alphaHK,
                    const torch::Tensor& q64, const torch::Tensor& k64, const torch::Tensor& v64, int64_t offset) {
  const auto q = q64.to(torch::kFloat64).contiguous(), k = k64.to(torch::kFloat64).contiguous(),
             v = v64.to(torch::kFloat64).contiguous();
  const int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), d = q.size(3), Tk = k.size(2);
  const auto K = static_cast<int64_t>(bank.masks.size());
  auto al = alphaHK.to(torch::kFloat64).contiguous();
  auto A = al.accessor<double, 2>();
  auto Q = q.accessor<double, 4>(), Kt = k.accessor<double, 4>(), V = v.accessor<double, 4>();
  Reference ref{torch::zeros({B, H, Tq, d}, torch::kFloat64), torch::zeros({B, H, Tq, Tk}, torch::kFloat64)};
  auto O = ref.out.accessor<double, 4>();
  auto P = ref.probs.accessor<double, 4>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> s(Tk), w(Tk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t r = 0; r < Tq; ++r) {
        const int64_t i = offset + r;
        for (int64_t j = 0; j < Tk; ++j) {
          s[j] = 0;
          for (int64_t c = 0; c < d; ++c) s[j] += Q[b][h][r][c] * Kt[b][h][j][c];
          s[j] *= scale;
        }
        // Per-branch weights: soft mask has one "branch" with W; the mixture one per mask.
        std::vector<std::pair<double, std::vector<double>>> branches;  // (weight, mask values)
        if (combine == Combine::SoftMask) {
          bool any = false;
          for (int64_t j = 0; j < Tk; ++j) {
            w[j] = 0;
            for (int64_t m = 0; m < K; ++m)
              if (bank.masks[m].allows(i, j, Tk)) w[j] += A[h][m];
            any = any || w[j] > 0;
          }
          if (!any)
            for (int64_t j = 0; j < Tk; ++j) w[j] = j == i ? 1.0 : 0.0;
          branches.emplace_back(1.0, w);
        } else {
          double sum = 0;
          for (int64_t m = 0; m < K; ++m) sum += A[h][m];
          for (int64_t m = 0; m < K; ++m) {
            const double a = normalise ? (sum > 0 ? A[h][m] / sum : 0.0) : A[h][m];
            for (int64_t j = 0; j < Tk; ++j) w[j] = bank.masks[m].allows(i, j, Tk) ? 1.0 : 0.0;
            branches.emplace_back(a, w);
          }
        }
        for (const auto& [a, wb] : branches) {
          double mx = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < Tk; ++j)
            if (wb[j] > 0) mx = std::max(mx, s[j]);
          double z = 0;
          for (int64_t j = 0; j < Tk; ++j) z += wb[j] > 0 ? wb[j] * std::exp(s[j] - mx) : 0.0;
          for (int64_t j = 0; j < Tk; ++j) {
            const double p = wb[j] > 0 ? wb[j] * std::exp(s[j] - mx) / z : 0.0;
            P[b][h][r][j] += a * p;
            for (int64_t c = 0; c < d; ++c) O[b][h][r][c] += a * p * V[b][h][j][c];
          }
        }
      }
  return ref;
}

// Coefficients with raw (clamped) alpha set from `values` (L, H, K).
MaskMixtureCoefficients rawCoefficients(const torch::Tensor& values, const MixtureOptions& base) {
  auto opts = base;
  opts.param = Param::ClampedRaw;
  opts.granularity = Gran::PerLayerHead;
  opts.initialCoefficient = 0.0;
  MaskMixtureCoefficients c(values.size(0), values.size(1), values.size(2), opts);
  torch::NoGradGuard g;
  c->theta.copy_(values);
  return c;
}

const char* comboName(Combine c, bool normalise) {
  if (c == Combine::SoftMask) return "soft mask";
  return normalise ? "branch mixture (normalised)" : "branch mixture";
}

std::vector<std::pair<Combine, bool>> allModes() {
  return {{Combine::SoftMask, false}, {Combine::BranchMixture, false}, {Combine::BranchMixture, true}};
}

}  // namespace

class TestMaskMixture : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void coefficientsInitialise() {
    for (auto param : {Param::Softplus, Param::Sigmoid, Param::ClampedRaw})
      for (auto gran : {Gran::PerModel, Gran::PerLayer, Gran::PerLayerHead}) {
        MixtureOptions o;
        o.param = param;
        o.granularity = gran;
        o.initialCoefficient = 0.7;
        MaskMixtureCoefficients c(3, 4, 5, o);
        const auto a = c->alpha();
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{3, 4, 5}));
        QVERIFY(maxDiff(a, torch::full({3, 4, 5}, 0.7)) < 1e-6);
        const int64_t expectL = gran == Gran::PerModel ? 1 : 3, expectH = gran == Gran::PerLayerHead ? 4 : 1;
        QCOMPARE(c->theta.sizes().vec(), (std::vector<int64_t>{expectL, expectH, 5}));
      }
    MixtureOptions sig;
    sig.param = Param::Sigmoid;  // alpha = 1 is out of the sigmoid's range
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, MaskMixtureCoefficients(1, 1, 1, sig));
    MixtureOptions neg;
    neg.initialCoefficient = -1;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, MaskMixtureCoefficients(1, 1, 1, neg));
    // Large alpha does not overflow the softplus inverse.
    MixtureOptions big;
    big.initialCoefficient = 800;
    QVERIFY(std::abs(MaskMixtureCoefficients(1, 1, 1, big)->alpha().item<double>() - 800) < 1e-3);
  }

  void maskCache() {
    const auto bank = randomBank(3, 5);
    MixtureOptions o;
    MaskMixtureAttention mix(bank, o, MaskMixtureCoefficients(1, 1, 5, o), 1, 1);
    const auto M = mix.masks(7, 19, torch::kCPU);  // queries 12..18
    QCOMPARE(M.sizes().vec(), (std::vector<int64_t>{5, 7, 19}));
    auto acc = M.accessor<bool, 3>();
    for (int64_t m = 0; m < 5; ++m)
      for (int64_t r = 0; r < 7; ++r)
        for (int64_t j = 0; j < 19; ++j) QCOMPARE(acc[m][r][j], bank.masks[m].allows(12 + r, j, 19));
    QCOMPARE(mix.masks(7, 19, torch::kCPU).data_ptr(), M.data_ptr());  // cached
  }

  // Every mode against the loop reference, fp32 and fp64, T = 17 and 40, banks of several
  // families, alpha with exact zeros (a mask off for a whole layer, a head with alpha all zero).
  void matchesDenseReference() {
    torch::manual_seed(1);
    const int64_t B = 2, H = 3, d = 8, L = 2;
    double worst32 = 0, worst64 = 0;
    for (auto dtype : {torch::kFloat32, torch::kFloat64})
      for (int64_t T : {17, 40})
        for (uint32_t seed = 0; seed < 4; ++seed) {
          const size_t K = 3 + seed % 3;
          const auto bank = randomBank(seed * 11 + static_cast<uint32_t>(T), K);
          auto values = torch::rand({L, H, static_cast<int64_t>(K)}) * 2;
          values[1].select(1, 0).zero_();  // mask 0 off in every head of layer 1
          values[1][2].zero_();            // head 2 of layer 1: alpha all zero
          const auto q = torch::randn({B, H, T, d}, dtype), k = torch::randn({B, H, T, d}, dtype),
                     v = torch::randn({B, H, T, d}, dtype);
          for (auto [combine, normalise] : allModes()) {
            MixtureOptions o;
            o.combine = combine;
            o.normaliseBranches = normalise;
            auto coeffs = rawCoefficients(values, o);
            MaskMixtureAttention mix(bank, o, coeffs, L, H);
            for (int64_t layer = 0; layer < L; ++layer) {
              const auto alpha = coeffs->alpha()[layer];
              const auto ref = reference(bank, combine, normalise, alpha, q, k, v, 0);
              const auto out = mix.forward(q, k, v, layer, 0);
              const auto probs = mix.probabilities(q, k, layer, 0);
              QCOMPARE(out.scalar_type(), dtype);
              double diff = std::max(maxDiff(out, ref.out), maxDiff(probs, ref.probs));
              // The last Tq queries with queryOffset = T - Tq: the same rows as the full pass.
              for (int64_t offset : {int64_t{1}, T / 2, T - 1}) {
                using torch::indexing::Slice;
                const auto qs = q.index({Slice(), Slice(), Slice(offset)});
                const auto part = mix.forward(qs, k, v, layer, offset);
                const auto refPart = reference(bank, combine, normalise, alpha, qs, k, v, offset);
                diff = std::max({diff, maxDiff(part, ref.out.index({Slice(), Slice(), Slice(offset)})),
                                 maxDiff(part, refPart.out),
                                 maxDiff(mix.probabilities(qs, k, layer, offset), refPart.probs)});
              }
              const bool fp32 = dtype == torch::kFloat32;
              (fp32 ? worst32 : worst64) = std::max(fp32 ? worst32 : worst64, diff);
              QVERIFY2(diff < (fp32 ? 1e-5 : 1e-10),
                       qPrintable(QString("%1, T=%2, bank %3, layer %4: max |Δ| %5")
                                      .arg(comboName(combine, normalise)).arg(T).arg(seed).arg(layer).arg(diff)));
            }
          }
        }
    qInfo("loop reference: max |Δ| fp32 %.3g, fp64 %.3g", worst32, worst64);
  }

  // A causal-only bank is dense causal attention: the soft mask for any alpha > 0, the normalised
  // branch mixture for any alpha > 0, the plain branch mixture for alpha = 1 (else it scales by alpha).
  void causalOnlyIsDense() {
    torch::manual_seed(2);
    const auto bank = test::makeBank({MaskSpec::causal("causal")});
    const DenseCausalAttention dense;
    const int64_t H = 3, T = 23;
    const auto q = torch::randn({2, H, T, 8}), k = torch::randn({2, H, T, 8}), v = torch::randn({2, H, T, 8});
    double worst = 0;
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      auto values = (combine == Combine::BranchMixture && !normalise) ? torch::ones({1, H, 1})
                                                                      : torch::rand({1, H, 1}) * 3 + 0.05;
      MaskMixtureAttention mix(bank, o, rawCoefficients(values, o), 1, H);
      for (int64_t offset : {int64_t{0}, int64_t{9}}) {
        using torch::indexing::Slice;
        const auto qs = q.index({Slice(), Slice(), Slice(offset)});
        const double diff = std::max(maxDiff(mix.forward(qs, k, v, 0, offset), dense.forward(qs, k, v, 0, offset)),
                                     maxDiff(mix.probabilities(qs, k, 0, offset), dense.probabilities(qs, k, 0, offset)));
        worst = std::max(worst, diff);
        QVERIFY2(diff < 1e-6, qPrintable(QString("%1: max |Δ| %2").arg(comboName(combine, normalise)).arg(diff)));
      }
    }
    qInfo("causal-only bank vs DenseCausalAttention: max |Δ| %.3g", worst);
  }

  // GPT-2 with the mixture kernel swapped in: a causal-only bank gives GPT-2's own logits.
  void gpt2CausalOnlySwap() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    const auto& cfg = model->config();
    torch::manual_seed(3);
    const auto ids = torch::randint(0, cfg.vocabSize, {2, 30}, torch::kLong);
    torch::NoGradGuard g;
    const auto expect = model->forward(ids);
    const auto bank = test::makeBank({MaskSpec::causal("causal")});
    double worst = 0;
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      MaskMixtureCoefficients coeffs(cfg.numLayers, cfg.numHeads, 1, o);  // softplus, alpha = 1
      if (combine == Combine::SoftMask || normalise) coeffs->theta.uniform_(-2, 2);
      MaskMixtureAttention mix(bank, o, coeffs, cfg.numLayers, cfg.numHeads);
      const double diff = maxDiff(model->forward(ids, nullptr, &mix), expect);
      worst = std::max(worst, diff);
      QVERIFY2(diff < 1e-5, qPrintable(QString("%1: max |Δ logit| %2").arg(comboName(combine, normalise)).arg(diff)));
    }
    qInfo("GPT-2, causal-only mixture vs GPT-2: max |Δ logit| %.3g", worst);
  }

  // Incremental decoding with a KV cache (a prefill of 5, then token by token) equals the full pass
  // with the same kernel, for a window + sinks bank (neither depends on n).
  void kvCacheMatchesFullPass() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    const auto& cfg = model->config();
    torch::manual_seed(4);
    const int64_t T = 24;
    const auto ids = torch::randint(0, cfg.vocabSize, {2, T}, torch::kLong);
    const auto bank = test::makeBank({MaskSpec::window("win4", 4), MaskSpec::sinks("sink2", 2)});
    torch::NoGradGuard g;
    double worst = 0;
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      MaskMixtureCoefficients coeffs(cfg.numLayers, cfg.numHeads, 2, o);
      coeffs->theta.uniform_(-2, 2);
      MaskMixtureAttention mix(bank, o, coeffs, cfg.numLayers, cfg.numHeads);
      const auto full = model->forward(ids, nullptr, &mix);  // (B, T, V)
      KvCache cache;
      using torch::indexing::Slice;
      std::vector<torch::Tensor> steps{model->forward(ids.index({Slice(), Slice(0, 5)}), &cache, &mix)};
      for (int64_t t = 5; t < T; ++t) steps.push_back(model->forward(ids.index({Slice(), Slice(t, t + 1)}), &cache, &mix));
      const double diff = maxDiff(torch::cat(steps, 1), full);
      worst = std::max(worst, diff);
      QVERIFY2(diff < 1e-5, qPrintable(QString("%1: max |Δ logit| %2").arg(comboName(combine, normalise)).arg(diff)));
    }
    qInfo("KV cache vs full pass (window + sinks): max |Δ logit| %.3g", worst);
  }

  // Backward through GPT-2 reaches theta with finite, non-zero gradients; GPT-2 itself frozen.
  void gradientsReachTheta() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    const auto& cfg = model->config();
    torch::manual_seed(5);
    const auto ids = torch::randint(0, cfg.vocabSize, {2, 20}, torch::kLong);
    const auto bank = test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("win3", 3), MaskSpec::sinks("sink1", 1)});
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      MaskMixtureCoefficients coeffs(cfg.numLayers, cfg.numHeads, 3, o);
      MaskMixtureAttention mix(bank, o, coeffs, cfg.numLayers, cfg.numHeads);
      using torch::indexing::Slice;
      const auto logits = model->forward(ids, nullptr, &mix);
      const auto loss = torch::nn::functional::cross_entropy(
          logits.index({Slice(), Slice(0, -1)}).reshape({-1, cfg.vocabSize}), ids.index({Slice(), Slice(1)}).reshape(-1));
      loss.backward();
      const auto grad = coeffs->theta.grad();
      QVERIFY(grad.defined());
      QVERIFY(torch::isfinite(grad).all().item<bool>());
      QVERIFY2(grad.abs().sum().item<double>() > 0, comboName(combine, normalise));
      qInfo("%s: |dLoss/dθ| sum %.3g", comboName(combine, normalise), grad.abs().sum().item<double>());
    }
  }

  // dLoss/dθ against a central finite difference, float64 model and coefficients.
  void finiteDifference() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"), Gpt2LoadOptions{torch::kFloat64});
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    const auto& cfg = model->config();
    torch::manual_seed(6);
    const auto ids = torch::randint(0, cfg.vocabSize, {1, 16}, torch::kLong);
    const auto bank = test::makeBank({MaskSpec::window("win3", 3), MaskSpec::sinks("sink1", 1), MaskSpec::strided("s4", 4)});
    using torch::indexing::Slice;
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      MaskMixtureCoefficients coeffs(cfg.numLayers, cfg.numHeads, 3, o);
      coeffs->to(torch::kFloat64);
      {
        torch::NoGradGuard g;
        coeffs->theta.uniform_(-1, 1);
      }
      MaskMixtureAttention mix(bank, o, coeffs, cfg.numLayers, cfg.numHeads);
      auto lossOf = [&] {
        const auto logits = model->forward(ids, nullptr, &mix);
        return torch::nn::functional::cross_entropy(logits.index({Slice(), Slice(0, -1)}).reshape({-1, cfg.vocabSize}),
                                                    ids.index({Slice(), Slice(1)}).reshape(-1));
      };
      lossOf().backward();
      const auto grad = coeffs->theta.grad().clone();
      const auto idx = grad.abs().argmax().item<int64_t>();  // the coefficient with the largest gradient
      const double analytic = grad.view(-1)[idx].item<double>();
      const double eps = 1e-4;
      double lp, lm;
      {
        torch::NoGradGuard g;
        auto flat = coeffs->theta.view(-1);
        flat[idx] += eps;
        lp = lossOf().item<double>();
        flat[idx] -= 2 * eps;
        lm = lossOf().item<double>();
        flat[idx] += eps;
      }
      const double numeric = (lp - lm) / (2 * eps);
      const double rel = std::abs(analytic - numeric) / std::max(std::abs(numeric), 1e-12);
      qInfo("%s: dLoss/dθ[%lld] analytic %.10g, finite difference %.10g, relative Δ %.3g",
            comboName(combine, normalise), static_cast<long long>(idx), analytic, numeric, rel);
      QVERIFY(std::abs(analytic) > 1e-8);
      QVERIFY2(rel < 1e-6, qPrintable(QString("relative Δ %1").arg(rel)));
    }
  }

  // alpha = 0 everywhere: the soft mask falls back to the diagonal (output = v), the branch
  // mixture outputs 0 (every branch skipped, so no graph); everything finite, gradients included.
  void allZeroAlphaIsFinite() {
    torch::manual_seed(7);
    const int64_t H = 2, T = 12;
    const auto bank = test::makeBank({MaskSpec::window("win3", 3), MaskSpec::sinks("sink2", 2)});
    const auto q = torch::randn({1, H, T, 4}), k = torch::randn({1, H, T, 4}), v = torch::randn({1, H, T, 4});
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      auto coeffs = rawCoefficients(torch::zeros({1, H, 2}), o);
      MaskMixtureAttention mix(bank, o, coeffs, 1, H);
      const auto out = mix.forward(q, k, v, 0, 0);
      QVERIFY(torch::isfinite(out).all().item<bool>());
      if (combine == Combine::SoftMask) {
        QVERIFY(maxDiff(out, v) < 1e-6);
        QVERIFY(maxDiff(mix.probabilities(q, k, 0, 0), torch::eye(T).expand({1, H, T, T})) == 0);
      } else {
        QVERIFY(out.abs().max().item<double>() == 0);
      }
      // Every branch of the mixture is skipped (alpha exactly 0): its output is a constant 0.
      if (!out.requires_grad()) continue;
      out.sum().backward();
      QVERIFY(torch::isfinite(coeffs->theta.grad()).all().item<bool>());
    }
    // The same inside GPT-2: finite logits in every mode.
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    const auto& cfg = model->config();
    const auto ids = torch::randint(0, cfg.vocabSize, {1, 10}, torch::kLong);
    torch::NoGradGuard g;
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      auto coeffs = rawCoefficients(torch::zeros({cfg.numLayers, cfg.numHeads, 2}), o);
      MaskMixtureAttention mix(bank, o, coeffs, cfg.numLayers, cfg.numHeads);
      QVERIFY2(torch::isfinite(model->forward(ids, nullptr, &mix)).all().item<bool>(), comboName(combine, normalise));
    }
  }
};

QTEST_APPLESS_MAIN(TestMaskMixture)
#include "test_mask_mixture.moc"
