#include "core/train/training_common.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/dist/process_group.h"
#include "core/io/atomic_file.h"
#include "core/util/torch_compat.h"

namespace attnx {

double warmupCosineLr(int64_t step, double peak, int64_t warmup, int64_t total, double minRatio) {
  if (warmup > 0 && step <= warmup) return peak * static_cast<double>(step) / warmup;
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double progress = std::min(1.0, (step - warmup) / span);
  const double floor = peak * minRatio;
  return floor + 0.5 * (peak - floor) * (1 + std::cos(M_PI * progress));
}

torch::Tensor distillationKl(const torch::Tensor& zT, const torch::Tensor& zS, double tau) {
  auto logPT = torch::log_softmax(zT / tau, -1);
  auto logPS = torch::log_softmax(zS / tau, -1);
  return (logPT.exp() * (logPT - logPS)).sum(-1).mean() * (tau * tau);
}

void stepAdamW(torch::optim::AdamW& optimizer, double learningRate) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learningRate);
  optimizer.step();
}

void rethrowStepFailure(int64_t step, int64_t lastCheckpoint) {
  try {
    throw;
  } catch (const TrainingStopped&) {
    throw;
  } catch (const CollectiveFailed& e) {
    throw TrainingStopped(std::string(e.what()) + "; the run stopped at step " + std::to_string(step - 1) +
                          " and the last good checkpoint (step " + std::to_string(lastCheckpoint) + ") is kept");
  } catch (const std::exception& e) {
    if (!isOutOfMemory(e)) throw;
    throw TrainingStopped("step " + std::to_string(step) + ": out of memory (" + std::string(e.what()).substr(0, 200) +
                          "); the last good checkpoint (step " + std::to_string(lastCheckpoint) +
                          ") is kept. Lower the batch size or sequence length.");
  }
}

torch::Tensor windowsToBatch(const std::vector<std::vector<int64_t>>& windows, const torch::Device& device) {
  if (windows.empty()) throw std::invalid_argument("empty batch");
  const auto T = static_cast<int64_t>(windows[0].size());
  auto t = torch::empty({static_cast<int64_t>(windows.size()), T}, torch::kLong);
  for (size_t b = 0; b < windows.size(); ++b) {
    if (static_cast<int64_t>(windows[b].size()) != T) throw std::invalid_argument("windows of a batch differ in length");
    std::memcpy(t[b].data_ptr<int64_t>(), windows[b].data(), T * sizeof(int64_t));
  }
  return t.to(device);
}

void CheckpointWriter::add(const std::string& name, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  keep_.push_back(c);
  records_.push_back({name, DType::F32, std::vector<int64_t>(c.sizes().begin(), c.sizes().end()), c.data_ptr(),
                      static_cast<size_t>(c.nbytes())});
}

int64_t CheckpointWriter::addAdamState(torch::optim::AdamW& optimizer, const NamedParameters& params, bool withValues) {
  int64_t step = 0;
  auto& state = optimizer.state();
  for (const auto& [name, p] : params) {
    if (withValues) add(name, p);
    auto it = state.find(compat::optimizerStateKey(p));
    if (it == state.end()) continue;
    auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
    add("adam.exp_avg." + name, st.exp_avg());
    add("adam.exp_avg_sq." + name, st.exp_avg_sq());
    step = st.step();
  }
  return step;
}

void CheckpointWriter::write(const std::string& path, const std::map<std::string, std::string>& metadata) {
  writeSafetensors(path, records_, metadata);
}

torch::Tensor readCheckpointTensor(const SafetensorsFile& file, const std::string& name, const torch::Tensor& like) {
  const auto* t = file.find(name);
  if (!t) throw std::runtime_error(file.path() + ": missing tensor " + name);
  if (t->dtype != DType::F32 || t->shape != std::vector<int64_t>(like.sizes().begin(), like.sizes().end()))
    throw std::runtime_error(file.path() + ": tensor " + name +
                             " does not match this run's settings (different bank, model or granularity?)");
  return torch::from_blob(const_cast<std::byte*>(file.data(*t)), t->shape, torch::kFloat32)
      .to(like.device(), like.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
}

void restoreAdamState(const SafetensorsFile& file, torch::optim::AdamW& optimizer, const NamedParameters& params,
                      int64_t adamStep, bool withValues) {
  torch::NoGradGuard g;
  for (const auto& [name, p] : params) {
    if (withValues) p.copy_(readCheckpointTensor(file, name, p));
    if (adamStep == 0) continue;
    auto st = std::make_unique<torch::optim::AdamWParamState>();
    st->step(adamStep);
    st->exp_avg(readCheckpointTensor(file, "adam.exp_avg." + name, p));
    st->exp_avg_sq(readCheckpointTensor(file, "adam.exp_avg_sq." + name, p));
    optimizer.state()[compat::optimizerStateKey(p)] = std::move(st);
  }
}

std::string checkpointMetadata(const SafetensorsFile& file, const std::string& key) {
  auto it = file.metadata().find(key);
  if (it == file.metadata().end()) throw std::runtime_error(file.path() + ": no \"" + key + "\" in the metadata");
  return it->second;
}

bool isOutOfMemory(const std::exception& e) {
  const std::string what = e.what();
  return dynamic_cast<const std::bad_alloc*>(&e) || what.find("out of memory") != std::string::npos ||
         what.find("DefaultCPUAllocator: can't allocate") != std::string::npos;
}

int64_t checkpointInteger(const SafetensorsFile& file, const std::string& key) {
  const std::string text = checkpointMetadata(file, key);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < 0)
    throw std::runtime_error(file.path() + ": metadata \"" + key + "\" must be a non-negative integer, got \"" +
                             text.substr(0, 40) + "\"");
  return v;
}

double checkpointNumber(const SafetensorsFile& file, const std::string& key) {
  const std::string text = checkpointMetadata(file, key);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    throw std::runtime_error(file.path() + ": metadata \"" + key + "\" must be a finite number >= 0, got \"" +
                             text.substr(0, 40) + "\"");
  return v;
}


}  // namespace attnx
