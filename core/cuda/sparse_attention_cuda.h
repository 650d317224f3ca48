// Block-sparse attention forward on a CUDA GPU (core/cuda/sparse_attention_cuda.cu), and the same
// row logic run on the CPU from the same flattened layouts, so that everything but the launch itself
// is tested on machines without a GPU. Same semantics as blockSparseAttention's forward
// (core/masks/sparse_attention.h); no autograd: training stays on the CPU kernels.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "core/masks/sparse_attention.h"

namespace attnx {

// A call's layouts as the arrays of sparse_flat::View (host memory). Tiles are stored per head, in
// query-block order; patterns once per distinct layout.
struct FlatSparseHeads {
  int32_t blockSize = 64, numQueryBlocks = 0;
  bool soft = false;
  std::vector<int32_t> headHasLayout, tileOffsets, tileKeyBlock, tilePattern, tileColBegin, tileColEnd;
  std::vector<uint64_t> tileMembers, patterns;
  std::vector<float> alphaOfBit;  // H x 64
};

// Checks the shapes as blockSparseAttention does (q on any device; alpha read on the host).
FlatSparseHeads flattenSparseHeads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const SparseHeads& heads, const torch::Tensor& alpha = {});

// The CUDA kernel's per-row functions over the flattened layouts, one row at a time on the CPU: slow,
// for tests (float32 CPU tensors; head dimension 32, 64 or 128).
torch::Tensor flatSparseAttentionCpu(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const SparseHeads& heads, const torch::Tensor& alpha = {});

// True when this build has the CUDA kernel (a CUDA compiler and a CUDA LibTorch were found).
bool cudaSparseAttentionBuilt();

// q, k, v: float32 CUDA tensors (B, H, Tq, d) and (B, H, Tk, d), d = 32, 64 or 128. Throws
// std::runtime_error when the build has no CUDA kernel, or with the CUDA error.
torch::Tensor blockSparseAttentionCuda(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const SparseHeads& heads, const torch::Tensor& alpha = {});

}  // namespace attnx
