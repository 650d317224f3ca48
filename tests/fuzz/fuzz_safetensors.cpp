// libFuzzer harness for the safetensors reader: any input must either open, with every
// invariant the reader promises holding, or be refused with a SafetensorsError naming the
// path. An accepted file must survive write → read unchanged. Anything else (a crash, a
// sanitizer report, another exception type) is a bug.
#include "core/io/safetensors.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_common.h"

namespace {

using attnx_fuzz::MemFile;

// Two in-memory files, because the round trip must not rewrite the file the first reader still maps.
const MemFile& input() { static const MemFile f("input.safetensors"); return f; }
const MemFile& rewritten() { static const MemFile f("rewritten.safetensors"); return f; }

void checkInvariants(const attnx::SafetensorsFile& st, size_t fileSize) {
  uint64_t expected = 0;
  for (const attnx::TensorInfo& t : st.tensors()) {
    FUZZ_CHECK(t.begin == expected);
    FUZZ_CHECK(t.begin <= t.end);
    FUZZ_CHECK(static_cast<uint64_t>(t.numel()) * attnx::dtypeSize(t.dtype) == t.end - t.begin);
    FUZZ_CHECK(st.find(t.name) == &t);
    const std::byte* p = st.data(t);
    if (t.end > t.begin) {
      volatile std::byte sink = p[0];  // first and last byte must be mapped
      sink = p[t.end - t.begin - 1];
      (void)sink;
    }
    expected = t.end;
  }
  FUZZ_CHECK(expected <= fileSize);
}

void checkRoundTrip(const attnx::SafetensorsFile& st) {
  std::vector<attnx::TensorToWrite> tensors;
  for (const attnx::TensorInfo& t : st.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, st.data(t), static_cast<size_t>(t.end - t.begin)});
  const std::string bytes = attnx::serializeSafetensors(tensors, st.metadata());
  rewritten().set(bytes.data(), bytes.size());
  const attnx::SafetensorsFile back = attnx::SafetensorsFile::open(rewritten().path);
  FUZZ_CHECK(back.metadata() == st.metadata());
  FUZZ_CHECK(back.tensors().size() == st.tensors().size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const attnx::TensorInfo& a = st.tensors()[i];
    const attnx::TensorInfo& b = back.tensors()[i];
    FUZZ_CHECK(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape);
    FUZZ_CHECK(a.begin == b.begin && a.end == b.end);  // the reader's order is the writer's order
    FUZZ_CHECK(std::memcmp(st.data(a), back.data(b), a.end - a.begin) == 0);
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
    FUZZ_CHECK(std::strncmp(e.what(), path.c_str(), path.size()) == 0);
    FUZZ_CHECK(std::strlen(e.what()) > path.size() + 2);
  }
  return 0;
}
