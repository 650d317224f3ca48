#include "core/bench/machine_info.h"

#include <fstream>
#include <thread>

namespace attnx {

MachineInfo currentMachine() {
  MachineInfo m;
  m.logicalCores = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) m.cpuModel = line.substr(line.find_first_not_of(" \t", colon + 1));
    break;
  }
  std::ifstream load("/proc/loadavg");
  load >> m.load1 >> m.load5 >> m.load15;
  return m;
}

}  // namespace attnx
