#include "core/model/dense_attention.h"

#include <cmath>

#include <torch/torch.h>

namespace attnx {

torch::Tensor causalMask(int64_t Tq, int64_t Tk, int64_t queryOffset, const torch::Device& device) {
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto qpos = torch::arange(queryOffset, queryOffset + Tq, opts).unsqueeze(1);  // (Tq, 1)
  auto kpos = torch::arange(0, Tk, opts).unsqueeze(0);                          // (1, Tk)
  return kpos <= qpos;                                                           // (Tq, Tk)
}

torch::Tensor DenseCausalAttention::probabilities(const torch::Tensor& q, const torch::Tensor& k,
                                                  int64_t /*layer*/, int64_t queryOffset) const {
  const auto Tq = q.size(2), Tk = k.size(2);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));  // (B,H,Tq,Tk)
  if (Tq > 1 || queryOffset + Tq != Tk) {
    // A single query at the newest position sees every key: no mask needed (decoding fast path).
    auto allowed = causalMask(Tq, Tk, queryOffset, q.device());
    scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  }
  return torch::softmax(scores, -1);
}

torch::Tensor DenseCausalAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                            const torch::Tensor& v, int64_t layer,
                                            int64_t queryOffset) const {
  return torch::matmul(probabilities(q, k, layer, queryOffset), v);  // (B,H,Tq,d)
}

}  // namespace attnx
