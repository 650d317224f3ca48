#include "core/bench/attention_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include <torch/torch.h>

#include "core/bench/model_bench.h"
#include "core/bench/tracking_allocator.h"
#include "core/eval/compiled_plan_attention.h"

namespace attnx {

namespace {

AttentionBenchPlan uniformPlan(const std::string& name, std::vector<MaskSpec> masks, int64_t heads) {
  AttentionBenchPlan p;
  p.name = name;
  p.bank.name = name;
  p.bank.masks = std::move(masks);
  p.bank.validate();
  const std::vector<double> alpha(static_cast<size_t>(heads) * p.bank.masks.size(), 1.0);
  p.plan = AttentionPlan::fromAlpha(alpha, 1, heads, p.bank, PruningRule::thresholdRule(0));
  return p;
}

// Bytes dense attention holds for `rows` query rows: scores and probabilities (B, H, rows, n) in
// fp32 plus the (rows, n) boolean mask.
int64_t denseChunkBytes(const AttentionBenchOptions& o, int64_t rows, int64_t n) {
  return 2 * o.batch * o.heads * rows * n * 4 + rows * n;
}

// Dense causal attention as a LibTorch user writes it: matmul, masked softmax, matmul; in chunks of
// query rows when the whole (n, n) would not fit the budget.
torch::Tensor denseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             int64_t rowsPerChunk) {
  const int64_t n = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const double negInf = -std::numeric_limits<double>::infinity();
  if (rowsPerChunk >= n) {
    const auto future = torch::ones({n, n}, torch::kBool).triu(1);
    const auto S = torch::matmul(q, k.transpose(-2, -1)).mul_(scale).masked_fill_(future, negInf);
    return torch::matmul(torch::softmax(S, -1), v);
  }
  auto out = torch::empty_like(q);
  for (int64_t r0 = 0; r0 < n; r0 += rowsPerChunk) {
    const int64_t r1 = std::min(n, r0 + rowsPerChunk);
    // Row r (absolute r0 + r) may see keys 0 .. r0 + r; later keys are not even multiplied.
    const auto keys = k.narrow(2, 0, r1), values = v.narrow(2, 0, r1);
    const auto future = torch::arange(r1).unsqueeze(0) > torch::arange(r0, r1).unsqueeze(1);
    const auto S = torch::matmul(q.narrow(2, r0, r1 - r0), keys.transpose(-2, -1)).mul_(scale).masked_fill_(future, negInf);
    out.narrow(2, r0, r1 - r0).copy_(torch::matmul(torch::softmax(S, -1), values));
  }
  return out;
}


std::string formatBytes(double bytes) {
  std::ostringstream s;
  s.precision(3);
  s << bytes / double(int64_t{1} << 30) << " GiB";
  return s.str();
}

}  // namespace

std::vector<AttentionBenchPlan> builtinBenchPlans(int64_t heads) {
  return {uniformPlan("window256+sinks4", {MaskSpec::window("window256", 256), MaskSpec::sinks("sinks4", 4)}, heads),
          uniformPlan("strided128", {MaskSpec::window("window128", 128), MaskSpec::strided("stride128", 128)}, heads),
          uniformPlan("block256+sinks4", {MaskSpec::blockLocal("block256", 256), MaskSpec::sinks("sinks4", 4)}, heads)};
}

AttentionBenchPlan flattenPlan(const std::string& name, const MaskBank& bank, const AttentionPlan& plan,
                               PlanCombine combine, int64_t heads) {
  plan.validate();
  plan.checkBank(bank);
  AttentionBenchPlan p;
  p.name = name;
  p.bank = bank;
  p.combine = combine;
  p.plan = plan;
  p.plan.numLayers = 1;
  p.plan.numHeads = heads;
  p.plan.heads.clear();
  const auto flat = static_cast<int64_t>(plan.heads.size());
  for (int64_t h = 0; h < heads; ++h) p.plan.heads.push_back(plan.heads[h % flat]);
  p.plan.validate();
  return p;
}

