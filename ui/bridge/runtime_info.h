// What the status bar says about the compute back end: device and LibTorch's thread count.
// Torch-free header.
#pragma once

#include <QString>

namespace attnx::ui {

struct RuntimeInfo {
  QString device;  // "CPU" or "CUDA (n devices)"
  int threads = 0; // LibTorch intra-op threads
};

RuntimeInfo runtimeInfo();

}  // namespace attnx::ui
