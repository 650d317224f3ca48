#include "core/model/branch_mixture.h"

#include <cfloat>
#include <cmath>
#include <limits>

#include <torch/torch.h>

namespace attnx {

namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// x (B, H, Tq, Tk) contracted with byKey (Tq, Tk, K) over the keys j, the query i as the batch:
// (B, H, Tq, K). The transposes are views; bmm reads the strided batch directly.
Tensor overKeys(const Tensor& x, const Tensor& byKey) {
  const auto B = x.size(0), H = x.size(1), Tq = x.size(2), Tk = x.size(3), K = byKey.size(2);
  const auto r = torch::bmm(x.reshape({B * H, Tq, Tk}).transpose(0, 1), byKey);  // (Tq, BH, K)
  return r.transpose(0, 1).reshape({B, H, Tq, K});
}

// c (B, H, Tq, K) contracted with byMask (Tq, K, Tk) over the masks k: (B, H, Tq, Tk).
Tensor overMasks(const Tensor& c, const Tensor& byMask) {
  const auto B = c.size(0), H = c.size(1), Tq = c.size(2), K = c.size(3), Tk = byMask.size(2);
  const auto r = torch::bmm(c.reshape({B * H, Tq, K}).transpose(0, 1), byMask);  // (Tq, BH, Tk)
  return r.transpose(0, 1).reshape({B, H, Tq, Tk});
}

// The shared part of forward: E, 1/Z (0 where the branch underflows), the combined weights W' and
// which (row, branch) underflowed. Runs without gradient.
struct SharedPass {
  Tensor E;        // (B, H, Tq, Tk), 0 on keys no mask allows
  Tensor invZ;     // (B, H, Tq, K), 0 where dropped
  Tensor W;        // (B, H, Tq, Tk): sum_k alpha_k invZ_k m_k
  Tensor dropped;  // (B, H, Tq, K) bool: Z_k(i) below the threshold, left to the branch's own softmax
};

SharedPass sharedPass(const Tensor& S, const Tensor& alpha, const Tensor& byKey, const Tensor& byMask,
                      const Tensor& outside) {
  SharedPass p;
  const auto Sm = S.masked_fill(outside, -std::numeric_limits<double>::infinity());
  // The diagonal is in every mask, so every row has a finite max. c is a constant for the gradient:
  // every P_k is invariant to a shift of its row, so the shift contributes nothing.
  const auto c = std::get<0>(Sm.max(-1, /*keepdim=*/true));  // (B, H, Tq, 1)
  p.E = (Sm - c).exp_();
  const auto Z = overKeys(p.E, byKey);  // (B, H, Tq, K)
  p.dropped = Z < branchUnderflowThreshold(S.scalar_type());
  p.invZ = torch::where(p.dropped, torch::zeros_like(Z), Z.reciprocal());
  p.W = overMasks(alpha * p.invZ, byMask);
  return p;
}

// O = (E * W') V with the gradients of O = sum_k alpha_k P_k V, P_k = E m_k / Z_k:
//   dV      = P^T dO,                    P = E * W'
//   dP      = dO V^T,  G = dP * E
//   D_k(i)  = sum_j G_ij m_k(i, j)       (the same contraction as Z)
//   dalpha_k(i) = D_k(i) / Z_k(i)        (= sum_j P_k(i, j) dP_ij)
//   dS_ij   = P_ij dP_ij - E_ij sum_k m_k(i, j) alpha_k(i) D_k(i) / Z_k(i)^2
//           = G_ij W'_ij - E_ij W''_ij,   W'' = sum_k (alpha_k invZ_k^2 D_k) m_k
// Only E and (B, H, Tq, K) statistics are kept; W' is recomputed (a K-deep contraction).
class SharedExpBranchMixture : public torch::autograd::Function<SharedExpBranchMixture> {
 public:
  static variable_list forward(AutogradContext* ctx, Tensor S, Tensor alpha, Tensor v, Tensor byKey, Tensor byMask,
                               Tensor outside) {
    auto p = sharedPass(S, alpha, byKey, byMask, outside);
    auto out = torch::matmul(p.E * p.W, v);  // (B, H, Tq, d)
    ctx->save_for_backward({p.E, p.invZ, alpha, v, byKey, byMask});
    ctx->mark_non_differentiable({p.dropped});
    return {out, p.dropped};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &E = saved[0], &invZ = saved[1], &alpha = saved[2], &v = saved[3], &byKey = saved[4],
               &byMask = saved[5];
    const auto& dO = grads[0];  // (B, H, Tq, d)
    const auto coef = alpha * invZ;
    const auto W = overMasks(coef, byMask);
    Tensor dS, dAlpha, dV;
    if (ctx->needs_input_grad(2)) dV = torch::matmul((E * W).transpose(-2, -1), dO);  // (B, H, Tk, d)
    if (ctx->needs_input_grad(0) || ctx->needs_input_grad(1)) {
      auto G = torch::matmul(dO, v.transpose(-2, -1)).mul_(E);  // (B, H, Tq, Tk)
      const auto delta = overKeys(G, byKey) * invZ;             // (B, H, Tq, K)
      if (ctx->needs_input_grad(1)) dAlpha = delta;
      if (ctx->needs_input_grad(0)) dS = G.mul_(W).sub_(E * overMasks(coef * delta, byMask));
    }
    return {dS, dAlpha, dV, Tensor(), Tensor(), Tensor()};
  }
};

// The (row, branch) pairs the shared path dropped: each such branch by its own masked softmax,
// restricted to those rows (an exact, stable, autograd-tracked term; rare).
template <typename Add>
void forEachDroppedBranch(const Tensor& S, const Tensor& alpha, const Tensor& dropped, const BranchMaskLayout& layout,
                          Add&& add) {
  const auto any = dropped.any(0).any(0).any(0).to(torch::kCPU);  // (K)
  const auto* a = any.data_ptr<bool>();
  for (int64_t k = 0; k < any.size(0); ++k) {
    if (!a[k]) continue;
    const auto P = torch::softmax(S.masked_fill(layout.masks[k].logical_not(), -std::numeric_limits<double>::infinity()), -1);
    const auto weight = (alpha.select(-1, k) * dropped.select(-1, k).to(alpha.scalar_type())).unsqueeze(-1);  // (B, H, Tq, 1)
    add(weight, P);
  }
}

}  // namespace

