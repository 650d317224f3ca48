#include "core/bench/op_trace.h"

#include <sstream>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/io/atomic_file.h"

namespace attnx {

int64_t writeOperatorTrace(const std::string& path, const std::function<void()>& work) {
  std::ostringstream trace;
  std::exception_ptr failure;
  {
    // LibTorch 1.13's legacy profiler: its guard writes Chrome-trace JSON to the stream when it ends.
    torch::autograd::profiler::RecordProfile guard(trace);
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  const std::string text = trace.str();
  writeFileAtomically(path, text);
  if (failure) std::rethrow_exception(failure);
  int64_t events = 0;
  for (size_t at = text.find("\"ph\""); at != std::string::npos; at = text.find("\"ph\"", at + 1)) ++events;
  return events;
}

}  // namespace attnx
