#include "core/bench/memory_probe.h"

#include <fstream>
#include <string>

namespace attnx {

MemoryStats residentMemory() {
  MemoryStats m;
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (status >> key) {
    if (key == "VmRSS:" && status >> kb >> unit) m.currentBytes = kb * 1024;
    else if (key == "VmHWM:" && status >> kb >> unit) m.peakBytes = kb * 1024;
  }
  return m;
}

bool resetPeakResident() {
  // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0).
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  return static_cast<bool>(clear.flush());
}

}  // namespace attnx
