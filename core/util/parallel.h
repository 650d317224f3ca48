// at::parallel_for whose workers see the calling thread's LibTorch thread-local state: the profiler
// above all, so that a --trace records a kernel's spans on every thread, not only the caller's.
// LibTorch 1.13's OpenMP parallel_for does not carry that state over (2.x's native pool does).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

namespace attnx {

template <class F>
void parallelFor(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const at::ThreadLocalState state;
  at::parallel_for(begin, end, grain, [&](int64_t chunkBegin, int64_t chunkEnd) {
    at::ThreadLocalStateGuard guard(state);
    f(chunkBegin, chunkEnd);
  });
}

// Runs work(task, scratch) for every task 0 .. cost.size() - 1 on LibTorch's intra-op threads (at
// most one per task). Each thread makes its scratch once with makeScratch() and takes the next task
// from a shared counter as it finishes one, the costliest first (ties in index order): the threads
// finish together however uneven the tasks (a causal kernel's last query tiles, a learned plan's
// full causal heads beside its windows), and the last tasks to start are short.
template <class MakeScratch, class Work>
void forEachTaskCostliestFirst(const std::vector<int64_t>& cost, const MakeScratch& makeScratch, const Work& work) {
  std::vector<int64_t> order(cost.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cost[a] > cost[b]; });
  const auto tasks = static_cast<int64_t>(order.size());
  std::atomic<int64_t> next{0};
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), tasks));
  parallelFor(0, threads, 1, [&](int64_t, int64_t) {
    auto scratch = makeScratch();
    for (int64_t taken = next++; taken < tasks; taken = next++) work(order[taken], scratch);
  });
}

}  // namespace attnx
