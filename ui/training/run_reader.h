// Reads a run folder written by DistillTrainer (run.json, metrics.csv, learned_bank.json,
// student.safetensors) back into what the training views show. Torch-free.
#pragma once

#include <QString>

#include "core/masks/mask_bank.h"
#include "core/train/distill_config.h"
#include "ui/bridge/training_types.h"

namespace attnx::ui {

struct RunRecord {
  QString dir;
  DistillConfig config;
  MaskBank bank;           // from learned_bank.json, else the bank file run.json names
  TrainingShape shape;     // from the metrics header (layers, heads, mask names)
  TrainingSamples samples; // every row of metrics.csv
  bool hasCheckpoint = false;
};

// Throws std::runtime_error "<file>: <what is wrong>" when the folder is not a readable run.
RunRecord readRunFolder(const QString& dir);

// Parses metrics.csv text (header + rows). Throws std::runtime_error naming the line.
void parseMetricsCsv(const QString& text, const QString& origin, TrainingShape& shape, TrainingSamples& samples);

}  // namespace attnx::ui
