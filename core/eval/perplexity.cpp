#include "core/eval/perplexity.h"

#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

namespace attnx {

double TokenScores::meanNll() const {
  if (logprobs.empty()) return 0.0;
  double sum = 0;
  for (double lp : logprobs) sum -= lp;
  return sum / static_cast<double>(logprobs.size());
}

double TokenScores::perplexity() const { return std::exp(meanNll()); }

TokenScores scoreTokens(Gpt2& model, const std::vector<int64_t>& ids, int64_t stride, const AttentionKernel* kernel) {
  torch::NoGradGuard noGrad;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t window = model->config().contextLength;
  if (stride <= 0) stride = std::max<int64_t>(1, window / 2);
  if (stride > window) throw std::invalid_argument("stride must not exceed the context length");
  const auto device = model->wte->weight.device();
  TokenScores out;
  if (n < 2) return out;  // nothing to predict
  out.logprobs.reserve(n - 1);

  // Window w covers [begin, end); it scores targets [scoredFrom, end), predicted from position t-1.
  int64_t scoredUpTo = 1;  // the first token has no prediction
  for (int64_t end = std::min(n, window);; end = std::min(n, end + stride)) {
    const int64_t begin = std::max<int64_t>(0, end - window);
    auto input = torch::tensor(std::vector<int64_t>(ids.begin() + begin, ids.begin() + end), torch::kLong)
                     .unsqueeze(0).to(device);
    auto logp = torch::log_softmax(model->forward(input, nullptr, kernel)[0].to(torch::kFloat64), -1);  // (T, V)
    auto targets = input[0].narrow(0, 1, end - begin - 1);
    auto picked = logp.narrow(0, 0, end - begin - 1).gather(1, targets.unsqueeze(1)).squeeze(1).cpu();  // (T-1)
    const double* lp = picked.data_ptr<double>();
    for (int64_t t = scoredUpTo; t < end; ++t) {
      if (!std::isfinite(lp[t - begin - 1]))
        throw std::runtime_error("the model gave token " + std::to_string(t) + " a log-probability of " +
                                 std::to_string(lp[t - begin - 1]) + ": NaN or Inf in its weights, plan or attention");
      out.logprobs.push_back(lp[t - begin - 1]);
    }
    scoredUpTo = end;
    if (end >= n) break;
  }
  return out;
}

}  // namespace attnx
