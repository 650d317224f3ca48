// The mask-mixture kernel against dense references written here with explicit loops over (i, j)
// (never the kernel's code), against DenseCausalAttention, inside GPT-2 (full pass, KV cache), and
// its gradients with respect to the coefficients. Reports the max difference of every check.
#include <QtTest>

#include <cmath>
#include <random>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/model/branch_mixture.h"
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

// A fresh leaf copy of t in dtype dt that requires grad (t itself is left alone).
torch::Tensor leaf(const torch::Tensor& t, torch::Dtype dt) { return t.detach().to(dt).clone().requires_grad_(); }

// Each mask of `bank` as a (Tq, Tk) float64 tensor of 0/1 built from MaskSpec::allows.
std::vector<torch::Tensor> maskTensors(const MaskBank& bank, int64_t Tq, int64_t Tk) {
  std::vector<torch::Tensor> out;
  const int64_t offset = Tk - Tq;
  for (const auto& m : bank.masks) {
    auto t = torch::zeros({Tq, Tk}, torch::kFloat64);
    auto a = t.accessor<double, 2>();
    for (int64_t r = 0; r < Tq; ++r)
      for (int64_t j = 0; j < Tk; ++j) a[r][j] = m.allows(offset + r, j, Tk) ? 1.0 : 0.0;
    out.push_back(t);
  }
  return out;
}

// A dense reference with autograd, float64, for per-query alpha (B, H, Tq, K): the soft mask
// materialises W_ij = sum_k alpha_k(i) m_k(i, j) and takes P = W exp(S - max) / sum (diagonal when
// a row of W is 0); the branch mixture runs one masked softmax per mask, each with its own max, and
// sums alpha_k(i) P_k. Returns {out, probs}.
std::pair<torch::Tensor, torch::Tensor> tensorReference(const MaskBank& bank, Combine combine, bool normalise,
                                                        torch::Tensor alpha, const torch::Tensor& q,
                                                        const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t Tq = q.size(2), Tk = k.size(2);
  const auto M = maskTensors(bank, Tq, Tk);
  const auto S = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  const double negInf = -std::numeric_limits<double>::infinity();
  torch::Tensor P;
  if (combine == Combine::SoftMask) {
    auto W = torch::zeros_like(S);
    for (size_t m = 0; m < M.size(); ++m) W = W + alpha.select(-1, static_cast<int64_t>(m)).unsqueeze(-1) * M[m];
    const auto emptyRow = (W > 0).any(-1, true).logical_not();
    const auto diag = torch::eye(Tk, torch::kFloat64).narrow(0, Tk - Tq, Tq);
    W = torch::where(emptyRow, diag.expand_as(W), W);
    const auto Sm = S.masked_fill(W <= 0, negInf);
    const auto e = torch::exp(Sm - std::get<0>(Sm.max(-1, true)).detach()) * W;
    P = e / e.sum(-1, true);
  } else {
    if (normalise) {
      const auto sum = alpha.sum(-1, true);
      alpha = alpha / torch::where(sum > 0, sum, torch::ones_like(sum));
    }
    P = torch::zeros_like(S);
    for (size_t m = 0; m < M.size(); ++m)
      P = P + alpha.select(-1, static_cast<int64_t>(m)).unsqueeze(-1) *
                  torch::softmax(S.masked_fill(M[m] == 0, negInf), -1);
  }
  return {torch::matmul(P, v), P};
}

