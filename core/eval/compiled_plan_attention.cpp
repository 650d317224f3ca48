#include "core/eval/compiled_plan_attention.h"

#include <limits>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/cuda/sparse_attention_cuda.h"
#include "core/masks/sparse_attention.h"

namespace attnx {

namespace {

// The block-sparse kernel for q's device: the CPU kernels (with autograd), or the CUDA forward.
torch::Tensor sparseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const std::shared_ptr<const SparseHeads>& heads, const torch::Tensor& alpha = {}) {
  if (!q.is_cuda()) return blockSparseAttention(q, k, v, heads, alpha);
  TORCH_CHECK(!(q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                (alpha.defined() && alpha.requires_grad())) || !torch::GradMode::is_enabled(),
              "compiled plan: the CUDA kernel has no backward; fine-tune and distil on the CPU kernels");
  return blockSparseAttentionCuda(q, k, v, *heads, alpha);
}

}  // namespace

CompiledPlanAttention::CompiledPlanAttention(AttentionPlan plan, MaskBank bank, PlanCombine combine,
                                             bool normaliseBranches, int64_t blockSize)
    : cache_(std::make_shared<PlanLayoutCache>(std::move(plan), std::move(bank), combine, blockSize)),
      combine_(combine), normaliseBranches_(normaliseBranches) {
  const auto& p = cache_->plan();
  const auto values = p.alphaTensorValues();
  const auto shape = std::vector<int64_t>{p.numLayers, p.numHeads, p.numMasks()};
  alpha_ = torch::tensor(values, torch::kFloat64).view(shape).to(torch::kFloat32);
  std::vector<double> active(values.size(), 0.0);
  for (int64_t l = 0; l < p.numLayers; ++l)
    for (int64_t h = 0; h < p.numHeads; ++h)
      for (const auto& e : p.active(l, h)) active[(l * p.numHeads + h) * p.numMasks() + e.maskIndex] = 1.0;
  active_ = torch::tensor(active, torch::kFloat64).view(shape).to(torch::kFloat32);
  reach_ = p.keyReach(cache_->bank());
}

void CompiledPlanAttention::setAlpha(torch::Tensor alpha) {
  TORCH_CHECK(alpha.sizes() == alpha_.sizes(), "compiled plan: alpha must be ", alpha_.sizes(), ", got ", alpha.sizes());
  alpha_ = std::move(alpha);
}

void CompiledPlanAttention::checkInputs(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                        int64_t queryOffset) const {
  const auto& p = cache_->plan();
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4, "compiled plan: q and k must be (B, H, T, d)");
  TORCH_CHECK(q.device().is_cpu() || (q.is_cuda() && cudaSparseAttentionBuilt()),
              "compiled plan: this build's block-sparse kernel runs on the CPU only (got ", q.device(),
              "); build with CUDA (README, \"Building with CUDA\") or use the dense-masked student");
  TORCH_CHECK(q.device().is_cpu() || q.scalar_type() == torch::kFloat32,
              "compiled plan: the CUDA kernel takes float32 q, k, v (got ", q.scalar_type(), ")");
  TORCH_CHECK(q.size(1) == p.numHeads, "compiled plan: ", q.size(1), " heads, the plan is for ", p.numHeads);
  TORCH_CHECK(layer >= 0 && layer < p.numLayers, "compiled plan: layer ", layer, " out of range [0, ", p.numLayers, ")");
  TORCH_CHECK(queryOffset >= 0 && queryOffset + q.size(2) == k.size(2), "compiled plan: Tk (", k.size(2),
              ") must be queryOffset (", queryOffset, ") + Tq (", q.size(2), ")");
}

torch::Tensor CompiledPlanAttention::layerAlpha(int64_t layer) const {
  auto a = alpha_.select(0, layer).to(torch::kFloat32) * active_.select(0, layer);  // (H, K)
  if (combine_ == PlanCombine::BranchMixture && normaliseBranches_) {
    auto sum = a.sum(-1, /*keepdim=*/true);
    a = a / torch::where(sum > 0, sum, torch::ones_like(sum));
  }
  return a;
}

torch::Tensor CompiledPlanAttention::forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                             int64_t layer, int64_t queryOffset) const {
  checkInputs(q, k, layer, queryOffset);
  return run(q, k, v, layer, *cache_->get(k.size(2), queryOffset));
}

torch::Tensor CompiledPlanAttention::forwardAt(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                               int64_t layer, const std::vector<int64_t>& keyPositions) const {
  checkInputs(q, k, layer, k.size(2) - q.size(2));
  TORCH_CHECK(static_cast<int64_t>(keyPositions.size()) == k.size(2), "compiled plan: ", keyPositions.size(),
              " key positions for ", k.size(2), " keys");
  return run(q, k, v, layer, *cache_->getAt(keyPositions, k.size(2) - q.size(2)));
}

std::shared_ptr<SparseHeads> CompiledPlanAttention::unionHeads(const PlanLayouts& layouts, int64_t layer) const {
  const auto& p = cache_->plan();
  const int64_t H = p.numHeads;
  auto heads = std::make_shared<SparseHeads>();
  for (int64_t h = 0; h < H; ++h) {
    heads->layouts.push_back(layouts.unionLayouts[layer * H + h]);
    heads->columns.emplace_back();
    for (const auto& e : p.active(layer, h)) heads->columns.back().push_back(e.maskIndex);
  }
  return heads;
}

