#include "core/util/allocator_tuning.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

namespace attnx {

void tuneAllocatorForTensors(char** argv) {
#if defined(__GLIBC__)
  if (std::getenv("ATTNX_NO_MALLOC_TUNING")) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current && std::strstr(current, "glibc.malloc.")) return;  // ours (after the re-exec) or the user's
  std::string tunables =
      "glibc.malloc.mmap_threshold=1073741824"  // blocks up to 1 GiB come from the heap
      ":glibc.malloc.trim_threshold=4294967295"  // freed heap memory is kept for the next step
      ":glibc.malloc.hugetlb=1";                 // and backed by transparent huge pages (madvise)
  if (current && *current) tunables = std::string(current) + ":" + tunables;
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // exec failed (no /proc?): run as we are, without half a setting
  if (current) setenv("GLIBC_TUNABLES", current, 1);
#else
  (void)argv;
#endif
}

bool releaseFreedMemory() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace attnx
