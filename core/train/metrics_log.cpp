#include "core/train/metrics_log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/io/atomic_file.h"

namespace attnx {
namespace {

// The step of a row: its first field, a decimal integer >= 1; -1 when it is not one.
int64_t stepOf(const std::string& row) {
  const size_t comma = row.find(',');
  const std::string field = row.substr(0, comma);
  if (field.empty() || field.size() > 15 || !std::all_of(field.begin(), field.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  const int64_t step = std::stoll(field);
  return step >= 1 ? step : -1;
}

std::string shown(const std::string& line) {
  std::string s = line.substr(0, 40);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return "\"" + s + (line.size() > 40 ? "…\"" : "\"");
}

}  // namespace

MetricsLog MetricsLog::open(const std::string& path, const std::string& header, int64_t keepThroughStep) {
  auto fail = [&path](const std::string& what) -> void { throw std::runtime_error(path + ": " + what); };
  MetricsLog log;
  log.path_ = path;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(std::string("cannot open (") + std::strerror(errno) + ")");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::string kept;
    bool rewrite = false;
    size_t lineNo = 0;
    int64_t previous = 0;
    const auto columns = std::count(header.begin(), header.end(), ',');
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      const bool torn = end == std::string::npos;  // the last line, cut short by a crash
      const std::string line = text.substr(at, torn ? std::string::npos : end - at);
      at = torn ? text.size() : end + 1;
      ++lineNo;
      if (lineNo == 1) {
        if (line != header)
          fail("line 1 is not this run's header (another run's metrics, or another mask bank or model?); "
               "move the file away or choose another run folder");
        kept = line + "\n";
        continue;
      }
      const int64_t step = stepOf(line);
      const bool whole = step > 0 && std::count(line.begin(), line.end(), ',') == columns;
      if (torn && !whole) {
        rewrite = true;
        ++log.dropped_;
        continue;
      }
      if (!whole)
        fail("line " + std::to_string(lineNo) + " is not a metrics row (" + shown(line) +
             "); the file is damaged: remove that line to continue the run");
      if (step <= previous)
        fail("line " + std::to_string(lineNo) + " logs step " + std::to_string(step) + " after step " + std::to_string(previous) +
             " (rows of two runs in one file?); keep one run's rows to continue");
      previous = step;
      if (step > keepThroughStep) {
        rewrite = true;
        ++log.dropped_;
        continue;
      }
      kept += line + "\n";
    }
    if (lineNo == 0) {
      kept = header + "\n";
      rewrite = true;
    }
    if (rewrite) writeFileAtomically(path, kept);
  } else {
    writeFileAtomically(path, header + "\n");
  }
  log.file_.reset(std::fopen(path.c_str(), "ab"));
  if (!log.file_) fail(std::string("cannot open for writing (") + std::strerror(errno) + ")");
  return log;
}

void MetricsLog::append(const std::string& row) {
  if (!file_) throw std::logic_error("MetricsLog::append on a closed log");
  const std::string line = row + "\n";
  errno = 0;
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_.get()) == line.size() && std::fflush(file_.get()) == 0;
  if (!ok) {
    const int error = errno;
    std::clearerr(file_.get());
    throw std::runtime_error(path_ + ": cannot write the row of step " + row.substr(0, row.find(',')) + " (" +
                             std::strerror(error ? error : EIO) + ")");
  }
}

}  // namespace attnx
