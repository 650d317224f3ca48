// A data-parallel process group on torch.distributed's c10d (architecture.md, "Scaling out"): the
// TCPStore rank 0 serves for the rendezvous, and ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA,
// when LibTorch was built with it). Nothing of our own goes over the wire.
//
// Every collective either completes or throws CollectiveFailed within the timeout, naming this rank
// and, after a short census through the store, the rank that went away: a job never hangs silently.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/dist/dist_env.h"

namespace attnx {

// A collective (or the rendezvous) failed: a peer died, stopped answering, or never came up.
struct CollectiveFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProcessGroupOptions {
  std::string backend;  // "gloo" or "nccl"
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // rendezvous and every collective
};

class ProcessGroup {
 public:
  // Joins the job `env` describes (env.distributed() must be true): rank 0 serves the store at
  // MASTER_ADDR:MASTER_PORT and waits for the others; every rank then builds the c10d group. Throws
  // CollectiveFailed when the peers do not all arrive within options.timeout, std::runtime_error for
  // a backend this build lacks.
  static std::shared_ptr<ProcessGroup> join(const DistEnv& env, const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  const std::string& backend() const;
  const DistEnv& env() const;

  // Sums each tensor over the ranks in place. Tensors of one dtype are flattened into buckets of at
  // most 32 MiB, one all-reduce each, so a model's thousands of gradients cost a few calls.
  void sumInPlace(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // Copies rank `root`'s tensors into everyone's, in place.
  void broadcastInPlace(const std::vector<torch::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);
  // Rank 0's `text` on every rank (through the store): the run's settings, so that all ranks train
  // the same run even when only rank 0 can read its run folder. `key` names one exchange.
  std::string shareFromRankZero(const std::string& key, const std::string& text);

  // Best effort, before a rank leaves on an error of its own: the peers' census quotes it.
  void reportFailure(const std::string& message) noexcept;

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  [[noreturn]] void fail(const std::string& what, const std::exception& cause);
  std::unique_ptr<Impl> d_;
};

}  // namespace attnx
