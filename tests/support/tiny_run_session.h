// The desktop views' tests start from the same place: the tiny run of tiny_run.h loaded into an
// AnalysisSession. Header-only, like tiny_run.h.
#pragma once

#include <memory>

#include "tests/support/tiny_run.h"
#include "ui/bridge/analysis_session.h"

namespace attnx::test {

// Makes the tiny run under `folder` and loads `folder`/run into *session. Returns "" or what failed.
inline QString loadTinyRunSession(const QString& folder, std::shared_ptr<ui::AnalysisSession>* session) {
  const QString problem = makeTinyRun(folder);
  if (!problem.isEmpty()) return problem;
  *session = std::make_shared<ui::AnalysisSession>();
  return (*session)->loadRun(folder + QStringLiteral("/run"));
}

}  // namespace attnx::test
