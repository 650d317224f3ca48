// Process memory as the kernel sees it (resident set), for benchmarks. Linux only; elsewhere the
// probes return 0. A per-tensor tracking allocator is a separate, finer tool.
#pragma once

#include <cstdint>

namespace attnx {

struct MemoryStats {
  int64_t currentBytes = 0;  // resident now (VmRSS)
  int64_t peakBytes = 0;     // high-water mark since start or the last resetPeakResident() (VmHWM)
};

MemoryStats residentMemory();
// Resets the kernel's high-water mark to the current RSS; false where the kernel does not allow it.
bool resetPeakResident();

}  // namespace attnx
