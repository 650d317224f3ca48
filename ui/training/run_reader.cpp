#include "ui/training/run_reader.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/util/json_document.h"

namespace attnx::ui {
namespace {

QString readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) throw std::runtime_error(path.toStdString() + ": cannot open (" + f.errorString().toStdString() + ")");
  return QString::fromUtf8(f.readAll());
}

constexpr int kFixedColumns = 10;  // step,loss,kl,l1,hidden,lr,grad_norm,tokens_per_s,elapsed_s,val_kl

}  // namespace

void parseMetricsCsv(const QString& text, const QString& origin, TrainingShape& shape, TrainingSamples& samples) {
  const auto lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  if (lines.isEmpty()) throw std::runtime_error(origin.toStdString() + ": empty (the run has no steps yet)");
  const auto header = lines[0].trimmed().split(QLatin1Char(','));
  if (header.size() < kFixedColumns || header[0] != QLatin1String("step"))
    throw std::runtime_error(origin.toStdString() + ": line 1 is not an attnx metrics header");
  static const QRegularExpression alphaColumn(QStringLiteral("^a\\.L(\\d+)\\.H(\\d+)\\.(.+)$"));
  shape.layers = shape.heads = 0;
  shape.maskNames.clear();
  for (int c = kFixedColumns; c < header.size(); ++c) {
    const auto m = alphaColumn.match(header[c]);
    if (!m.hasMatch()) throw std::runtime_error(origin.toStdString() + ": column " + std::to_string(c + 1) + " (\"" +
                                                header[c].toStdString() + "\") is not a coefficient a.L<l>.H<h>.<mask>");
    const int l = m.captured(1).toInt(), h = m.captured(2).toInt();
    shape.layers = qMax(shape.layers, l + 1);
    shape.heads = qMax(shape.heads, h + 1);
    if (l == 0 && h == 0) shape.maskNames << m.captured(3);
  }
  if (shape.alphaCount() != header.size() - kFixedColumns)
    throw std::runtime_error(origin.toStdString() + ": the coefficient columns do not form a layer × head × mask grid");
  samples.clear();
  for (int i = 1; i < lines.size(); ++i) {
    const auto cells = lines[i].trimmed().split(QLatin1Char(','));
    if (cells.size() != header.size())
      throw std::runtime_error(origin.toStdString() + ": line " + std::to_string(i + 1) + " has " +
                               std::to_string(cells.size()) + " fields, the header " + std::to_string(header.size()));
    TrainingSample s;
    s.step = cells[0].toLongLong();
    double* fields[] = {&s.loss, &s.kl, &s.l1, &s.hidden, &s.learningRate, &s.gradNorm, &s.tokensPerSecond, &s.elapsedSeconds};
    for (int c = 0; c < 8; ++c) *fields[c] = cells[c + 1].toDouble();
    s.validationKl = cells[9].isEmpty() ? -1 : cells[9].toDouble();
    s.alpha.reserve(shape.alphaCount());
    for (int c = kFixedColumns; c < cells.size(); ++c) s.alpha.push_back(cells[c].toFloat());
    samples.push_back(std::move(s));
  }
  shape.totalSteps = samples.isEmpty() ? 0 : samples.back().step;
}

RunRecord readRunFolder(const QString& dirPath) {
  RunRecord r;
  const QDir dir(dirPath);
  r.dir = dir.absolutePath();
  const QString runJson = dir.filePath(QStringLiteral("run.json"));
  if (!QFile::exists(runJson))
    throw std::runtime_error(dirPath.toStdString() + ": not a run folder (no run.json); choose the folder a distillation wrote");
  r.config = DistillConfig::fromJsonText(readText(runJson).toStdString(), runJson.toStdString());
  const QString learned = dir.filePath(QStringLiteral("learned_bank.json"));
  if (QFile::exists(learned)) {
    // Read as every attnx file is (core/util/json_document.h): depth and duplicate keys checked.
    const auto doc = parseJsonDocument(readText(learned).toStdString(), learned.toStdString());
    if (!doc.is_object() || !doc.contains("bank")) throw std::runtime_error(learned.toStdString() + ": not a learned bank");
    r.bank = MaskBank::fromJson(doc["bank"], learned.toStdString());
  } else {
    r.bank = MaskBank::load(r.config.bankPath);
  }
  const QString metrics = dir.filePath(QStringLiteral("metrics.csv"));
  if (QFile::exists(metrics)) parseMetricsCsv(readText(metrics), metrics, r.shape, r.samples);
  if (r.shape.maskNames.isEmpty())
    for (const auto& m : r.bank.masks) r.shape.maskNames << QString::fromStdString(m.name);
  r.shape.totalSteps = r.config.steps;
  r.shape.runDir = r.dir;
  r.shape.startStep = r.samples.isEmpty() ? 0 : r.samples.back().step;
  r.hasCheckpoint = QFile::exists(dir.filePath(QStringLiteral("student.safetensors")));
  return r;
}

}  // namespace attnx::ui
