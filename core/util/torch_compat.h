// The one place where LibTorch 1.13 (Debian) and 2.x (CUDA builds) differ in APIs attnx uses.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

namespace attnx::compat {

// Key of a parameter in torch::optim::Optimizer::state(): a string in 1.x, the TensorImpl* in 2.x.
inline auto optimizerStateKey(const torch::Tensor& p) {
#if TORCH_VERSION_MAJOR >= 2
  return static_cast<void*>(p.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(p.unsafeGetTensorImpl());
#endif
}

}  // namespace attnx::compat

// c10::Allocator::allocate is const in 1.x and not in 2.x: an allocator of ours declares
// `c10::DataPtr allocate(size_t n) ATTNX_ALLOCATE_CONST override`.
#if TORCH_VERSION_MAJOR >= 2
#define ATTNX_ALLOCATE_CONST
#else
#define ATTNX_ALLOCATE_CONST const
#endif
