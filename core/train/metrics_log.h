// metrics.csv of a run (distillation or pre-training): a header line, then one row per step.
//
// The log is opened for a run at the step its checkpoint holds: rows logged after that step
// (a crash between checkpoints) are dropped so that none repeat, a row torn by a crash at the end
// of the file is dropped, and a file whose header is not this run's, or that holds a line which
// is not a row, is refused with the line named. Every row is written and flushed through a
// checked path: a failed write (a full disk) throws instead of losing rows silently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace attnx {

class MetricsLog {
 public:
  MetricsLog() = default;  // closed: append() refuses

  // Creates `path` with `header`, or keeps its rows up to keepThroughStep. Throws
  // std::runtime_error "<path>: ..." (line numbers 1-based) for a file it cannot trust.
  static MetricsLog open(const std::string& path, const std::string& header, int64_t keepThroughStep);

  // Appends one row (no trailing newline) and flushes it to the OS. Throws std::runtime_error
  // "<path>: cannot write ... (<OS error>)"; the rows already in the file stay.
  void append(const std::string& row);

  bool isOpen() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }
  int64_t rowsDropped() const { return dropped_; }  // by open(): rows after keepThroughStep and a torn last row

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Closer> file_;
  int64_t dropped_ = 0;
};

}  // namespace attnx
