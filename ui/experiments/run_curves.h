// The curves of one run folder as the Experiments view overlays them: its metrics.csv, read by the
// training views' reader (ui/training/run_reader.h), so both agree on what a row holds.
#pragma once

#include <QString>

#include "ui/bridge/training_types.h"

namespace attnx::ui {

struct RunCurves {
  QString name;  // the run folder's name, as legends call it
  QString dir;   // absolute
  TrainingShape shape;
  TrainingSamples samples;

  bool hasCoefficients() const { return shape.alphaCount() > 0; }
  // The last validated step's KL, NaN when the run never validated; step in *step when asked.
  double lastValidationKl(qint64* step = nullptr) const;
};

// Throws std::runtime_error naming the file: "<dir>/metrics.csv: missing (...)" or the reader's message.
RunCurves readRunCurves(const QString& dir);

}  // namespace attnx::ui
