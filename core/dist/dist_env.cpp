#include "core/dist/dist_env.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace attnx {
namespace {

// A whole decimal integer in [lo, hi], or a message naming the variable.
int readInt(const char* name, const char* text, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw std::runtime_error(std::string(name) + "=\"" + text + "\" must be an integer in [" + std::to_string(lo) +
                             ", " + std::to_string(hi) + "]");
  return static_cast<int>(v);
}

}  // namespace

std::string DistEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(worldSize) + " (local rank " +
         std::to_string(localRank) + ", store " + masterAddr + ":" + std::to_string(masterPort) + ")";
}

DistEnv readDistEnv(const std::function<const char*(const char*)>& lookup) {
  DistEnv e;
  const char* world = lookup("WORLD_SIZE");
  if (!world || *world == '\0') return e;
  e.worldSize = readInt("WORLD_SIZE", world, 1, 1 << 20);
  if (e.worldSize == 1) return e;  // one process: today's path, the other variables are not needed
  auto need = [&](const char* name, const char* what) {
    const char* v = lookup(name);
    if (!v || *v == '\0')
      throw std::runtime_error("WORLD_SIZE=" + std::to_string(e.worldSize) + " but " + name + " is not set (" + what +
                               "); launch with torchrun or export RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
    return v;
  };
  e.rank = readInt("RANK", need("RANK", "this process's rank, 0 to WORLD_SIZE-1"), 0, e.worldSize - 1);
  e.masterAddr = need("MASTER_ADDR", "the address of rank 0's host");
  e.masterPort = readInt("MASTER_PORT", need("MASTER_PORT", "a free TCP port on rank 0's host"), 1, 65535);
  if (const char* local = lookup("LOCAL_RANK"); local && *local != '\0') {
    e.localRank = readInt("LOCAL_RANK", local, 0, 1 << 16);
    e.localRankGiven = true;
  }
  return e;
}

DistEnv distEnvFromEnvironment() {
  return readDistEnv([](const char* name) { return static_cast<const char*>(std::getenv(name)); });
}

std::pair<int64_t, int64_t> shareOf(int64_t n, int rank, int worldSize) {
  const int64_t base = n / worldSize, extra = n % worldSize;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<std::vector<int64_t>> localShare(const std::vector<std::vector<int64_t>>& batch, int rank, int worldSize) {
  const auto n = static_cast<int64_t>(batch.size());
  if (n % worldSize != 0)
    throw std::invalid_argument("a batch of " + std::to_string(n) + " windows does not divide by WORLD_SIZE=" +
                                std::to_string(worldSize) + "; --batch-size is the global batch and must be a multiple of it");
  const auto [begin, end] = shareOf(n, rank, worldSize);
  return {batch.begin() + begin, batch.begin() + end};
}

}  // namespace attnx
