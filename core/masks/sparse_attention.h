// Block-sparse attention on the CPU over compiled BlockLayouts: fp32, no (Tq, Tk) tensor is ever
// allocated. Two kernels compute the same thing: the fast one (sparse_attention_fast.cpp: a register
// micro-kernel product per 64x64 tile, an exact softmax over each query block's attended columns) and the reference one
// (sparse_attention_reference.cpp: plain tile loops with an online softmax). Both keep the row
// log-sum-exp for the backward pass, which recomputes the probabilities tile by tile.
// Differentiable (a torch::autograd::Function) in q, k, v and the mask weights alpha.
#pragma once

#include <memory>
#include <vector>

#include <torch/types.h>

#include "core/masks/block_layout.h"

namespace attnx {

// What the kernel attends to, per head of the input.
struct SparseHeads {
  // One entry per head; null: the head attends nothing (see blockSparseAttention for what it outputs).
  // Every non-null layout has the same n and rowBegin: n = Tk, rowBegin = Tk - Tq.
  std::vector<std::shared_ptr<const BlockLayout>> layouts;
  // Soft mask only: per head, the alpha column read by each mask bit of its layout.
  std::vector<std::vector<int64_t>> columns;
};

// q: (B, H, Tq, d), k, v: (B, H, Tk, d), float32 on the CPU. Returns (B, H, Tq, d).
//
// Soft mask (alpha defined, (H, K)): P = softmax(q k^T / sqrt(d) + log W) over the attended pairs,
//   W_ij = sum of alpha[h][columns[h][b]] over the mask bits b covering (i, j). Pairs with W = 0 are
//   not attended; a row with none left (or a null head) attends only its own key (the diagonal), as
//   MaskMixtureAttention does. Gradients flow to q, k, v and alpha.
// Support (alpha undefined): P uniform over the support (softmax of the scores over the attended
//   pairs), the branch of a branch mixture; a null head outputs zeros. Gradients to q, k, v.
enum class SparseKernel {
  Fast,       // the default
  Reference,  // for tests, and to check the fast one against
};

torch::Tensor blockSparseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   std::shared_ptr<const SparseHeads> heads, const torch::Tensor& alpha = {},
                                   SparseKernel kernel = SparseKernel::Fast);

}  // namespace attnx
