// A small distillation run made with the real attnx-cli, for the desktop views' tests: a 2-layer,
// 4-head, width-32, context-64 GPT-2 with GPT-2's vocabulary pretrained for 2 steps, then a
// 3-step distillation on the local-sinks bank. Seconds, not minutes; header-only so that the
// test targets need no change to the shared support library.
#pragma once

#include <QDir>
#include <QProcess>
#include <QString>
#include <QStringList>

#include "tests/support/test_support.h"

namespace attnx::test {

struct CliResult {
  int code = -1;
  QString out, err;
};

inline CliResult runCli(const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.start(QStringLiteral(ATTNX_CLI_PATH), args);
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    return {-1, {}, QStringLiteral("attnx-cli timed out: ") + args.join(QLatin1Char(' '))};
  }
  return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

// The text both steps train on (a fetched book).
inline QString tinyRunText() {
  return QString::fromStdString(dataDir() + "/corpus/validation/gutenberg-chesterton-brown.txt");
}

// Makes `folder`/teacher (a GPT-2 folder) and `folder`/run (a distillation run). Returns "" or
// what failed, with attnx-cli's stderr.
inline QString makeTinyRun(const QString& folder) {
  const QString teacher = folder + QStringLiteral("/teacher"), run = folder + QStringLiteral("/run");
  auto r = runCli({"pretrain", "--data", tinyRunText(), "--out", teacher, "--layers", "2", "--heads", "4", "--width", "32",
                   "--context", "64", "--steps", "2", "--batch-size", "2", "--seq-len", "32", "--warmup", "0",
                   "--validate-every", "0", "--checkpoint-every", "0"});
  if (r.code != 0) return QStringLiteral("pretrain failed: ") + r.err;
  const QString bank = QString::fromStdString(fixture("../../resources/banks/local-sinks.json"));
  r = runCli({"distill", "--teacher", teacher + QStringLiteral("/model"), "--bank", bank, "--data", tinyRunText(), "--steps",
              "3", "--batch-size", "2", "--seq-len", "32", "--validate-every", "0", "--checkpoint-every", "0", "--out", run});
  if (r.code != 0) return QStringLiteral("distill failed: ") + r.err;
  return {};
}

}  // namespace attnx::test
