// The block-sparse layouts of one attention call flattened into plain arrays a GPU can read, and the
// per-query-row work of the forward pass written once for both sides: the CUDA kernel
// (sparse_attention_cuda.cu) runs attendTile/finishRow per thread over tiles staged in shared
// memory, and runFlatForward (sparse_flat.cpp) runs the same functions on the CPU, so the flattening
// and the row logic are tested against the CPU kernels on machines without a GPU.
// Torch-free and Qt-free so that nvcc compiles it without LibTorch's headers.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ATTNX_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define ATTNX_HOST_DEVICE inline
#endif

namespace attnx::sparse_flat {

// Mask bits per layout (MaskMembers is 64 bits wide).
constexpr int kMaxMaskBits = 64;

// Pointers are device pointers on the GPU, host pointers on the CPU. Tiles of head h, query block qb:
// tileOffsets[h * (numQueryBlocks + 1) + qb] .. [... + qb + 1]. Keys and query rows in the layout's
// own indices (query row r of the call is key rowBegin + r).
struct View {
  int32_t B = 0, H = 0, Tq = 0, Tk = 0, d = 0, rowBegin = 0, blockSize = 64, numQueryBlocks = 0;
  float scale = 1.f;
  int32_t soft = 0;                      // 1: weights from alphaOfBit; 0: support (uniform over attended pairs)
  const int32_t* headHasLayout = nullptr;  // H: 0 for a null head
  const int32_t* tileOffsets = nullptr;
  const int32_t* tileKeyBlock = nullptr;
  const int32_t* tilePattern = nullptr;    // -1: a full tile (tileMembers covers every causal pair)
  const int32_t* tileColBegin = nullptr;   // the columns that hold every attended pair of the tile
  const int32_t* tileColEnd = nullptr;
  const uint64_t* tileMembers = nullptr;
  const uint64_t* patterns = nullptr;      // blockSize * blockSize members per pattern, row-major
  const float* alphaOfBit = nullptr;       // H * kMaxMaskBits (soft)
};

// One query row's online softmax (FlashAttention's running max and sum) and its weighted sum of values.
template <int D>
struct RowState {
  float max = -INFINITY;
  float sum = 0.f;
  float acc[D];
};

template <int D>
ATTNX_HOST_DEVICE void startRow(RowState<D>& s) {
  s.max = -INFINITY;
  s.sum = 0.f;
  for (int c = 0; c < D; ++c) s.acc[c] = 0.f;
}

// W(members) = the sum of the head's alpha over the member bits.
ATTNX_HOST_DEVICE float maskWeight(const View& v, int h, uint64_t members) {
  float w = 0.f;
  const float* a = v.alphaOfBit + static_cast<int64_t>(h) * kMaxMaskBits;
  for (int b = 0; members != 0 && b < kMaxMaskBits; ++b, members >>= 1)
    if (members & 1u) w += a[b];
  return w;
}

// Adds tile `tile` to query row r of its block (key index queryKey) for head h. keys/values point at
// the tile's first key (column 0), rows `ld` floats apart.
template <int D>
ATTNX_HOST_DEVICE void attendTile(const View& v, int h, int tile, int r, int queryKey, const float* q,
                                  const float* keys, const float* values, int ld, RowState<D>& s) {
  const int bs = v.blockSize;
  const int k0 = v.tileKeyBlock[tile] * bs;
  const int pattern = v.tilePattern[tile];
  const int c1 = v.tileColEnd[tile];
  for (int j = v.tileColBegin[tile]; j < c1; ++j) {
    if (k0 + j > queryKey) break;  // above the diagonal (columns ascend)
    const uint64_t m = pattern < 0 ? v.tileMembers[tile]
                                   : v.patterns[(static_cast<int64_t>(pattern) * bs + r) * bs + j];
    if (m == 0) continue;
    float bias = 0.f;
    if (v.soft) {
      const float w = maskWeight(v, h, m);
      if (!(w > 0.f)) continue;
      bias = logf(w);
    }
    const float* k = keys + static_cast<int64_t>(j) * ld;
    float dot = 0.f;
    for (int c = 0; c < D; ++c) dot += q[c] * k[c];
    const float score = dot * v.scale + bias;
    const float* val = values + static_cast<int64_t>(j) * ld;
    if (score > s.max) {
      const float correction = expf(s.max - score);  // 0 on the first attended key
      s.sum = s.sum * correction + 1.f;
      for (int c = 0; c < D; ++c) s.acc[c] = s.acc[c] * correction + val[c];
      s.max = score;
    } else {
      const float p = expf(score - s.max);
      s.sum += p;
      for (int c = 0; c < D; ++c) s.acc[c] += p * val[c];
    }
  }
}

// Writes the row's output. A row that attended nothing: soft mask passes its own value through (the
// diagonal, as MaskMixtureAttention does), support mode writes zeros (an empty branch).
template <int D>
ATTNX_HOST_DEVICE void finishRow(const View& v, const RowState<D>& s, const float* ownValue, float* out) {
  if (s.sum > 0.f) {
    const float inv = 1.f / s.sum;
    for (int c = 0; c < D; ++c) out[c] = s.acc[c] * inv;
  } else {
    for (int c = 0; c < D; ++c) out[c] = v.soft ? ownValue[c] : 0.f;
  }
}

// The head dimensions the row functions are instantiated for (a thread keeps a query row and its
// accumulator in registers).
ATTNX_HOST_DEVICE bool supportedHeadDim(int d) { return d == 32 || d == 64 || d == 128; }

// The CUDA forward kernel (sparse_attention_cuda.cu): one thread block per (query block, head,
// batch), one thread per query row, each tile's keys and values staged in shared memory. q, k, vals,
// out: contiguous float32 device tensors (B, H, Tq|Tk, d); stream: a cudaStream_t. Returns nullptr,
// or the CUDA error's text.
const char* launchForward(const View& v, const float* q, const float* k, const float* vals, float* out, void* stream);

}  // namespace attnx::sparse_flat
