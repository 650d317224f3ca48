// The machine a benchmark ran on, for its report: CPU model, logical cores and load average
// (others building on a shared machine show up here). Linux; elsewhere fields stay empty/0.
#pragma once

#include <string>

namespace attnx {

struct MachineInfo {
  std::string cpuModel;  // "model name" of /proc/cpuinfo
  int logicalCores = 0;
  double load1 = 0, load5 = 0, load15 = 0;  // /proc/loadavg
};

MachineInfo currentMachine();

}  // namespace attnx
