// at::parallel_for whose workers see the calling thread's LibTorch thread-local state: the profiler
// above all, so that a --trace records a kernel's spans on every thread, not only the caller's.
// LibTorch 1.13's OpenMP parallel_for does not carry that state over (2.x's native pool does).
#pragma once

#include <algorithm>
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

// Task indices by decreasing work (ties in index order): handed out one at a time from a shared
// counter, the heaviest first, they keep the threads busy together however uneven the tasks (a
// learned plan's full causal heads beside its windows), and the last tasks to start are short.
inline std::vector<int64_t> heaviestFirst(const std::vector<int64_t>& work) {
  std::vector<int64_t> order(work.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return work[a] > work[b]; });
  return order;
}

// Threads for `tasks` tasks taken from a shared counter: LibTorch's intra-op setting, at most one per task.
inline int64_t workerCount(int64_t tasks) { return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), tasks)); }

}  // namespace attnx
