// Reads what the Experiments view shows from a folder: a study written by `attnx-cli study`
// (study.json, else study.csv), a folder of run folders, or one run folder. Torch-free.
#pragma once

#include <QString>

#include "ui/experiments/experiment_row.h"

namespace attnx::ui {

// Throws std::runtime_error naming the file when the folder cannot be shown at all (a corrupt
// study.csv with no readable study.json, a folder that holds neither a study nor a run). Problems
// with single runs (no metrics.csv, a bad run.json) become warnings in the result instead, so one
// broken run does not hide the others.
ExperimentSet readExperimentFolder(const QString& dir);

}  // namespace attnx::ui
