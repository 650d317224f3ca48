#include "core/masks/sparse_attention.h"

#include <utility>

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "core/masks/sparse_attention_problem.h"

namespace attnx {

namespace {

// Keeps the layouts alive from forward to backward inside the autograd context.
struct HeadsHolder : torch::CustomClassHolder {
  HeadsHolder(std::shared_ptr<const SparseHeads> h, SparseKernel k) : heads(std::move(h)), kernel(k) {}
  std::shared_ptr<const SparseHeads> heads;
  SparseKernel kernel;
};

class BlockSparseFunction : public torch::autograd::Function<BlockSparseFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor q, torch::Tensor k,
                               torch::Tensor v, torch::Tensor alpha, c10::intrusive_ptr<HeadsHolder> holder) {
    q = q.contiguous(), k = k.contiguous(), v = v.contiguous();
    const bool soft = alpha.numel() > 0;
    const auto p = sparse::makeProblem(q, k, v, *holder->heads, soft ? alpha : torch::Tensor());
    auto result = holder->kernel == SparseKernel::Fast ? sparse::fastForward(p, q, k, v)
                                                       : sparse::referenceForward(p, q, k, v);
    ctx->save_for_backward({q, k, v, alpha, result.out, result.lse});
    ctx->saved_data["heads"] = c10::IValue::make_capsule(holder);
    return result.out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& q = saved[0];
    const auto& k = saved[1];
    const auto& v = saved[2];
    const auto& alpha = saved[3];
    const auto holder = c10::static_intrusive_pointer_cast<HeadsHolder>(ctx->saved_data["heads"].toCapsule());
    const bool soft = alpha.numel() > 0;
    const auto p = sparse::makeProblem(q, k, v, *holder->heads, soft ? alpha : torch::Tensor());
    const auto backward = holder->kernel == SparseKernel::Fast ? sparse::fastBackward : sparse::referenceBackward;
    const auto g = backward(p, q, k, v, saved[4], saved[5], grads[0].contiguous(), soft ? alpha.size(1) : 0);
    return {g.dq, g.dk, g.dv, soft ? g.dalpha.to(alpha.dtype()) : torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor blockSparseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   std::shared_ptr<const SparseHeads> heads, const torch::Tensor& alpha, SparseKernel kernel) {
  TORCH_CHECK(heads, "sparse attention: no layouts");
  TORCH_CHECK(q.device().is_cpu(), "sparse attention: the block-sparse kernel runs on the CPU (the CUDA forward is "
              "blockSparseAttentionCuda, core/cuda/sparse_attention_cuda.h)");
  RECORD_FUNCTION("attnx::block_sparse_attention", std::vector<c10::IValue>({q, k, v}));
  auto holder = c10::make_intrusive<HeadsHolder>(std::move(heads), kernel);
  // An empty alpha (not undefined) says "support mode": Function inputs must be defined tensors.
  const auto a = alpha.defined() ? alpha : torch::zeros({0}, q.options());
  return BlockSparseFunction::apply(q, k, v, a, holder);
}

}  // namespace attnx
