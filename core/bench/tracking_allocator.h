// Exact tensor memory on the CPU: a c10::Allocator that wraps LibTorch's CPU allocator and counts
// the bytes of every tensor allocated while it is installed (current and peak), the CPU twin of
// torch.cuda.max_memory_allocated. Unlike the resident set (memory_probe.h) it sees only tensor
// storage, exactly, and its peak can be reset between measurements.
//
// CUDA seam: on a GPU the caching allocator already keeps these numbers
// (c10::cuda::CUDACachingAllocator::getDeviceStats: allocated_bytes current/peak, resetPeakStats);
// a CUDA build would read them behind the same TensorMemoryStats. Not written: no GPU here.
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