std::vector<AttentionBenchRow> benchAttention(const AttentionBenchOptions& o, const std::vector<AttentionBenchPlan>& plans,
                                              const AttentionBenchProgress& progress) {
  torch::NoGradGuard noGrad;
  TrackingAllocatorScope tracking;
  const int64_t total = static_cast<int64_t>(o.seqLens.size() * (plans.size() + (o.dense ? 1 : 0)));
  int64_t index = 0;
  std::vector<AttentionBenchRow> rows;
  for (int64_t n : o.seqLens) {
    torch::manual_seed(o.seed);
    const auto q = torch::randn({o.batch, o.heads, n, o.headDim});
    const auto k = torch::randn({o.batch, o.heads, n, o.headDim});
    const auto v = torch::randn({o.batch, o.heads, n, o.headDim});
    if (o.dense) {
      if (progress) progress(++index, total, "dense", n);
      AttentionBenchRow row;
      row.plan = "dense";
      row.n = n;
      row.flops = AttentionPlan::denseAttentionFlops(1, o.heads, o.headDim, n) * o.batch;
      int64_t rowsPerChunk = n;
      while (rowsPerChunk > 1 && denseChunkBytes(o, rowsPerChunk, n) > o.maxDenseBytes) rowsPerChunk = (rowsPerChunk + 1) / 2;
      if (denseChunkBytes(o, rowsPerChunk, n) > o.maxDenseBytes) {
        row.skipped = true;
        row.note = "skipped: one query row of dense scores exceeds --max-dense-bytes";
      } else {
        if (rowsPerChunk < n)
          row.note = "chunked: " + std::to_string((n + rowsPerChunk - 1) / rowsPerChunk) + " chunks of " +
                     std::to_string(rowsPerChunk) + " query rows (whole n x n would need " +
                     formatBytes(static_cast<double>(denseChunkBytes(o, n, n))) + " > --max-dense-bytes " +
                     formatBytes(static_cast<double>(o.maxDenseBytes)) + ")";
        const auto t = timeCall([&] { denseAttention(q, k, v, rowsPerChunk); }, o.warmup, o.repeats);
        row.timeMs = t.medianMs;
        row.peakBytes = t.peakBytes;
        row.gflops = row.flops / (row.timeMs * 1e6);
      }
      rows.push_back(row);
    }
    for (const auto& plan : plans) {
      if (progress) progress(++index, total, plan.name, n);
      AttentionBenchRow row;
      row.plan = plan.name;
      row.n = n;
      row.density = plan.plan.meanDensity(plan.bank, n);
      row.flops = plan.plan.attentionFlops(plan.bank, plan.combine, o.headDim, n) * o.batch;
      CompiledPlanAttention kernel(plan.plan, plan.bank, plan.combine, false, o.blockSize);
      const auto c0 = std::chrono::steady_clock::now();
      const auto layouts = kernel.layouts().get(n, 0);
      const double compileMs =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count();
      const int threadsBefore = torch::get_num_threads();
      if (o.sparseThreads > 0) torch::set_num_threads(o.sparseThreads);
      const auto t = timeCall([&] { kernel.forward(q, k, v, 0, 0); }, o.warmup, o.repeats);
      const int threadsUsed = torch::get_num_threads();
      torch::set_num_threads(threadsBefore);
      row.timeMs = t.medianMs;
      row.peakBytes = t.peakBytes;
      row.gflops = row.flops / (row.timeMs * 1e6);
      std::ostringstream note;
      note.precision(3);
      int64_t tiles = 0, full = 0;
      for (const auto& l : layouts->unionLayouts)
        if (l) tiles += l->numTiles(), full += l->fullTiles();
      note << "layout compiled once in " << compileMs << " ms (cached); " << tiles << " tiles over " << o.heads
           << " heads, " << full << " full; " << threadsUsed << " threads";
      row.note = note.str();
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace attnx
