// Write a file so that readers see either the old contents or the complete new ones, never a
// half-written file: write to a temporary name in the same folder, fsync, rename over the target.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace attnx {

// Writes `bytes` to `path` atomically. On failure the temporary file is removed, the old `path`
// (if any) is left untouched, and std::runtime_error "<path>: <what failed>: <OS error>" is thrown.
void writeFileAtomically(const std::string& path, std::string_view bytes);

// Same, with the contents produced by `writer` into a buffered stream over the temporary file
// (nothing is held in memory, so this suits multi-gigabyte checkpoints). If `writer` throws, the
// temporary file is removed and the writer's own exception propagates unchanged.
//
// Known limits: the new file gets mode 0666 & ~umask, not the old file's mode; a symlink at
// `path` is replaced by a regular file rather than followed; the temporary name is
// `path + ".tmp-XXXXXX"`, so `path` must leave room for 11 more characters in its file name.
void writeFileAtomically(const std::string& path,
                         const std::function<void(std::ostream&)>& writer);

}  // namespace attnx
