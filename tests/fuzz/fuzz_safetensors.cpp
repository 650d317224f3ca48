// libFuzzer harness for the safetensors reader: any input must either open, with every
// invariant the reader promises holding, or be refused with a SafetensorsError naming the
// path. An accepted file must survive write → read unchanged. Anything else (a crash, a
// sanitizer report, another exception type) is a bug.
#include "core/io/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond) \
  do {              \
    if (!(cond)) bug(#cond); \
  } while (0)

// In-memory files reused for every input: no disk traffic, and a real path for open(). Two of
// them, because the round trip must not rewrite the file the first reader still maps.
struct MemFile {
  int fd;
  std::string path;
  explicit MemFile(const char* name) : fd(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd < 0) std::abort();
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  void set(const void* data, size_t size) const {
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  }
};
const MemFile& input() { static const MemFile f("input.safetensors"); return f; }
const MemFile& rewritten() { static const MemFile f("rewritten.safetensors"); return f; }

void checkInvariants(const attnx::SafetensorsFile& st, size_t fileSize) {
  uint64_t expected = 0;
  for (const attnx::TensorInfo& t : st.tensors()) {
    CHECK(t.begin == expected);
    CHECK(t.begin <= t.end);
    CHECK(static_cast<uint64_t>(t.numel()) * attnx::dtypeSize(t.dtype) == t.end - t.begin);
    CHECK(st.find(t.name) == &t);
    const std::byte* p = st.data(t);
    if (t.end > t.begin) {
      volatile std::byte sink = p[0];  // first and last byte must be mapped
      sink = p[t.end - t.begin - 1];
      (void)sink;
    }
    expected = t.end;
  }
  CHECK(expected <= fileSize);
}

void checkRoundTrip(const attnx::SafetensorsFile& st) {
  std::vector<attnx::TensorToWrite> tensors;
  for (const attnx::TensorInfo& t : st.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, st.data(t), static_cast<size_t>(t.end - t.begin)});
  const std::string bytes = attnx::serializeSafetensors(tensors, st.metadata());
  rewritten().set(bytes.data(), bytes.size());
  const attnx::SafetensorsFile back = attnx::SafetensorsFile::open(rewritten().path);
  CHECK(back.metadata() == st.metadata());
  CHECK(back.tensors().size() == st.tensors().size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const attnx::TensorInfo& a = st.tensors()[i];
    const attnx::TensorInfo& b = back.tensors()[i];
    CHECK(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape);
    CHECK(a.begin == b.begin && a.end == b.end);  // the reader's order is the writer's order
    CHECK(std::memcmp(st.data(a), back.data(b), a.end - a.begin) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  input().set(data, size);
  const std::string& path = input().path;
  try {
    const attnx::SafetensorsFile st = attnx::SafetensorsFile::open(path);
    checkInvariants(st, size);
    try {
      checkRoundTrip(st);
    } catch (const attnx::SafetensorsError& e) {
      std::fprintf(stderr, "accepted file does not round-trip: %s\n", e.what());
      std::abort();
    }
  } catch (const attnx::SafetensorsError& e) {
    CHECK(std::strncmp(e.what(), path.c_str(), path.size()) == 0);
    CHECK(std::strlen(e.what()) > path.size() + 2);
  }
  return 0;
}
