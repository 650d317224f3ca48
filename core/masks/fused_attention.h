// Fused causal attention on the CPU, flash-style: query-row tiles x key tiles with an online
// softmax (running row max and sum), so no (Tq, Tk) tensor is ever made. The honest dense
// baseline of `attnx-cli bench --attention-only` ("fused-dense": what a user gets from a fused
// kernel, not LibTorch's unfused matmul-softmax-matmul), and the block-sparse kernel's path for
// heads whose plan attends every causal pair alike. Forward only.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace attnx {

namespace tile {
class TransposedRows;
}

// q: (B, H, Tq, d), k, v: (B, H, Tk, d), float32 on the CPU, Tq <= Tk. Row i of q is position
// Tk - Tq + i (the last Tq positions, as with a KV cache) and attends keys 0 .. Tk - Tq + i:
// softmax(q k^T / sqrt(d) + causal mask) v, (B, H, Tq, d). Parallel over (batch, head, query tile)
// on LibTorch's intra-op threads, heaviest tiles first. No gradient: refuses inputs that need one.
torch::Tensor fusedCausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int64_t queryTile = 64, int64_t keyTile = 64);

namespace fused {

// The scratch one thread reuses from tile to tile.
struct TileScratch {
  std::vector<float> scores, rowMax, rowSum;
  TileScratch(int64_t queryTile, int64_t keyTile) : scores(queryTile * keyTile), rowMax(queryTile), rowSum(queryTile) {}
};

// R query rows (R <= the scratch's queryTile) at positions firstPos, firstPos + 1, ... of head bh
// of `keys` (whose blocks are the key tiles): o (R x d) = softmax(scale q k^T, causal) v, and,
// where lse is given, lse[r] = log sum_j exp(scale q_r k_j) + lseShift.
void causalQueryTile(int64_t R, int64_t firstPos, int64_t d, float scale, const float* q, const tile::TransposedRows& keys,
                     int64_t bh, const float* v, float* o, float* lse, float lseShift, TileScratch& scratch);

}  // namespace fused

}  // namespace attnx
