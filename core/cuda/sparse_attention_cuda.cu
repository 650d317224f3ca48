// The block-sparse attention forward pass on a CUDA GPU: one thread block per (query block, head,
// batch) and one thread per query row. For each of the block's tiles the threads stage the tile's keys
// and values in shared memory together, then every thread runs the shared row function
// (sparse_flat.h: masks, weights, online softmax) over them. fp32 throughout, no (Tq, Tk) tensor.
// Built only when CUDA and a CUDA LibTorch are found (cmake/Dependencies.cmake).
#include <cuda_runtime.h>

#include "core/cuda/sparse_flat.h"

namespace attnx::sparse_flat {

namespace {

template <int D>
__global__ void blockSparseForwardKernel(View v, const float* __restrict__ q, const float* __restrict__ k,
                                         const float* __restrict__ vals, float* __restrict__ out) {
  extern __shared__ float shared[];
  float* keys = shared;                      // blockSize x D
  float* values = shared + v.blockSize * D;  // blockSize x D
  const int qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z, r = threadIdx.x;
  const int64_t bh = static_cast<int64_t>(b) * v.H + h;
  const int queryKey = v.rowBegin + qb * v.blockSize + r;  // this thread's row, as a key index
  const bool active = r < v.blockSize && queryKey < v.Tk;
  const int64_t qRow = bh * v.Tq + (queryKey - v.rowBegin);

  float qReg[D];
  RowState<D> state;
  startRow(state);
  if (active)
    for (int c = 0; c < D; ++c) qReg[c] = q[qRow * D + c];

  if (v.headHasLayout[h]) {
    const int32_t* offsets = v.tileOffsets + static_cast<int64_t>(h) * (v.numQueryBlocks + 1);
    for (int t = offsets[qb]; t < offsets[qb + 1]; ++t) {  // the same tiles for every thread of the block
      const int k0 = v.tileKeyBlock[t] * v.blockSize;
      const int cols = min(v.blockSize, v.Tk - k0);
      const float* kTile = k + (bh * v.Tk + k0) * D;
      const float* vTile = vals + (bh * v.Tk + k0) * D;
      __syncthreads();  // the previous tile is no longer read
      for (int i = threadIdx.x; i < cols * D; i += blockDim.x) {
        keys[i] = kTile[i];
        values[i] = vTile[i];
      }
      __syncthreads();
      if (active) attendTile<D>(v, h, t, r, queryKey, qReg, keys, values, D, state);
    }
  }
  if (active) finishRow<D>(v, state, vals + (bh * v.Tk + queryKey) * D, out + qRow * D);
}

template <int D>
const char* launch(const View& v, const float* q, const float* k, const float* vals, float* out, cudaStream_t stream) {
  const size_t sharedBytes = 2u * static_cast<size_t>(v.blockSize) * D * sizeof(float);
  if (sharedBytes > 48u * 1024u) {  // beyond the default: opt in (Volta and later allow more)
    const cudaError_t e = cudaFuncSetAttribute(blockSparseForwardKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(sharedBytes));
    if (e != cudaSuccess) return cudaGetErrorString(e);
  }
  const dim3 grid(v.numQueryBlocks, v.H, v.B);
  blockSparseForwardKernel<D><<<grid, v.blockSize, sharedBytes, stream>>>(v, q, k, vals, out);
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace

const char* launchForward(const View& v, const float* q, const float* k, const float* vals, float* out, void* stream) {
  if (v.blockSize < 1 || v.blockSize > 1024) return "block size must be 1..1024 (one thread per row)";
  if (v.numQueryBlocks == 0 || v.B == 0 || v.H == 0) return nullptr;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (v.d) {
    case 32: return launch<32>(v, q, k, vals, out, s);
    case 64: return launch<64>(v, q, k, vals, out, s);
    case 128: return launch<128>(v, q, k, vals, out, s);
    default: return "head dimension not supported by the CUDA kernel (32, 64 or 128)";
  }
}

}  // namespace attnx::sparse_flat
