// Flattens a call's BlockLayouts for the CUDA kernel, runs the kernel's row functions on the CPU for
// tests, and (in a CUDA build) hands the arrays to the GPU and launches the kernel.
#include <map>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "core/cuda/sparse_attention_cuda.h"
#include "core/cuda/sparse_flat.h"
#include "core/masks/sparse_attention_problem.h"

#if defined(ATTNX_HAVE_CUDA)
#include <c10/cuda/CUDAStream.h>
#endif

namespace attnx {

namespace {

sparse_flat::View viewOf(const FlatSparseHeads& f, const sparse::Problem& p) {
  sparse_flat::View v;
  v.B = static_cast<int32_t>(p.B), v.H = static_cast<int32_t>(p.H), v.Tq = static_cast<int32_t>(p.Tq);
  v.Tk = static_cast<int32_t>(p.Tk), v.d = static_cast<int32_t>(p.d), v.rowBegin = static_cast<int32_t>(p.rowBegin);
  v.blockSize = f.blockSize, v.numQueryBlocks = f.numQueryBlocks;
  v.scale = p.scale;
  v.soft = f.soft ? 1 : 0;
  return v;
}

void pointAt(sparse_flat::View& v, const FlatSparseHeads& f) {
  v.headHasLayout = f.headHasLayout.data(), v.tileOffsets = f.tileOffsets.data();
  v.tileKeyBlock = f.tileKeyBlock.data(), v.tilePattern = f.tilePattern.data();
  v.tileColBegin = f.tileColBegin.data(), v.tileColEnd = f.tileColEnd.data();
  v.tileMembers = f.tileMembers.data(), v.patterns = f.patterns.data(), v.alphaOfBit = f.alphaOfBit.data();
}

void checkSizes(const sparse::Problem& p) {
  TORCH_CHECK(sparse_flat::supportedHeadDim(static_cast<int>(p.d)), "sparse attention (CUDA kernel): head dimension ",
              p.d, " is not supported (32, 64 or 128)");
  TORCH_CHECK(p.B * p.H * p.Tk * p.d < (int64_t{1} << 31) * 64, "sparse attention (CUDA kernel): tensors too large");
  TORCH_CHECK(p.Tk < (int64_t{1} << 30), "sparse attention (CUDA kernel): sequence too long");
}

FlatSparseHeads flatten(const sparse::Problem& p) {
  FlatSparseHeads f;
  f.blockSize = static_cast<int32_t>(p.blockSize);
  f.numQueryBlocks = static_cast<int32_t>(p.maxQueryBlocks);
  f.soft = p.soft;
  f.alphaOfBit.assign(p.H * sparse_flat::kMaxMaskBits, 0.f);
  std::map<const BlockLayout*, int32_t> patternBase;  // a layout shared by heads stores its patterns once
  const int64_t cells = p.blockSize * p.blockSize;
  for (int64_t h = 0; h < p.H; ++h) {
    const BlockLayout* layout = p.heads->layouts[h].get();
    f.headHasLayout.push_back(layout ? 1 : 0);
    for (int64_t qb = 0; qb <= p.maxQueryBlocks; ++qb) {
      const int64_t t = layout ? layout->tileStart[std::min(qb, layout->numQueryBlocks())] : 0;
      f.tileOffsets.push_back(static_cast<int32_t>(f.tileKeyBlock.size() + (layout ? t : 0)));
    }
    if (!layout) continue;
    if (p.soft) {
      const auto& alpha = p.weights[h].alphaOfBit();
      for (size_t b = 0; b < alpha.size(); ++b) f.alphaOfBit[h * sparse_flat::kMaxMaskBits + b] = alpha[b];
    }
    auto [it, added] = patternBase.emplace(layout, static_cast<int32_t>(f.patterns.size() / cells));
    if (added)
      for (const auto& pattern : layout->patterns) f.patterns.insert(f.patterns.end(), pattern.begin(), pattern.end());
    for (const auto& tile : layout->tiles) {
      const auto cols = sparse::tileColumns(p, *layout, tile);
      f.tileKeyBlock.push_back(static_cast<int32_t>(tile.keyBlock));
      f.tilePattern.push_back(tile.full ? -1 : it->second + tile.pattern);
      f.tileMembers.push_back(tile.members);
      f.tileColBegin.push_back(static_cast<int32_t>(cols.begin));
      f.tileColEnd.push_back(static_cast<int32_t>(cols.end));
    }
  }
  return f;
}

template <int D>
void runRows(const sparse_flat::View& v, const float* q, const float* k, const float* vals, float* out) {
  sparse_flat::RowState<D> state;
  for (int b = 0; b < v.B; ++b)
    for (int h = 0; h < v.H; ++h) {
      const int64_t bh = static_cast<int64_t>(b) * v.H + h;
      const int32_t* offsets = v.tileOffsets + static_cast<int64_t>(h) * (v.numQueryBlocks + 1);
      for (int row = 0; row < v.Tq; ++row) {
        const int queryKey = v.rowBegin + row, qb = row / v.blockSize, r = row % v.blockSize;
        sparse_flat::startRow(state);
        if (v.headHasLayout[h])
          for (int t = offsets[qb]; t < offsets[qb + 1]; ++t) {
            const int64_t k0 = static_cast<int64_t>(v.tileKeyBlock[t]) * v.blockSize;
            sparse_flat::attendTile<D>(v, h, t, r, queryKey, q + (bh * v.Tq + row) * D, k + (bh * v.Tk + k0) * D,
                                       vals + (bh * v.Tk + k0) * D, D, state);
          }
        sparse_flat::finishRow<D>(v, state, vals + (bh * v.Tk + queryKey) * D, out + (bh * v.Tq + row) * D);
      }
    }
}

}  // namespace

FlatSparseHeads flattenSparseHeads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const SparseHeads& heads, const torch::Tensor& alpha) {
  return flatten(sparse::makeProblem(q, k, v, heads, alpha));
}

