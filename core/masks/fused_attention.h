// Fused causal attention on the CPU, flash-style: query-row tiles x key tiles with an online
// softmax (running row max and sum), so no (Tq, Tk) tensor is ever made. The honest dense
// baseline of `attnx-cli bench --attention-only` ("fused-dense": what a user gets from a fused
// kernel, not LibTorch's unfused matmul-softmax-matmul). Forward only.
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace attnx {

// q: (B, H, Tq, d), k, v: (B, H, Tk, d), float32 on the CPU, Tq <= Tk. Row i of q is position
// Tk - Tq + i (the last Tq positions, as with a KV cache) and attends keys 0 .. Tk - Tq + i:
// softmax(q k^T / sqrt(d) + causal mask) v, (B, H, Tq, d). Parallel over (batch, head, query tile)
// on LibTorch's intra-op threads, heaviest tiles first. No gradient: refuses inputs that need one.
torch::Tensor fusedCausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int64_t queryTile = 64, int64_t keyTile = 64);

}  // namespace attnx