torch::Tensor CompiledPlanAttention::run(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                         int64_t layer, const PlanLayouts& layouts) const {
  const auto& p = cache_->plan();
  const int64_t H = p.numHeads;
  const auto a = layerAlpha(layer);
  if (combine_ == PlanCombine::SoftMask) return sparseAttention(q, k, v, unionHeads(layouts, layer), a);
  // Branch mixture: slot s runs every head's s-th active mask; O = sum_s alpha_s O_s.
  size_t slots = 0;
  for (int64_t h = 0; h < H; ++h) slots = std::max(slots, p.active(layer, h).size());
  auto out = torch::zeros({q.size(0), H, q.size(2), v.size(3)}, v.options());
  for (size_t s = 0; s < slots; ++s) {
    auto heads = std::make_shared<SparseHeads>();
    std::vector<int64_t> column(H, 0);
    std::vector<float> present(H, 0.f);
    for (int64_t h = 0; h < H; ++h) {
      const auto& branches = layouts.branchLayouts[layer * H + h];
      heads->layouts.push_back(s < branches.size() ? branches[s] : nullptr);
      if (s < branches.size()) {
        column[h] = p.active(layer, h)[s].maskIndex;
        present[h] = 1.f;
      }
    }
    const auto alphaS = (a.gather(1, torch::tensor(column, torch::kLong).unsqueeze(1)).squeeze(1) *
                         torch::tensor(present, torch::kFloat32)).to(v.device());  // (H)
    out = out + alphaS.view({1, H, 1, 1}) * sparseAttention(q, k, v, heads);
  }
  return out;
}

namespace {

// The (Tq, Tk) member bits of a layout, dense: for heatmaps only.
std::vector<MaskMembers> denseMembers(const BlockLayout& L) {
  std::vector<MaskMembers> out(static_cast<size_t>(L.rows() * L.n), 0);
  const int64_t bs = L.blockSize;
  for (int64_t qb = 0; qb < L.numQueryBlocks(); ++qb) {
    const int64_t first = L.firstRow(qb);
    for (int64_t t = L.tileStart[qb]; t < L.tileStart[qb + 1]; ++t) {
      const auto& tile = L.tiles[t];
      const int64_t k0 = tile.keyBlock * bs, C = std::min(bs, L.n - k0);
      for (int64_t r = 0; r < L.rowsIn(qb); ++r)
        for (int64_t j = 0; j < C; ++j) {
          const MaskMembers m = tile.full ? (k0 + j <= first + r ? tile.members : 0)
                                          : L.patterns[tile.pattern][r * bs + j];
          out[(first + r - L.rowBegin) * L.n + k0 + j] = m;
        }
    }
  }
  return out;
}

}  // namespace

torch::Tensor CompiledPlanAttention::probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                                                   int64_t queryOffset) const {
  checkInputs(q, k, layer, queryOffset);
  torch::NoGradGuard noGrad;
  const auto& p = cache_->plan();
  const int64_t H = p.numHeads, Tq = q.size(2), Tk = k.size(2);
  const auto layouts = cache_->get(Tk, queryOffset);
  const auto a = layerAlpha(layer).contiguous();
  const auto* ad = a.data_ptr<float>();
  const auto S = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));  // (B, H, Tq, Tk)
  const double negInf = -std::numeric_limits<double>::infinity();
  auto result = torch::zeros_like(S);
  for (int64_t h = 0; h < H; ++h) {
    const auto& active = p.active(layer, h);
    if (combine_ == PlanCombine::SoftMask) {
      auto W = torch::zeros({Tq, Tk}, torch::kFloat32);
      if (const auto* L = layouts->unionLayouts[layer * H + h].get()) {
        const auto members = denseMembers(*L);
        auto* w = W.data_ptr<float>();
        for (size_t i = 0; i < members.size(); ++i)
          for (size_t b = 0; b < active.size(); ++b)
            if (members[i] >> b & 1) w[i] += ad[h * a.size(1) + active[b].maskIndex];
      }
      // No attended key in a row: the diagonal, as in the kernel.
      auto empty = (W > 0).any(-1, true).logical_not();
      auto diag = torch::arange(Tk).unsqueeze(0) == torch::arange(queryOffset, Tk).unsqueeze(1);
      W = torch::where(empty.logical_and(diag), torch::ones_like(W), W);
      auto logW = torch::where(W > 0, torch::log(torch::where(W > 0, W, torch::ones_like(W))), torch::full_like(W, negInf));
      result.select(1, h).copy_(torch::softmax(S.select(1, h) + logW.to(S.device()), -1));
      continue;
    }
    const auto& branches = layouts->branchLayouts[layer * H + h];
    for (size_t s = 0; s < branches.size(); ++s) {
      const auto members = denseMembers(*branches[s]);
      auto allowed = torch::zeros({Tq, Tk}, torch::kBool);
      auto* m = allowed.data_ptr<bool>();
      for (size_t i = 0; i < members.size(); ++i) m[i] = members[i] != 0;
      const float alphaS = ad[h * a.size(1) + active[s].maskIndex];
      result.select(1, h).add_(alphaS * torch::softmax(S.select(1, h).masked_fill(allowed.logical_not().to(S.device()), negInf), -1));
    }
  }
  return result;
}

}  // namespace attnx
