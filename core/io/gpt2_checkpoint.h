// Hugging Face GPT-2 model folders: config.json + model.safetensors (+ vocab.json, merges.txt).
// One name→tensor table, checked completely: every missing, extra or mis-shaped tensor is reported
// by name with the expected and found shapes, in one message.
#pragma once

#include <optional>
#include <string>

#include <torch/types.h>

#include "core/model/gpt2.h"

namespace attnx {

struct Gpt2LoadOptions {
  // Parameters are converted to this type (fp16/bf16 checkpoints upcast); nullopt keeps the stored type.
  std::optional<torch::Dtype> dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
};

// Loads dir/config.json and dir/model.safetensors. Keys may carry the "transformer." prefix;
// attention buffers (attn.bias, attn.masked_bias) are ignored; lm_head.weight, when present and
// different from wte, becomes a separate head. Throws std::runtime_error with every problem listed.
Gpt2 loadGpt2(const std::string& dir, const Gpt2LoadOptions& options = {});

// Writes config.json and model.safetensors (Conv1D layout, [in, out]) atomically into dir.
void saveGpt2(Gpt2& model, const std::string& dir, torch::Dtype storeAs = torch::kFloat32);

// True when dir looks like a GPT-2 folder (has config.json and model.safetensors).
bool isGpt2Folder(const std::string& dir);

}  // namespace attnx
