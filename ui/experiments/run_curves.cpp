#include "ui/experiments/run_curves.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <stdexcept>

#include "ui/training/run_reader.h"

namespace attnx::ui {

double RunCurves::lastValidationKl(qint64* step) const {
  for (auto it = samples.crbegin(); it != samples.crend(); ++it) {
    if (it->validationKl < 0) continue;
    if (step) *step = it->step;
    return it->validationKl;
  }
  return qQNaN();
}

RunCurves readRunCurves(const QString& dir) {
  RunCurves r;
  r.dir = QDir(dir).absolutePath();
  r.name = QFileInfo(r.dir).fileName();
  const QString path = QDir(r.dir).filePath(QStringLiteral("metrics.csv"));
  QFile f(path);
  if (!f.exists())
    throw std::runtime_error(path.toStdString() + ": missing (the run has logged no step, or this is not a run folder)");
  if (!f.open(QIODevice::ReadOnly))
    throw std::runtime_error(path.toStdString() + ": cannot open (" + f.errorString().toStdString() + ")");
  parseMetricsCsv(QString::fromUtf8(f.readAll()), path, r.shape, r.samples);
  r.shape.runDir = r.dir;
  return r;
}

}  // namespace attnx::ui
