// A per-operator profile of some work, written as a Chrome trace (open it in chrome://tracing or
// https://ui.perfetto.dev): LibTorch's profiler records every ATen operator (and the spans our
// kernels label with RECORD_FUNCTION) with its thread, start and duration.
#pragma once

#include <functional>
#include <string>

namespace attnx {

// Runs `work` with the profiler on and writes the trace to `path` (atomically, even if `work`
// throws: then the partial trace is written and the exception passes on). Returns the number of
// events recorded. Throws std::runtime_error when the file cannot be written.
int64_t writeOperatorTrace(const std::string& path, const std::function<void()>& work);

}  // namespace attnx