// sigmoid(W_g q + b_g) per (b, h, i, k) with loops, float64: (B, H, Tq, K).
torch::Tensor loopGate(const torch::Tensor& q, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto Q = q.to(torch::kFloat64).contiguous();
  const auto Wt = weight.to(torch::kFloat64).contiguous(), Bt = bias.to(torch::kFloat64).contiguous();
  const int64_t B = Q.size(0), H = Q.size(1), T = Q.size(2), d = Q.size(3), K = Wt.size(1);
  auto out = torch::zeros({B, H, T, K}, torch::kFloat64);
  auto o = out.accessor<double, 4>();
  auto qa = Q.accessor<double, 4>();
  auto wa = Wt.accessor<double, 3>();
  auto ba = Bt.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t m = 0; m < K; ++m) {
          double z = ba[h][m];
          for (int64_t c = 0; c < d; ++c) z += wa[h][m][c] * qa[b][h][t][c];
          o[b][h][t][m] = 1.0 / (1.0 + std::exp(-z));
        }
  return out;
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

  // The tensor reference agrees with the loop reference (static alpha), so it can stand in for it
  // below where per-query alpha and gradients are needed.
  void tensorReferenceMatchesLoops() {
    torch::manual_seed(11);
    const int64_t B = 2, H = 2, T = 15, d = 4;
    const auto bank = randomBank(5, 4);
    const auto q = torch::randn({B, H, T, d}, torch::kFloat64), k = torch::randn({B, H, T, d}, torch::kFloat64),
               v = torch::randn({B, H, T, d}, torch::kFloat64);
    auto alphaHK = torch::rand({H, 4}, torch::kFloat64);
    alphaHK[1].zero_();
    for (auto [combine, normalise] : allModes()) {
      const auto loops = reference(bank, combine, normalise, alphaHK, q, k, v, 0);
      const auto [out, probs] = tensorReference(bank, combine, normalise,
                                                alphaHK.view({1, H, 1, 4}).expand({B, H, T, 4}), q, k, v);
      QVERIFY(maxDiff(out, loops.out) < 1e-12);
      QVERIFY(maxDiff(probs, loops.probs) < 1e-12);
    }
  }

  // The shared-exponential branch mixture: forward and every gradient (scores through q and k, v,
  // per-query alpha) against the per-branch softmax reference, fp32 and fp64, with zeros in alpha.
  void branchMixtureGradients() {
    torch::manual_seed(12);
    const int64_t B = 2, H = 3, T = 21, d = 8;
    double worst32 = 0, worst64 = 0;
    for (auto dtype : {torch::kFloat32, torch::kFloat64})
      for (uint32_t seed = 0; seed < 3; ++seed) {
        const auto bank = randomBank(100 + seed, 5);
        MixtureOptions o;
        o.combine = Combine::BranchMixture;
        MaskMixtureAttention mix(bank, o, MaskMixtureCoefficients(1, H, 5, o), 1, H);
        const auto q0 = torch::randn({B, H, T, d}, torch::kFloat64), k0 = torch::randn({B, H, T, d}, torch::kFloat64),
                   v0 = torch::randn({B, H, T, d}, torch::kFloat64);
        auto a0 = torch::rand({B, H, T, 5}, torch::kFloat64) * 2;
        a0.select(-1, 1).zero_();  // a branch off everywhere
        const auto R = torch::randn({B, H, T, d}, torch::kFloat64);  // loss = sum(out * R)
        auto grads = [&](bool kernel, torch::Dtype dt) {
          auto q = leaf(q0, dt), k = leaf(k0, dt), v = leaf(v0, dt), a = leaf(a0, dt);
          torch::Tensor out;
          if (kernel) {
            const auto S = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
            out = branchMixture(S, a, v, mix.layout(T, T, torch::kCPU, dt));
          } else {
            out = tensorReference(bank, Combine::BranchMixture, false, a, q, k, v).first;
          }
          (out.to(torch::kFloat64) * R).sum().backward();
          return std::vector<torch::Tensor>{out.detach(), q.grad(), k.grad(), v.grad(), a.grad()};
        };
        const auto ref = grads(false, torch::kFloat64), got = grads(true, dtype);
        const char* names[] = {"out", "dq", "dk", "dv", "dalpha"};
        for (size_t i = 0; i < ref.size(); ++i) {
          const double diff = maxDiff(got[i], ref[i]) / std::max(1.0, ref[i].abs().max().item<double>());
          const bool fp32 = dtype == torch::kFloat32;
          (fp32 ? worst32 : worst64) = std::max(fp32 ? worst32 : worst64, diff);
          QVERIFY2(diff < (fp32 ? 1e-5 : 1e-10), qPrintable(QString("%1, bank %2: relative max |Δ| %3")
                                                                 .arg(names[i]).arg(seed).arg(diff)));
        }
      }
    qInfo("shared-exponential branch mixture vs per-branch softmax: forward and gradients, max relative |Δ| fp32 %.3g, fp64 %.3g",
          worst32, worst64);
  }

  // A sink with scores far above a window's: with one row max for every branch the window's
  // exp(S - max) underflows (exp(-100) < fp32's smallest number). The kernel must still give each
  // branch its own softmax: output, probabilities and gradients against the reference, for gaps
  // below, around and far beyond the underflow point of fp32 and fp64.
  void branchUnderflowIsStable() {
    const int64_t B = 1, H = 2, T = 12, d = 4;
    const auto bank = test::makeBank({MaskSpec::sinks("sink1", 1), MaskSpec::window("win3", 3)});
    MixtureOptions o;
    o.combine = Combine::BranchMixture;
    MaskMixtureAttention mix(bank, o, MaskMixtureCoefficients(1, H, 2, o), 1, H);
    torch::manual_seed(13);
    for (double gap : {30.0, 100.0, 1000.0})
      for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
        // q_i = (sqrt(d), small noise); k_0 = (gap + 1, ...), other keys (0, noise): S_i0 ~ gap + 1, S_ij ~ 0.
        auto q0 = torch::randn({B, H, T, d}, torch::kFloat64) * 0.3, k0 = torch::randn({B, H, T, d}, torch::kFloat64) * 0.3;
        q0.select(-1, 0).fill_(std::sqrt(static_cast<double>(d)));
        k0.select(-1, 0).zero_();
        k0.select(2, 0).select(-1, 0).fill_(gap + 1);
        const auto v0 = torch::randn({B, H, T, d}, torch::kFloat64);
        const auto a0 = torch::rand({B, H, T, 2}, torch::kFloat64) + 0.1;
        const auto R = torch::randn({B, H, T, d}, torch::kFloat64);
        auto run = [&](bool kernel, torch::Dtype dt) {
          auto q = leaf(q0, dt), k = leaf(k0, dt), v = leaf(v0, dt), a = leaf(a0, dt);
          torch::Tensor out, probs;
          if (kernel) {
            const auto S = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
            const auto layout = mix.layout(T, T, torch::kCPU, dt);
            out = branchMixture(S, a, v, layout);
            probs = branchMixtureProbabilities(S.detach(), a.detach(), layout);
          } else {
            std::tie(out, probs) = tensorReference(bank, Combine::BranchMixture, false, a, q, k, v);
          }
          (out.to(torch::kFloat64) * R).sum().backward();
          return std::vector<torch::Tensor>{out.detach(), probs.detach(), q.grad(), k.grad(), v.grad(), a.grad()};
        };
        const auto ref = run(false, torch::kFloat64), got = run(true, dtype), ref32 = run(false, dtype);
        // The window branch of row 5 really sits `gap` below the row max.
        const auto S = torch::matmul(q0, k0.transpose(-2, -1)) / 2.0;
        QVERIFY(S[0][0][5][0].item<double>() - S[0][0][5].narrow(0, 3, 3).max().item<double>() > gap - 2);
        // Forward and probabilities within 1e-5 (fp32) of the float64 reference, at every gap.
        // Gradients: the fused backward forms dS = E (dP W' - W''), two terms that cancel where P is
        // concentrated on one key (rows 1-2 here, both branches all on the sink); their fp32 rounding
        // (~1e-7 |dP|) reaches dq through |k_0| ~ gap + 1, whereas the per-branch softmax cancels
        // exactly in that degenerate case. So fp32 gradients are held to max(1e-5, 2e-7 (gap + 1))
        // relative, i.e. 1e-5 up to gap 50 and 2e-4 at gap 1000 (logged against the per-branch
        // softmax run in the same dtype); fp64 to 1e-10.
        double worst = 0, worstGrad = 0, refGrad = 0;
        for (size_t i = 0; i < ref.size(); ++i) {
          QVERIFY2(torch::isfinite(got[i]).all().item<bool>(), qPrintable(QString("gap %1: item %2 not finite").arg(gap).arg(i)));
          const double scale = std::max(1.0, ref[i].abs().max().item<double>());
          const double d = maxDiff(got[i], ref[i]) / scale;
          if (i < 2) worst = std::max(worst, d);
          else {
            worstGrad = std::max(worstGrad, d);
            refGrad = std::max(refGrad, maxDiff(ref32[i], ref[i]) / scale);
          }
        }
        const bool fp32 = dtype == torch::kFloat32;
        qInfo("gap %g, %s: max relative |Δ| forward/probabilities %.3g, gradients %.3g (per-branch softmax in the same "
              "dtype: %.3g)", gap, fp32 ? "fp32" : "fp64", worst, worstGrad, refGrad);
        QVERIFY2(worst < (fp32 ? 1e-5 : 1e-10), qPrintable(QString("gap %1: %2").arg(gap).arg(worst)));
        QVERIFY2(worstGrad < (fp32 ? std::max(1e-5, 2e-7 * (gap + 1)) : 1e-10),
                 qPrintable(QString("gap %1: gradients %2, reference in the same dtype %3").arg(gap).arg(worstGrad).arg(refGrad)));
      }
  }

  // Gated kernels (per-token alpha = sigmoid(W_g q + b_g)) in every mode against the tensor
  // reference fed with the gate computed by loops; KV-cache offsets included; and the recorded
  // gate statistics are the mean of those loop values.
  void gatedMatchesDenseReference() {
    torch::manual_seed(14);
    const int64_t B = 2, H = 3, T = 19, d = 8, L = 2, K = 4;
    double worst32 = 0, worst64 = 0;
    for (auto dtype : {torch::kFloat32, torch::kFloat64})
      for (auto [combine, normalise] : allModes()) {
        const auto bank = randomBank(200 + static_cast<uint32_t>(combine), K);
        MixtureOptions o;
        o.combine = combine;
        o.normaliseBranches = normalise;
        MaskMixtureGate gate(L, H, K, d, 0.4);
        {
          torch::NoGradGuard g;
          gate->weight.normal_(0, 0.7);
          gate->bias.uniform_(-3, 3);
        }
        MaskMixtureAttention mix(bank, o, gate, L, H);
        const auto q = torch::randn({B, H, T, d}, dtype), k = torch::randn({B, H, T, d}, dtype),
                   v = torch::randn({B, H, T, d}, dtype);
        std::vector<torch::Tensor> outs;
        mix.startGateRecording();
        for (int64_t layer = 0; layer < L; ++layer) outs.push_back(mix.forward(q, k, v, layer, 0));
        const auto means = mix.takeGateMeans().detach();
        QCOMPARE(means.sizes().vec(), (std::vector<int64_t>{L, H, K}));
        for (int64_t layer = 0; layer < L; ++layer) {
          const auto alpha = loopGate(q, gate->weight[layer], gate->bias[layer]);  // (B, H, T, K)
          const auto [refOut, refProbs] = tensorReference(bank, combine, normalise, alpha, q.to(torch::kFloat64),
                                                          k.to(torch::kFloat64), v.to(torch::kFloat64));
          double diff = maxDiff(outs[layer], refOut);
          diff = std::max(diff, maxDiff(mix.probabilities(q, k, layer, 0), refProbs));
          diff = std::max(diff, maxDiff(means[layer], alpha.mean(torch::IntArrayRef{0, 2})));
          using torch::indexing::Slice;
          for (int64_t offset : {int64_t{4}, T - 1}) {
            const auto part = mix.forward(q.index({Slice(), Slice(), Slice(offset)}), k, v, layer, offset);
            diff = std::max(diff, maxDiff(part, refOut.index({Slice(), Slice(), Slice(offset)})));
          }
          const bool fp32 = dtype == torch::kFloat32;
          (fp32 ? worst32 : worst64) = std::max(fp32 ? worst32 : worst64, diff);
          QVERIFY2(diff < (fp32 ? 1e-5 : 1e-10), qPrintable(QString("gated %1, layer %2: max |Δ| %3")
                                                                 .arg(comboName(combine, normalise)).arg(layer).arg(diff)));
        }
      }
    qInfo("gated kernel vs loop gate + dense reference: max |Δ| fp32 %.3g, fp64 %.3g", worst32, worst64);
    // Recording needs a gate.
    MixtureOptions o;
    MaskMixtureAttention plain(randomBank(1, 2), o, MaskMixtureCoefficients(1, 1, 2, o), 1, 1);
    QVERIFY_THROWS_EXCEPTION(std::logic_error, plain.startGateRecording());
  }

  // A fresh gate (W_g = 0, b_g = logit(a)) is the static mixture with alpha = a everywhere, inside
  // GPT-2, in every mode; its gradients reach W_g and b_g.
  void freshGateIsStaticAlpha() {
    auto model = loadGpt2(test::fixture("gpt2-tiny"));
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    const auto& cfg = model->config();
    torch::manual_seed(15);
    const auto ids = torch::randint(0, cfg.vocabSize, {2, 20}, torch::kLong);
    const auto bank = test::makeBank({MaskSpec::window("win3", 3), MaskSpec::sinks("sink1", 1), MaskSpec::strided("s4", 4)});
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, MaskMixtureGate(1, 1, 1, 4, 1.0));
    for (auto [combine, normalise] : allModes()) {
      MixtureOptions o;
      o.combine = combine;
      o.normaliseBranches = normalise;
      MaskMixtureGate gate(cfg.numLayers, cfg.numHeads, 3, cfg.headDim(), 0.3);
      MaskMixtureAttention gated(bank, o, gate, cfg.numLayers, cfg.numHeads);
      MaskMixtureAttention fixed(bank, o, rawCoefficients(torch::full({cfg.numLayers, cfg.numHeads, 3}, 0.3), o),
                                 cfg.numLayers, cfg.numHeads);
      const auto logits = model->forward(ids, nullptr, &gated);
      double diff;
      {
        torch::NoGradGuard g;
        diff = maxDiff(logits, model->forward(ids, nullptr, &fixed));
      }
      QVERIFY2(diff < 1e-5, qPrintable(QString("%1: max |Δ logit| %2").arg(comboName(combine, normalise)).arg(diff)));
      logits.pow(2).mean().backward();
      QVERIFY(gate->weight.grad().defined() && gate->bias.grad().defined());
      QVERIFY(torch::isfinite(gate->weight.grad()).all().item<bool>());
      QVERIFY2(gate->weight.grad().abs().sum().item<double>() > 0, comboName(combine, normalise));
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
