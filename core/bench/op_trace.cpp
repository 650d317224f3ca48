#include "core/bench/op_trace.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

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

std::vector<TraceTotal> traceTotals(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not a Chrome trace (" + e.what() + ")");
  }
  const auto& events = doc.is_array() ? doc : doc.value("traceEvents", nlohmann::json::array());
  if (!events.is_array()) throw std::runtime_error(path + ": traceEvents is not a list");
  struct Span {
    std::string name, thread;
    double start = 0, duration = 0;  // us
  };
  std::vector<Span> spans;
  for (const auto& e : events) {
    if (!e.is_object() || e.value("ph", "") != "X" || !e.contains("name") || !e["name"].is_string()) continue;
    Span s{e["name"].get<std::string>(), e.contains("tid") ? e["tid"].dump() : std::string()};
    if (e.contains("ts") && e["ts"].is_number()) s.start = e["ts"].get<double>();
    if (e.contains("dur") && e["dur"].is_number()) s.duration = e["dur"].get<double>();
    spans.push_back(std::move(s));
  }
  std::vector<const Span*> rows;  // by start
  for (const auto& s : spans)
    if (s.name.rfind(kTraceRowPrefix, 0) == 0) rows.push_back(&s);
  std::sort(rows.begin(), rows.end(), [](const Span* a, const Span* b) { return a->start < b->start; });
  auto rowOf = [&](const Span& s) -> const Span* {
    auto it = std::upper_bound(rows.begin(), rows.end(), s.start, [](double t, const Span* r) { return t < r->start; });
    if (it == rows.begin()) return nullptr;
    const Span* row = *(it - 1);
    return s.start <= row->start + row->duration ? row : nullptr;
  };
  std::map<std::string, TraceTotal> byName;
  std::map<std::string, std::set<std::string>> threads;
  for (const auto& s : spans) {
    const Span* row = s.name.rfind(kTraceRowPrefix, 0) == 0 ? nullptr : rowOf(s);
    const std::string key = row ? row->name + " / " + s.name : s.name;
    auto& total = byName[key];
    total.name = key;
    ++total.spans;
    total.totalMs += s.duration / 1e3;
    threads[key].insert(s.thread);
  }
  std::vector<TraceTotal> totals;
  for (auto& [name, total] : byName) {
    total.threads = static_cast<int>(threads[name].size());
    totals.push_back(total);
  }
  std::sort(totals.begin(), totals.end(), [](const TraceTotal& a, const TraceTotal& b) { return a.totalMs > b.totalMs; });
  return totals;
}

}  // namespace attnx
