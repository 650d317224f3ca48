// Named spans in a `--trace` (LibTorch's profiler, core/bench/op_trace.h): the phases of a CPU
// attention kernel's unit of work (scores, softmax, P V, ...) and the bench's rows, so that a user
// sees where a call's time goes. When no profiler listens a span costs one check.
#pragma once

#include <optional>
#include <string>

#include <ATen/record_function.h>

namespace attnx {

class TraceSpan {
 public:
  TraceSpan() = default;
  explicit TraceSpan(const std::string& name) { begin(name); }
  // Ends the current span, if any, and starts `name` (a string literal or a std::string).
  template <class Name>
  void begin(const Name& name) {
    span_.reset();
    span_.emplace(at::RecordScope::USER_SCOPE);
    if (span_->isActive()) span_->before(name, c10::ArrayRef<const c10::IValue>{});
  }
  void end() { span_.reset(); }

 private:
  std::optional<at::RecordFunction> span_;
};

}  // namespace attnx