torch::Tensor flatSparseAttentionCpu(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const SparseHeads& heads, const torch::Tensor& alpha) {
  TORCH_CHECK(q.device().is_cpu(), "flatSparseAttentionCpu: CPU tensors");
  const auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const auto p = sparse::makeProblem(qc, kc, vc, heads, alpha);
  checkSizes(p);
  const auto f = flatten(p);
  auto view = viewOf(f, p);
  pointAt(view, f);
  auto out = torch::empty({p.B, p.H, p.Tq, p.d}, qc.options());
  const float *qd = qc.data_ptr<float>(), *kd = kc.data_ptr<float>(), *vd = vc.data_ptr<float>();
  float* od = out.data_ptr<float>();
  switch (p.d) {
    case 32: runRows<32>(view, qd, kd, vd, od); break;
    case 64: runRows<64>(view, qd, kd, vd, od); break;
    default: runRows<128>(view, qd, kd, vd, od); break;
  }
  return out;
}

#if defined(ATTNX_HAVE_CUDA)

bool cudaSparseAttentionBuilt() { return true; }

torch::Tensor blockSparseAttentionCuda(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const SparseHeads& heads, const torch::Tensor& alpha) {
  TORCH_CHECK(q.is_cuda(), "blockSparseAttentionCuda: q, k, v must be CUDA tensors");
  const auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const auto p = sparse::makeProblem(qc, kc, vc, heads, alpha);
  checkSizes(p);
  const auto f = flatten(p);
  auto view = viewOf(f, p);
  // The arrays go to the GPU as tensors, so they live as long as this call and on q's device.
  const auto device = q.device();
  auto toDevice32 = [&](const std::vector<int32_t>& a) {
    return torch::tensor(a.empty() ? std::vector<int32_t>{0} : a, torch::kInt32).to(device);
  };
  auto toDevice64 = [&](const std::vector<uint64_t>& a) {
    std::vector<int64_t> bits(a.begin(), a.end());  // same bits; torch has no uint64
    if (bits.empty()) bits.push_back(0);
    return torch::tensor(bits, torch::kInt64).to(device);
  };
  const auto headHasLayout = toDevice32(f.headHasLayout), tileOffsets = toDevice32(f.tileOffsets),
             tileKeyBlock = toDevice32(f.tileKeyBlock), tilePattern = toDevice32(f.tilePattern),
             tileColBegin = toDevice32(f.tileColBegin), tileColEnd = toDevice32(f.tileColEnd);
  const auto tileMembers = toDevice64(f.tileMembers), patterns = toDevice64(f.patterns);
  const auto alphaOfBit = torch::tensor(f.alphaOfBit, torch::kFloat32).to(device);
  view.headHasLayout = headHasLayout.data_ptr<int32_t>(), view.tileOffsets = tileOffsets.data_ptr<int32_t>();
  view.tileKeyBlock = tileKeyBlock.data_ptr<int32_t>(), view.tilePattern = tilePattern.data_ptr<int32_t>();
  view.tileColBegin = tileColBegin.data_ptr<int32_t>(), view.tileColEnd = tileColEnd.data_ptr<int32_t>();
  view.tileMembers = reinterpret_cast<const uint64_t*>(tileMembers.data_ptr<int64_t>());
  view.patterns = reinterpret_cast<const uint64_t*>(patterns.data_ptr<int64_t>());
  view.alphaOfBit = alphaOfBit.data_ptr<float>();
  auto out = torch::empty({p.B, p.H, p.Tq, p.d}, qc.options());
  const char* error = sparse_flat::launchForward(view, qc.data_ptr<float>(), kc.data_ptr<float>(), vc.data_ptr<float>(),
                                                 out.data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream());
  if (error) throw std::runtime_error(std::string("sparse attention (CUDA kernel): ") + error);
  return out;
}

#else

bool cudaSparseAttentionBuilt() { return false; }

torch::Tensor blockSparseAttentionCuda(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                       const SparseHeads&, const torch::Tensor&) {
  throw std::runtime_error("this build of attnx has no CUDA kernel (configure with a CUDA compiler and a CUDA LibTorch)");
}

#endif

}  // namespace attnx
