// Measuring a pruning profile; see pruning_profiler.h.
#include "core/eval/pruning_profiler.h"

#include <algorithm>
#include <stdexcept>

#include <torch/torch.h>

#include "core/eval/run_student.h"
#include "core/eval/student_eval.h"

namespace attnx {

PruningProfile measurePruningProfile(Gpt2& model, const MaskBank& bank, const MixtureOptions& options,
                                     const std::vector<double>& alpha, const ProfileRequest& request) {
  const auto& cfg = model->config();
  const int64_t L = cfg.numLayers, H = cfg.numHeads, K = static_cast<int64_t>(bank.masks.size());
  if (request.windows.empty()) throw std::invalid_argument("pruning profile: no windows to measure on");
  const int64_t n = static_cast<int64_t>(request.windows.front().size());
  for (const auto& w : request.windows)
    if (static_cast<int64_t>(w.size()) != n) throw std::invalid_argument("pruning profile: the windows differ in length");
  if (static_cast<int64_t>(alpha.size()) != L * H * K)
    throw std::invalid_argument("pruning profile: expected " + std::to_string(L * H * K) + " alpha values, got " +
                                std::to_string(alpha.size()));

  PruningProfile p;
  p.numLayers = L;
  p.numHeads = H;
  for (const auto& m : bank.masks) p.maskNames.push_back(m.name);
  p.n = n;
  p.windows = static_cast<int64_t>(request.windows.size());
  p.data = request.dataLabel;

  // Every head's ladder from its active masks (alpha > 0); a head with none keeps an empty ladder
  // below and is reported as an error, since no plan can be made for it.
  std::vector<std::vector<std::vector<int>>> ladders;
  int64_t total = 0;
  for (int64_t hd = 0; hd < L * H; ++hd) {
    std::vector<int> active;
    std::vector<double> weights(alpha.begin() + hd * K, alpha.begin() + (hd + 1) * K);
    for (int64_t k = 0; k < K; ++k)
      if (weights[k] > 0) active.push_back(static_cast<int>(k));
    if (active.empty())
      throw std::invalid_argument("pruning profile: layer " + std::to_string(hd / H) + ", head " + std::to_string(hd % H) +
                                  " has no mask with alpha > 0");
    ladders.push_back(PruningProfile::ladder(active, weights, bank, n));
    total += static_cast<int64_t>(ladders.back().size()) - 1;
  }

  const auto device = model->wte->weight.device();
  const TeacherReference teacher(model, request.windows, request.batchSize);
  auto klOf = [&](const std::vector<double>& a) {
    if (request.stop && request.stop->load()) throw std::runtime_error("cancelled");
    return teacher.evaluate(*fixedAlphaStudent(bank, options, a, L, H, device)).klPerToken;
  };
  p.baseKl = klOf(alpha);
  int64_t done = 0;
  for (int64_t hd = 0; hd < L * H; ++hd) {
    std::vector<ProfileStep> steps;
    for (size_t s = 0; s < ladders[hd].size(); ++s) {
      ProfileStep step;
      step.masks = ladders[hd][s];
      if (s > 0) {
        // This head alone hardened, faithfully; every other head as trained.
        auto a = alpha;
        const auto w = hardenHead(std::vector<double>(alpha.begin() + hd * K, alpha.begin() + (hd + 1) * K), step.masks);
        std::copy(w.begin(), w.end(), a.begin() + hd * K);
        step.klIncrease = klOf(a) - p.baseKl;
        ++done;
        if (request.progress) request.progress(done, total);
      }
      steps.push_back(std::move(step));
    }
    p.heads.push_back(std::move(steps));
  }
  p.validate();
  return p;
}

}  // namespace attnx
