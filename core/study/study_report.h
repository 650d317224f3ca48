// report.html of a study: one self-contained page (figures inline as SVG, no script or file it loads)
// drawn from OUT/study.json and the run folders it names, so a finished study re-renders without
// recomputing anything. Torch-free.
#pragma once

#include <string>

namespace attnx {

// Writes OUT/report.html (atomically) and returns its path. Throws StudyError naming the file that is
// missing or wrong.
std::string writeStudyReport(const std::string& outDir);

}  // namespace attnx
