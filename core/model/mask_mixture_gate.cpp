#include "core/model/mask_mixture_gate.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace attnx {

MaskMixtureGateImpl::MaskMixtureGateImpl(int64_t numLayers, int64_t numHeads, int64_t numMasks, int64_t headDim,
                                         double initialGate)
    : numLayers_(numLayers), numHeads_(numHeads), numMasks_(numMasks), headDim_(headDim) {
  if (numLayers < 1 || numHeads < 1 || numMasks < 1 || headDim < 1)
    throw std::invalid_argument("mixture gate: layers, heads, masks and head size must be >= 1, got " +
                                std::to_string(numLayers) + ", " + std::to_string(numHeads) + ", " +
                                std::to_string(numMasks) + ", " + std::to_string(headDim));
  if (!(initialGate > 0 && initialGate < 1))
    throw std::invalid_argument("mixture gate: the gate is a sigmoid, its initial value must be in (0, 1), got " +
                                std::to_string(initialGate));
  weight = register_parameter("weight", torch::zeros({numLayers, numHeads, numMasks, headDim}, torch::kFloat32));
  bias = register_parameter("bias", torch::full({numLayers, numHeads, numMasks},
                                                std::log(initialGate / (1 - initialGate)), torch::kFloat32));
}

torch::Tensor MaskMixtureGateImpl::forward(const torch::Tensor& q, int64_t layer) const {
  TORCH_CHECK(q.dim() == 4 && q.size(1) == numHeads_ && q.size(3) == headDim_, "mixture gate: q must be (B, ",
              numHeads_, ", T, ", headDim_, "), got ", q.sizes());
  TORCH_CHECK(layer >= 0 && layer < numLayers_, "mixture gate: layer ", layer, " out of range [0, ", numLayers_, ")");
  const auto w = weight[layer].to(q.scalar_type());                   // (H, K, d)
  const auto b = bias[layer].to(q.scalar_type()).view({1, numHeads_, 1, numMasks_});
  return torch::sigmoid(torch::matmul(q, w.transpose(-2, -1)) + b);  // (B, H, Tq, K)
}

}  // namespace attnx
