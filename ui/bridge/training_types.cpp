#include "ui/bridge/training_types.h"

namespace attnx::ui {

void registerTrainingTypes() {
  qRegisterMetaType<TrainingSample>();
  qRegisterMetaType<TrainingSamples>();
  qRegisterMetaType<TrainingShape>();
}

}  // namespace attnx::ui
