// attnx-cli's data-parallel launch (distill, pretrain): --dist-backend, --dist-timeout and the
// torchrun variables. WORLD_SIZE unset or 1 leaves a command exactly as it was: no process group.
#pragma once

#include <memory>
#include <string>

#include "app/cli/cli_common.h"
#include "core/dist/process_group.h"

namespace attnx::cli {

struct DistOptions {
  std::string backend;   // "": nccl on CUDA, gloo on the CPU
  double timeoutSeconds = 300;
};

void addDistOptions(CLI::App* sub, DistOptions& d);

struct DistJob {
  std::shared_ptr<ProcessGroup> group;  // null: one process
  torch::Device device = torch::kCPU;   // cuda:LOCAL_RANK for a data-parallel CUDA run
  int rank() const { return group ? group->rank() : 0; }
  int worldSize() const { return group ? group->size() : 1; }
  std::string backend() const { return group ? group->backend() : std::string(); }
};

// Selects the device (--device, --threads) and, when launched with WORLD_SIZE > 1, joins the process
// group; `tool` prefixes the one line it says on stderr ("distill: rank 1 of 2 joined ...").
DistJob joinIfLaunched(const GlobalOptions& g, const DistOptions& d, const std::string& tool);

}  // namespace attnx::cli
