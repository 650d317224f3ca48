#include "app/cli/dist_options.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace attnx::cli {

void addDistOptions(CLI::App* sub, DistOptions& d) {
  sub->add_option("--dist-backend", d.backend,
                  "Data-parallel runs (WORLD_SIZE > 1, as torchrun sets): gloo or nccl (default: nccl on CUDA, gloo on the CPU)")
      ->check(CLI::IsMember({"gloo", "nccl"}));
  sub->add_option("--dist-timeout", d.timeoutSeconds,
                  "Seconds a rank waits for its peers (rendezvous and each collective) before it stops with an error")
      ->capture_default_str()->check(Positive);
}

DistJob joinIfLaunched(const GlobalOptions& g, const DistOptions& d, const std::string& tool) {
  DistJob job;
  job.device = selectDevice(g);
  const DistEnv env = distEnvFromEnvironment();
  if (!env.distributed()) return job;
  if (job.device.is_cuda()) {
    // One GPU per rank: without LOCAL_RANK every rank of a machine would land on cuda:0.
    if (!env.localRankGiven)
      throw std::runtime_error("--device cuda with WORLD_SIZE=" + std::to_string(env.worldSize) +
                               ": set LOCAL_RANK (the rank's GPU on its machine; torchrun sets it)");
    job.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.localRank));
  }
  ProcessGroupOptions o;
  o.backend = d.backend.empty() ? (job.device.is_cuda() ? "nccl" : "gloo") : d.backend;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(d.timeoutSeconds * 1000));
  job.group = ProcessGroup::join(env, o);
  std::cerr << tool << ": " << env.describe() << " joined (" << o.backend << ", " << job.device.str() << ")\n";
  return job;
}

std::string DistStepTimes::add(double allReduceSeconds, double peerWaitSeconds) {
  allReduceSeconds_ += allReduceSeconds;
  waitSeconds_ += peerWaitSeconds;
  if (!job_.group) return {};
  char text[96];
  std::snprintf(text, sizeof text, "  all-reduce %.1f ms (waited %.0f ms)", allReduceSeconds * 1000, peerWaitSeconds * 1000);
  return text;
}

void DistStepTimes::report(int64_t stepsRun, nlohmann::json* j) const {
  if (!job_.group) return;
  const double steps = static_cast<double>(std::max<int64_t>(1, stepsRun));
  const double reduceMs = allReduceSeconds_ * 1000 / steps, waitMs = waitSeconds_ * 1000 / steps;
  if (j) {
    (*j)["world_size"] = job_.worldSize();
    (*j)["dist_backend"] = job_.backend();
    (*j)["all_reduce_ms_per_step"] = reduceMs;
    (*j)["peer_wait_ms_per_step"] = waitMs;
    return;
  }
  std::printf("%d ranks (%s): all-reduce %.1f ms per step on average, %.1f ms waiting for the slowest rank\n",
              job_.worldSize(), job_.backend().c_str(), reduceMs, waitMs);
}

}  // namespace attnx::cli
