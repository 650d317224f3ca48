// Which run a folder holds. A new run refuses a folder that already holds a run's files, so two
// runs never mix rows, checkpoints or settings; a resumed run continues the one the folder holds.
// Torch-free, so the desktop's forms check a folder the same way the trainers do.
#pragma once

#include <string>
#include <vector>

namespace attnx {

enum class RunFolder { New, Resume };

// The files that make a folder a distillation run folder.
const std::vector<std::string>& distillRunFiles();

// Throws std::runtime_error "<dir>: already holds a run (<files found>); ..." when any of `files`
// exists in dir.
void requireNoRunIn(const std::string& dir, const std::vector<std::string>& files);

}  // namespace attnx
