#include "core/bench/tracking_allocator.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <cstring>

#include "core/util/torch_compat.h"
#if defined(ATTNX_HAVE_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace attnx {

namespace {

std::atomic<int64_t> gCurrent{0};
std::atomic<int64_t> gPeak{0};

void add(int64_t bytes) {
  const int64_t now = gCurrent.fetch_add(bytes) + bytes;
  int64_t peak = gPeak.load();
  while (now > peak && !gPeak.compare_exchange_weak(peak, now)) {
  }
}

// What a tracked allocation carries to its deleter: the wrapped allocation and its size.
struct TrackedContext {
  c10::DataPtr inner;
  int64_t bytes;
};

void deleteTracked(void* context) {
  auto* c = static_cast<TrackedContext*>(context);
  gCurrent.fetch_sub(c->bytes);
  delete c;  // frees the inner allocation through its own deleter
}

class TrackingAllocator final : public c10::Allocator {
 public:
  explicit TrackingAllocator(c10::Allocator* inner) : inner_(inner) {}
  c10::DataPtr allocate(size_t n) ATTNX_ALLOCATE_CONST override {
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    const auto device = inner.device();
    auto* context = new TrackedContext{std::move(inner), static_cast<int64_t>(n)};
    add(static_cast<int64_t>(n));
    return {data, context, &deleteTracked, device};
  }
  // Pure virtual in LibTorch 2.x's Allocator (absent in 1.13, where this is an ordinary member).
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

 private:
  c10::Allocator* inner_;
};

// Installation goes above every other priority, and back the same way.
constexpr uint8_t kPriority = 255;

}  // namespace

TensorMemoryStats trackedTensorMemory() { return {gCurrent.load(), gPeak.load()}; }

void resetTrackedPeak() { gPeak.store(gCurrent.load()); }

#if defined(ATTNX_HAVE_CUDA)
TensorMemoryStats cudaTensorMemory(int deviceIndex) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(deviceIndex));
  const auto& allocated = stats.allocated_bytes[0];  // index 0: StatType::AGGREGATE (all pools)
  return {allocated.current, allocated.peak};
}
void resetCudaPeak(int deviceIndex) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(deviceIndex));
}
#else
TensorMemoryStats cudaTensorMemory(int) { return {}; }
void resetCudaPeak(int) {}
#endif

TrackingAllocatorScope::TrackingAllocatorScope() : previous_(c10::GetCPUAllocator()) {
  auto* previous = static_cast<c10::Allocator*>(previous_);
  // Nested scope: the tracker is already installed; wrapping it again would count twice.
  if (!dynamic_cast<TrackingAllocator*>(previous)) {
    // One tracker per wrapped allocator, alive for the process: LibTorch may keep the pointer.
    static std::mutex mutex;
    static std::map<c10::Allocator*, std::unique_ptr<TrackingAllocator>> trackers;
    std::lock_guard<std::mutex> lock(mutex);
    auto& tracker = trackers[previous];
    if (!tracker) tracker = std::make_unique<TrackingAllocator>(previous);
    c10::SetCPUAllocator(tracker.get(), kPriority);
  }
  resetTrackedPeak();
}

TrackingAllocatorScope::~TrackingAllocatorScope() {
  c10::SetCPUAllocator(static_cast<c10::Allocator*>(previous_), kPriority);
}

}  // namespace attnx
