// A per-operator profile of some work, written as a Chrome trace (open it in chrome://tracing or
// https://ui.perfetto.dev): LibTorch's profiler records every ATen operator (and the spans our
// kernels label with RECORD_FUNCTION) with its thread, start and duration.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace attnx {

// Runs `work` with the profiler on and writes the trace to `path` (atomically, even if `work`
// throws: then the partial trace is written and the exception passes on). Returns the number of
// events recorded. Throws std::runtime_error when the file cannot be written.
int64_t writeOperatorTrace(const std::string& path, const std::function<void()>& work);

// Spans whose name starts with this mark a bench row ("row window256+sinks4 n=4096"); rows run one
// after another, so every span that starts inside a row's window is that row's work.
inline const std::string kTraceRowPrefix = "row ";

// The spans of a trace summed by name, and by row where rows are marked: "row X n=N / aten::bmm".
// Longest first. Spans of one name on several threads add up (two threads busy for 1 ms each count
// 2 ms), and nested spans count in their parent too. Throws std::runtime_error naming the file when
// it is not a Chrome trace.
struct TraceTotal {
  std::string name;
  int64_t spans = 0;
  double totalMs = 0;
  int threads = 0;  // distinct threads the spans ran on
};
std::vector<TraceTotal> traceTotals(const std::string& path);

}  // namespace attnx
