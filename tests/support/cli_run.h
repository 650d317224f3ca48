// Runs the real attnx-cli (ATTNX_CLI_PATH, defined by tests/CMakeLists.txt for the tests that use
// it) and keeps its exit code, standard output and standard error.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

namespace attnx::test {

struct CliRun {
  int code = -1;  // -1: did not finish in time
  QString out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out.toStdString()); }
};

inline CliRun runCli(const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.start(QStringLiteral(ATTNX_CLI_PATH), args);
  if (!p.waitForFinished(timeoutMs)) return {};
  return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace attnx::test
