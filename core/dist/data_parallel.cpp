#include "core/dist/data_parallel.h"

#include <chrono>

#include "core/util/torch_compat.h"

namespace attnx {

void averageStep(ProcessGroup& group, const std::vector<torch::Tensor>& params, StepExchange& exchange, int64_t step) {
  torch::NoGradGuard g;
  const int W = group.size();
  std::vector<torch::Tensor> tensors;
  for (const auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    tensors.push_back(p.grad());
  }
  // Scalars, stop flags (one slot per rank, so the survivors can say who asked) and the extra, in
  // the gradients' dtype so that they ride in the last gradient bucket.
  const auto options = params.empty() ? torch::TensorOptions(torch::kFloat32)
                                      : torch::TensorOptions().dtype(params.back().scalar_type()).device(params.back().device());
  const int64_t nScalars = static_cast<int64_t>(exchange.scalars.size());
  const int64_t nExtra = exchange.extra.defined() ? exchange.extra.numel() : 0;
  auto side = torch::zeros({nScalars + W + nExtra}, torch::kFloat32);
  auto acc = side.accessor<float, 1>();
  for (int64_t i = 0; i < nScalars; ++i) acc[i] = static_cast<float>(exchange.scalars[size_t(i)]);
  if (exchange.stopRequested) acc[nScalars + group.rank()] = 1;
  side = side.to(options);
  if (nExtra) side.narrow(0, nScalars + W, nExtra).copy_(exchange.extra.detach().reshape({-1}));
  tensors.push_back(side);

  // A barrier first, so that the all-reduce's time is its own cost and not the wait for a slower
  // rank (a tiny collective: tens of microseconds on NCCL, well under a millisecond on Gloo here).
  const auto t0 = std::chrono::steady_clock::now();
  group.barrier("the end of step " + std::to_string(step));
  const auto t1 = std::chrono::steady_clock::now();
  group.sumInPlace(tensors, "the gradient all-reduce of step " + std::to_string(step));
  exchange.waitSeconds = std::chrono::duration<double>(t1 - t0).count();
  exchange.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  for (size_t i = 0; i + 1 < tensors.size(); ++i) tensors[i].div_(W);
  const auto host = side.to(torch::kCPU, torch::kFloat32);
  auto back = host.accessor<float, 1>();
  for (int64_t i = 0; i < nScalars; ++i) exchange.scalars[size_t(i)] = back[i] / W;
  exchange.stoppingRanks.clear();
  for (int r = 0; r < W; ++r)
    if (back[nScalars + r] > 0) exchange.stoppingRanks.push_back(r);
  if (nExtra)
    exchange.extra.copy_(side.narrow(0, nScalars + W, nExtra).div(W).view(exchange.extra.sizes()).to(exchange.extra.device()));
}

void broadcastTrainingState(ProcessGroup& group, const std::vector<torch::Tensor>& params,
                            torch::optim::AdamW& optimizer, int64_t& step, double& elapsed) {
  torch::NoGradGuard g;
  const auto device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  // AdamW's step count: rank 0's, so that the others create moments to receive when it has some.
  int64_t adamStep = 0;
  auto& state = optimizer.state();
  for (const auto& p : params) {
    auto it = state.find(compat::optimizerStateKey(p));
    if (it != state.end()) adamStep = static_cast<torch::optim::AdamWParamState&>(*it->second).step();
  }
  auto counters = torch::tensor({double(step), elapsed, double(adamStep)}, torch::kFloat64).to(device);
  group.broadcastInPlace({counters}, 0, "sharing rank 0's step counters");
  counters = counters.to(torch::kCPU);
  step = static_cast<int64_t>(counters[0].item<double>());
  elapsed = counters[1].item<double>();
  adamStep = static_cast<int64_t>(counters[2].item<double>());

  std::vector<torch::Tensor> all(params.begin(), params.end());
  if (adamStep > 0) {
    for (const auto& p : params) {
      auto key = compat::optimizerStateKey(p);
      if (!state.count(key)) {
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->exp_avg(torch::zeros_like(p));
        st->exp_avg_sq(torch::zeros_like(p));
        state[key] = std::move(st);
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*state[key]);
      st.step(adamStep);
      all.push_back(st.exp_avg());
      all.push_back(st.exp_avg_sq());
    }
  } else {
    state.clear();  // rank 0 has taken no step: nobody keeps moments
  }
  group.broadcastInPlace(all, 0, "sharing rank 0's parameters and optimiser state");
}

}  // namespace attnx
