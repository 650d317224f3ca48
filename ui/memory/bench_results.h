// The output of `attnx-cli bench --attention-only --json` and its stderr progress lines, parsed
// with Qt's JSON (no torch, no nlohmann in widgets). Format, exactly:
//   {"kind":"attention-only","machine":{...},"threads":N,"kernel_threads":M,
//    "results":[{"plan":"dense"|"<name>","n":512,"time_ms":1.2,"peak_bytes":123,"flops":4.5e9,
//                "gflops":3.7,"density":0.1,"skipped":false,"note":""}, ...]}
//   progress on stderr: "bench: [i/N] <plan> n=<n>"
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>
#include <optional>

namespace attnx::ui {

struct BenchRow {
  QString plan;
  int n = 0;
  double timeMs = 0, peakBytes = 0, flops = 0, gflops = 0, density = 0;
  bool skipped = false;
  QString note;
};

struct BenchReport {
  QJsonObject machine;
  int threads = 0;        // LibTorch's intra-op threads (dense)
  int kernelThreads = 0;  // fused-dense and the compiled kernels' threads (0: not given)
  QVector<BenchRow> rows;
  QStringList plans() const;                       // in order of first appearance
  QVector<BenchRow> rowsOf(const QString& plan) const;  // sorted by n, skipped rows left out
};

struct BenchProgress {
  int index = 0, total = 0, n = 0;
  QString plan;
};

// Throws std::runtime_error with a message naming what is wrong (not JSON, wrong kind, a result
// without plan or n, a negative or non-numeric field).
BenchReport parseBenchReport(const QByteArray& json);
// A progress line, or nothing for any other line.
std::optional<BenchProgress> parseBenchProgress(const QString& line);

}  // namespace attnx::ui
