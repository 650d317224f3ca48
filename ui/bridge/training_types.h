// What crosses from the training thread to the GUI: one step's metrics (core's value type), in
// batches, and the shape of the run (layers, heads, masks) so views can size themselves.
// Torch-free: widgets include this, never the trainer.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

#include "core/train/step_metrics.h"

namespace attnx::ui {

// One step's metrics, as core's trainer reports them (step 1-based, as in metrics.csv; alpha (L, H, K)
// row-major; validationKl < 0 when not validated at this step).
using TrainingSample = attnx::StepMetrics;
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

Q_DECLARE_METATYPE(attnx::StepMetrics)
Q_DECLARE_METATYPE(attnx::ui::TrainingSamples)
Q_DECLARE_METATYPE(attnx::ui::TrainingShape)
