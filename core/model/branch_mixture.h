// The branch mixture of method.md ("Two ways to combine", 2) at the cost of about one softmax:
//   O_i = sum_k alpha_k(i) softmax_{j in supp_k(i)}(S_ij) V_j
// Instead of K masked softmaxes (and K (B, H, Tq, Tk) tensors kept by autograd), one shared
//   E_ij = exp(S_ij - c_i),  c_i = max of S_ij over the keys some mask allows,
//   Z_k(i) = sum_j E_ij m_k(i, j)                 (a contraction over j, batched over i)
//   W'_ij = sum_k (alpha_k(i) / Z_k(i)) m_k(i, j) (a contraction over k, batched over i)
//   O = (E * W') V
// A custom autograd Function keeps only E (plus (B, H, Tq, K) row statistics) for backward and
// recomputes W' there; its gradients are written out in branch_mixture.cpp.
//
// Underflow: with a row max shared by every branch, a branch whose support holds only scores far
// below c_i has E ~ 0 on its support (exp(-100) underflows fp32), so Z_k(i) -> 0 and
// alpha/Z_k becomes inf * 0. A (row, branch) with Z_k(i) below a threshold (sqrt of the dtype's
// smallest normal number, so the branch's largest E is still a normal number with full relative
// precision whenever it is used) is left out of the shared path and computed by its own masked
// softmax with its own max instead. Rows like that are rare (score gaps of ~40 in fp32, ~350 in
// fp64), so the extra pass only runs when some row needs it.
#pragma once

#include <torch/types.h>

namespace attnx {

// The bank's masks for one (Tq, Tk) in the layouts the contractions use, in the scores' dtype.
struct BranchMaskLayout {
  torch::Tensor masks;    // (K, Tq, Tk) bool, as MaskMixtureAttention::masks
  torch::Tensor byKey;    // (Tq, Tk, K): Z = E . M, batched over the query i
  torch::Tensor byMask;   // (Tq, K, Tk): W' = coef . M, batched over the query i
  torch::Tensor outside;  // (Tq, Tk) bool: keys no mask allows (never attended)
};

// masks: (K, Tq, Tk) bool (every row of every mask holds at least the diagonal).
BranchMaskLayout makeBranchMaskLayout(const torch::Tensor& masks, torch::Dtype dtype);

// scores: (B, H, Tq, Tk); alpha: (B, H, Tq, K), per query (a static alpha may be an expanded
// view); v: (B, H, Tk, d). Returns (B, H, Tq, d), differentiable with respect to scores, alpha and v
// (first derivatives only).
torch::Tensor branchMixture(const torch::Tensor& scores, const torch::Tensor& alpha, const torch::Tensor& v,
                            const BranchMaskLayout& layout);

// sum_k alpha_k(i) P_k(i, j): (B, H, Tq, Tk), without gradient.
torch::Tensor branchMixtureProbabilities(const torch::Tensor& scores, const torch::Tensor& alpha,
                                         const BranchMaskLayout& layout);

// W_ij = sum_k alpha_k(i) m_k(i, j) for per-query alpha (B, H, Tq, K): (B, H, Tq, Tk).
torch::Tensor combinedMaskWeights(const torch::Tensor& alpha, const BranchMaskLayout& layout);

// Z_k(i) below this is handled by the branch's own softmax (see above).
double branchUnderflowThreshold(torch::Dtype dtype);

}  // namespace attnx
