// Exact tensor memory on the CPU: a c10::Allocator that wraps LibTorch's CPU allocator and counts
// the bytes of every tensor allocated while it is installed (current and peak), the CPU twin of
// torch.cuda.max_memory_allocated. Unlike the resident set (memory_probe.h) it sees only tensor
// storage, exactly, and its peak can be reset between measurements.
//
// On a GPU the caching allocator already keeps these numbers (cudaTensorMemory below).
#pragma once

#include <cstdint>

namespace attnx {

struct TensorMemoryStats {
  int64_t currentBytes = 0;  // live bytes allocated through the tracker
  int64_t peakBytes = 0;     // high-water mark of currentBytes since install or resetPeak
};

// Process-wide counters of the tracking allocator (they keep counting frees of tensors allocated
// while it was installed, even after it is uninstalled).
TensorMemoryStats trackedTensorMemory();
// Sets the peak to the current value.
void resetTrackedPeak();

// A CUDA device's tensor bytes from LibTorch's caching allocator (allocated bytes, current and peak
// since the last resetCudaPeak): torch.cuda.memory_allocated and max_memory_allocated. Zeros in a
// build without CUDA.
TensorMemoryStats cudaTensorMemory(int deviceIndex);
void resetCudaPeak(int deviceIndex);

// Installs the tracking allocator as LibTorch's CPU allocator for its lifetime, restoring the previous
// one when it ends. Scopes nest. Not for use while other threads allocate tensors concurrently with
// installation (the allocator pointer itself is swapped without a lock by LibTorch).
class TrackingAllocatorScope {
 public:
  TrackingAllocatorScope();
  ~TrackingAllocatorScope();
  TrackingAllocatorScope(const TrackingAllocatorScope&) = delete;
  TrackingAllocatorScope& operator=(const TrackingAllocatorScope&) = delete;

 private:
  void* previous_;  // c10::Allocator*, kept out of this header
};

}  // namespace attnx
