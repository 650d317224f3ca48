// Helpers shared by the libFuzzer harnesses in this folder (header-only, no core/ code).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

namespace attnx_fuzz {

// A broken invariant: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void bug(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "invariant broken: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) ::attnx_fuzz::bug(#cond); \
  } while (0)
#define FUZZ_CHECK_MSG(cond, detail) \
  do {                               \
    if (!(cond)) ::attnx_fuzz::bug(#cond, (detail)); \
  } while (0)

// A refusal must name where the input came from: "<origin>: <what is wrong>".
inline void checkRefusal(const std::exception& e, const std::string& origin) {
  const char* what = e.what();
  if (std::strncmp(what, origin.c_str(), origin.size()) != 0 || std::strncmp(what + origin.size(), ": ", 2) != 0 ||
      std::strlen(what) <= origin.size() + 2)
    bug("refusal message does not start with \"<origin>: \"", what);
}

// An exception of a type the entry point does not document.
[[noreturn]] inline void undocumented(const char* type, const char* what) {
  std::fprintf(stderr, "undocumented exception %s: %s\n", type, what);
  std::abort();
}

// An in-memory file reused for every input: no disk traffic, and a real path for open().
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
  void set(std::string_view s) const { set(s.data(), s.size()); }
};

}  // namespace attnx_fuzz
