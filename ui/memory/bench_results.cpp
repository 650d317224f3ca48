#include "ui/memory/bench_results.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <algorithm>
#include <stdexcept>

namespace attnx::ui {

QStringList BenchReport::plans() const {
  QStringList p;
  for (const auto& r : rows)
    if (!p.contains(r.plan)) p << r.plan;
  return p;
}

QVector<BenchRow> BenchReport::rowsOf(const QString& plan) const {
  QVector<BenchRow> out;
  for (const auto& r : rows)
    if (r.plan == plan && !r.skipped) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const BenchRow& a, const BenchRow& b) { return a.n < b.n; });
  return out;
}

BenchReport parseBenchReport(const QByteArray& json) {
  QJsonParseError err{};
  const auto doc = QJsonDocument::fromJson(json, &err);
  if (err.error != QJsonParseError::NoError)
    throw std::runtime_error("bench output is not JSON: " + err.errorString().toStdString() + " at offset " +
                             std::to_string(err.offset));
  if (!doc.isObject()) throw std::runtime_error("bench output is not a JSON object");
  const auto root = doc.object();
  if (root.value(QStringLiteral("kind")).toString() != QLatin1String("attention-only"))
    throw std::runtime_error("bench output has kind \"" + root.value(QStringLiteral("kind")).toString().toStdString() +
                             "\", expected \"attention-only\"");
  BenchReport report;
  report.machine = root.value(QStringLiteral("machine")).toObject();
  report.threads = root.value(QStringLiteral("threads")).toInt();
  report.kernelThreads = root.value(QStringLiteral("kernel_threads")).toInt();
  const auto results = root.value(QStringLiteral("results"));
  if (!results.isArray()) throw std::runtime_error("bench output has no \"results\" array");
  int index = 0;
  for (const auto& v : results.toArray()) {
    const auto o = v.toObject();
    const std::string where = "bench result " + std::to_string(index++);
    BenchRow r;
    r.plan = o.value(QStringLiteral("plan")).toString();
    if (r.plan.isEmpty()) throw std::runtime_error(where + ": no \"plan\"");
    if (!o.value(QStringLiteral("n")).isDouble() || o.value(QStringLiteral("n")).toDouble() < 1)
      throw std::runtime_error(where + ": \"n\" must be a positive number");
    r.n = o.value(QStringLiteral("n")).toInt();
    r.skipped = o.value(QStringLiteral("skipped")).toBool(false);
    r.note = o.value(QStringLiteral("note")).toString();
    auto number = [&](const char* key, double* out) {
      const auto x = o.value(QLatin1String(key));
      if (x.isUndefined() || x.isNull()) return;  // a skipped row may leave measurements out
      if (!x.isDouble() || x.toDouble() < 0)
        throw std::runtime_error(where + ": \"" + key + "\" must be a non-negative number");
      *out = x.toDouble();
    };
    number("time_ms", &r.timeMs);
    number("peak_bytes", &r.peakBytes);
    number("flops", &r.flops);
    number("gflops", &r.gflops);
    number("density", &r.density);
    report.rows.push_back(r);
  }
  return report;
}

std::optional<BenchProgress> parseBenchProgress(const QString& line) {
  static const QRegularExpression re(QStringLiteral("^bench: \\[(\\d+)/(\\d+)\\] (\\S+) n=(\\d+)"));
  const auto m = re.match(line.trimmed());
  if (!m.hasMatch()) return std::nullopt;
  BenchProgress p;
  p.index = m.captured(1).toInt();
  p.total = m.captured(2).toInt();
  p.plan = m.captured(3);
  p.n = m.captured(4).toInt();
  return p;
}

}  // namespace attnx::ui
