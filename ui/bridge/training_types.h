// What crosses from the training thread to the GUI: one step's metrics as a Qt value type, in
// batches, and the shape of the run (layers, heads, masks) so views can size themselves.
// Torch-free: widgets include this, never the trainer.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

namespace attnx::ui {

struct TrainingSample {
  qint64 step = 0;  // 1-based, as in metrics.csv
  double loss = 0, kl = 0, l1 = 0, hidden = 0;
  double learningRate = 0, gradNorm = 0, tokensPerSecond = 0, elapsedSeconds = 0;
  double validationKl = -1;  // < 0: not validated at this step
  QVector<float> alpha;      // (L, H, K) row-major
};
using TrainingSamples = QVector<TrainingSample>;

struct TrainingShape {
  int layers = 0, heads = 0;
  QStringList maskNames;
  qint64 totalSteps = 0;
  qint64 startStep = 0;  // > 0 when a run resumed
  QString runDir;
  int masks() const { return static_cast<int>(maskNames.size()); }
  int alphaCount() const { return layers * heads * masks(); }
  int alphaIndex(int layer, int head, int mask) const { return (layer * heads + head) * masks() + mask; }
};

// Registers the types for queued connections (idempotent).
void registerTrainingTypes();

}  // namespace attnx::ui

Q_DECLARE_METATYPE(attnx::ui::TrainingSample)
Q_DECLARE_METATYPE(attnx::ui::TrainingSamples)
Q_DECLARE_METATYPE(attnx::ui::TrainingShape)