double branchUnderflowThreshold(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat64: return std::sqrt(DBL_MIN);  // ~1.5e-154
    case torch::kHalf: return 6.1e-5;                 // fp16's smallest normal: coarse, fp16 is not a training dtype here
    default: return std::sqrt(FLT_MIN);               // fp32 and bf16 (fp32's range): ~1.1e-19
  }
}

BranchMaskLayout makeBranchMaskLayout(const torch::Tensor& masks, torch::Dtype dtype) {
  BranchMaskLayout l;
  l.masks = masks;                                        // (K, Tq, Tk) bool
  const auto f = masks.to(dtype);
  l.byKey = f.permute({1, 2, 0}).contiguous();            // (Tq, Tk, K)
  l.byMask = f.permute({1, 0, 2}).contiguous();           // (Tq, K, Tk)
  l.outside = masks.any(0).logical_not();                 // (Tq, Tk)
  return l;
}

torch::Tensor branchMixture(const torch::Tensor& scores, const torch::Tensor& alpha, const torch::Tensor& v,
                            const BranchMaskLayout& layout) {
  auto outs = SharedExpBranchMixture::apply(scores, alpha, v, layout.byKey, layout.byMask, layout.outside);
  auto out = outs[0];
  const auto& dropped = outs[1];
  if (!dropped.any().item<bool>()) return out;  // one host sync per layer; the common case ends here
  forEachDroppedBranch(scores, alpha, dropped, layout,
                       [&](const Tensor& weight, const Tensor& P) { out = out + weight * torch::matmul(P, v); });
  return out;
}

torch::Tensor branchMixtureProbabilities(const torch::Tensor& scores, const torch::Tensor& alpha,
                                         const BranchMaskLayout& layout) {
  torch::NoGradGuard g;
  auto p = sharedPass(scores, alpha, layout.byKey, layout.byMask, layout.outside);
  auto P = p.E.mul_(p.W);
  if (p.dropped.any().item<bool>())
    forEachDroppedBranch(scores, alpha, p.dropped, layout,
                         [&](const Tensor& weight, const Tensor& Pk) { P.add_(weight * Pk); });
  return P;
}

torch::Tensor combinedMaskWeights(const torch::Tensor& alpha, const BranchMaskLayout& layout) {
  return overMasks(alpha, layout.byMask);
}

}  // namespace attnx
