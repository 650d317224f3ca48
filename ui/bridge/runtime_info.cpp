#include "ui/bridge/runtime_info.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

namespace attnx::ui {

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  const auto cudaDevices = torch::cuda::device_count();
  info.device = cudaDevices > 0 ? QStringLiteral("CUDA (%1 devices)").arg(cudaDevices) : QStringLiteral("CPU");
  info.threads = at::get_num_threads();
  return info;
}

}  // namespace attnx::ui
