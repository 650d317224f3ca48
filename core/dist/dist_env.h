// Where this process stands in a data-parallel job, read the way torchrun, Slurm (with the
// variables exported) or a plain shell loop tell it: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT. Torch-free, so the parsing and the split of a batch are tested in isolation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnx {

struct DistEnv {
  int rank = 0;
  int worldSize = 1;  // 1: a single process, no process group (WORLD_SIZE unset or 1)
  int localRank = 0;  // the GPU this rank uses on its machine (cuda:LOCAL_RANK)
  bool localRankGiven = false;
  std::string masterAddr;  // rank 0's host: it serves the rendezvous store
  int masterPort = 0;

  bool distributed() const { return worldSize > 1; }
  std::string describe() const;  // "rank 1 of 2 (local rank 1, store 127.0.0.1:29500)"
};

// Reads the variables through `lookup` (getenv in attnx-cli; a map in tests). Throws
// std::runtime_error naming the variable when one is missing or malformed, never guesses: a rank
// joining the wrong job would hang or corrupt the run.
DistEnv readDistEnv(const std::function<const char*(const char*)>& lookup);
DistEnv distEnvFromEnvironment();

// [begin, end) of rank's contiguous share of n items: equal shares, the first n % world ranks one
// more. Used for validation windows, which need not divide evenly.
std::pair<int64_t, int64_t> shareOf(int64_t n, int rank, int worldSize);

// Rank's share of a step's global batch: the windows a one-process run draws for the step, cut in
// worldSize equal contiguous parts, so the gradients averaged over ranks are the one-process mean.
// Throws std::invalid_argument when the batch does not divide by worldSize.
std::vector<std::vector<int64_t>> localShare(const std::vector<std::vector<int64_t>>& batch, int rank, int worldSize);

}  // namespace attnx
