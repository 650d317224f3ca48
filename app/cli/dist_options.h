// attnx-cli's data-parallel launch (distill, pretrain): --dist-backend, --dist-timeout and the
// torchrun variables. WORLD_SIZE unset or 1 leaves a command exactly as it was: no process group.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

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
  // Stopped before `steps`: this process's Ctrl-C (localStop), or, in a group, any rank's (the ranks
  // stop together).
  bool stoppedEarly(int64_t step, int64_t steps, bool localStop) const { return group ? step < steps : localStop; }
  // Runs `train`; an exception is reported to the peers first, so that their error quotes it.
  template <class Train>
  void runReportingFailure(Train&& train) const {
    try {
      train();
    } catch (const std::exception& e) {
      if (group) group->reportFailure(e.what());
      throw;
    }
  }
};

// A data-parallel run's all-reduce time as the training commands report it: each step's in its
// progress line, the mean per step at the end (JSON fields, or one line of text). Nothing for one
// process.
class DistStepTimes {
 public:
  explicit DistStepTimes(const DistJob& job) : job_(job) {}
  // Adds a step's times; returns the text its progress line ends with ("" for one process).
  std::string add(double allReduceSeconds, double peerWaitSeconds);
  // The means over `stepsRun` steps: JSON fields when j is given, else a line on stdout.
  void report(int64_t stepsRun, nlohmann::json* j) const;

 private:
  const DistJob& job_;
  double allReduceSeconds_ = 0, waitSeconds_ = 0;
};

// Selects the device (--device, --threads) and, when launched with WORLD_SIZE > 1, joins the process
// group; `tool` prefixes the one line it says on stderr ("distill: rank 1 of 2 joined ...").
DistJob joinIfLaunched(const GlobalOptions& g, const DistOptions& d, const std::string& tool);

}  // namespace attnx::cli
