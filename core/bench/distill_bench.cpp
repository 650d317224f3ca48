#include "core/bench/distill_bench.h"

#include <torch/torch.h>

#include "core/bench/model_bench.h"

namespace attnx {

StepCostResult benchDistillStep(Gpt2& model, const MaskBank& bank, const MixtureOptions& options, int64_t batchSize,
                                int64_t seqLen, int repeats, uint64_t seed) {
  const auto& cfg = model->config();
  const auto device = model->wte->weight.device();
  torch::manual_seed(seed);
  auto ids = torch::randint(cfg.vocabSize, {batchSize, seqLen}, torch::TensorOptions().dtype(torch::kLong)).to(device);
  // One warm-up (it also fills the mask cache); on a GPU each timed step ends with a synchronisation.
  auto time = [&](const std::function<void()>& f) { return timeCall(f, 1, repeats, device).medianMs / 1e3; };

  StepCostResult r;
  r.numMasks = static_cast<int64_t>(bank.masks.size());
  r.batchSize = batchSize;
  r.seqLen = seqLen;

  for (auto& p : model->parameters()) p.set_requires_grad(true);
  r.denseSeconds = time([&] {
    auto logits = model->forward(ids);
    auto loss = torch::nn::functional::cross_entropy(logits.narrow(1, 0, seqLen - 1).reshape({-1, cfg.vocabSize}),
                                                     ids.narrow(1, 1, seqLen - 1).reshape({-1}));
    model->zero_grad();
    loss.backward();
  });

  for (auto& p : model->parameters()) p.set_requires_grad(false);
  MaskMixtureCoefficients coeffs(cfg.numLayers, cfg.numHeads, r.numMasks, options);
  coeffs->to(device);
  MaskMixtureAttention student(bank, options, coeffs, cfg.numLayers, cfg.numHeads);
  r.studentSeconds = time([&] {
    torch::Tensor zT;
    {
      torch::NoGradGuard g;
      zT = model->forward(ids);
    }
    auto zS = model->forward(ids, nullptr, &student);
    auto logPT = torch::log_softmax(zT, -1);
    auto kl = (logPT.exp() * (logPT - torch::log_softmax(zS, -1))).sum(-1).mean();
    coeffs->zero_grad();
    kl.backward();
  });
  return r;
}

}  // namespace attnx
