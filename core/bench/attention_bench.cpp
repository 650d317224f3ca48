#include "core/bench/attention_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include <torch/torch.h>
#include <torch/version.h>

#include "core/bench/model_bench.h"
#include "core/bench/op_trace.h"
#include "core/bench/tracking_allocator.h"
#include "core/cuda/sparse_attention_cuda.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/masks/fused_attention.h"
#include "core/util/trace_span.h"

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
  return 2 * o.batch * o.heads * rows * n * static_cast<int64_t>(c10::elementSize(o.dtype)) + rows * n;
}

// Causal tiles of a dense (n, n) attention in blocks of bs: what a fused kernel computes.
double causalTiles(int64_t n, int64_t bs) {
  const double nb = static_cast<double>((n + bs - 1) / bs);
  return nb * (nb + 1) / 2;
}

// Dense causal attention as a LibTorch user writes it: matmul, masked softmax, matmul; in chunks of
// query rows when the whole (n, n) would not fit the budget.
torch::Tensor denseAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             int64_t rowsPerChunk) {
  const int64_t n = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const double negInf = -std::numeric_limits<double>::infinity();
  if (rowsPerChunk >= n) {
    const auto future = torch::ones({n, n}, q.options().dtype(torch::kBool)).triu(1);
    const auto S = torch::matmul(q, k.transpose(-2, -1)).mul_(scale).masked_fill_(future, negInf);
    return torch::matmul(torch::softmax(S, -1), v);
  }
  auto out = torch::empty_like(q);
  for (int64_t r0 = 0; r0 < n; r0 += rowsPerChunk) {
    const int64_t r1 = std::min(n, r0 + rowsPerChunk);
    // Row r (absolute r0 + r) may see keys 0 .. r0 + r; later keys are not even multiplied.
    const auto keys = k.narrow(2, 0, r1), values = v.narrow(2, 0, r1);
    const auto idx = q.options().dtype(torch::kLong);
    const auto future = torch::arange(r1, idx).unsqueeze(0) > torch::arange(r0, r1, idx).unsqueeze(1);
    const auto S = torch::matmul(q.narrow(2, r0, r1 - r0), keys.transpose(-2, -1)).mul_(scale).masked_fill_(future, negInf);
    out.narrow(2, r0, r1 - r0).copy_(torch::matmul(torch::softmax(S, -1), values));
  }
  return out;
}

// The median of the compiled plan's forward + backward, with gradients to q, k, v and its weights as
// training takes them (the gradient of the output random, fixed). The bench runs under NoGradGuard.
double timeBackward(CompiledPlanAttention& kernel, const torch::Tensor& q, const torch::Tensor& k,
                    const torch::Tensor& v, const AttentionBenchOptions& o) {
  torch::AutoGradMode grad(true);
  const auto alphaBefore = kernel.alpha();
  kernel.setAlpha(alphaBefore.detach().clone().requires_grad_());
  const auto qg = q.detach().clone().requires_grad_(), kg = k.detach().clone().requires_grad_(),
             vg = v.detach().clone().requires_grad_();
  const auto dOut = torch::randn_like(q);
  const auto t = timeCall(
      [&] {
        for (auto x : {qg, kg, vg, kernel.alpha()}) x.mutable_grad() = torch::Tensor();
        kernel.forward(qg, kg, vg, 0, 0).backward(dOut);
      },
      o.warmup, o.repeats, o.device);
  kernel.setAlpha(alphaBefore);
  return t.medianMs;
}

// Each row against the dense and fused-dense rows of its n.
void compareWithBaselines(std::vector<AttentionBenchRow>& rows) {
  std::map<int64_t, const AttentionBenchRow*> dense, fused;
  for (const auto& r : rows) {
    if (r.skipped) continue;
    if (r.plan == "dense") dense[r.n] = &r;
    if (r.plan == "fused-dense") fused[r.n] = &r;
  }
  for (auto& r : rows) {
    if (r.skipped) continue;
    const auto d = dense.find(r.n), f = fused.find(r.n);
    if (d != dense.end()) r.speedupVsDense = d->second->timeMs / r.timeMs;
    if (f != fused.end()) r.speedupVsFused = f->second->timeMs / r.timeMs;
  }
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

AttentionBenchPlan windowPlanAtDensity(double density, int64_t n, int64_t heads, int64_t blockSize) {
  AttentionBenchPlan best;
  double bestGap = std::numeric_limits<double>::infinity();
  for (int64_t w = blockSize; w <= n; w += blockSize) {
    auto p = uniformPlan("window" + std::to_string(w) + "+sinks4",
                         {MaskSpec::window("window" + std::to_string(w), w), MaskSpec::sinks("sinks4", 4)}, heads);
    const double gap = std::abs(p.plan.meanDensity(p.bank, n) - density);
    if (gap >= bestGap) break;  // density grows with w
    bestGap = gap;
    best = std::move(p);
  }
  return best;
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
                                              const AttentionBenchProgress& progress,
                                              const AttentionBenchRowDone& rowDone) {
  torch::NoGradGuard noGrad;
  TrackingAllocatorScope tracking;
  const bool sdpa = o.sdpa && TORCH_VERSION_MAJOR >= 2;
  const int64_t perLength =
      static_cast<int64_t>(plans.size() + o.densities.size()) + (o.dense ? 1 : 0) + (o.fusedDense && !o.device.is_cuda() ? 1 : 0) + (sdpa ? 1 : 0);
  const int64_t total = static_cast<int64_t>(o.seqLens.size()) * perLength;
  const double tileFlopsEach = static_cast<double>(o.blockSize * o.blockSize * 4 * o.headDim * o.batch);
  int64_t index = 0;
  std::vector<AttentionBenchRow> rows;
  auto finish = [&](AttentionBenchRow& row, const CallTiming& t) {
    row.timeMs = t.medianMs;
    row.peakBytes = t.peakBytes;
    row.gflops = row.flops / (row.timeMs * 1e6);
    row.tileGflops = row.tileFlops / (row.timeMs * 1e6);
  };
  // The last measured (n, ms) per workload, for --max-row-seconds.
  std::map<std::string, std::pair<int64_t, double>> last;
  auto overBudget = [&](AttentionBenchRow& row, const std::string& workload) {
    const auto it = last.find(workload);
    if (o.maxRowSeconds <= 0 || it == last.end()) return false;
    const double grow = static_cast<double>(row.n) / static_cast<double>(it->second.first);
    const double seconds = it->second.second * grow * grow * (o.warmup + o.repeats) / 1e3;
    if (seconds <= o.maxRowSeconds) return false;
    std::ostringstream note;
    note.precision(3);
    note << "skipped: predicted " << seconds << " s for " << o.warmup + o.repeats << " calls (" << it->second.second
         << " ms at n = " << it->second.first << ", grown as n^2) > --max-row-seconds";
    row.skipped = true;
    row.note = note.str();
    return true;
  };
  auto push = [&](const AttentionBenchRow& row, const std::string& workload) {
    if (!row.skipped) last[workload] = {row.n, row.timeMs};
    if (rowDone) rowDone(row);
    rows.push_back(row);
  };
  for (int64_t n : o.seqLens) {
    torch::manual_seed(o.seed);
    const auto options = torch::TensorOptions().dtype(o.dtype).device(o.device);
    const auto q = torch::randn({o.batch, o.heads, n, o.headDim}, options);
    const auto k = torch::randn({o.batch, o.heads, n, o.headDim}, options);
    const auto v = torch::randn({o.batch, o.heads, n, o.headDim}, options);
    const double denseFlops = AttentionPlan::denseAttentionFlops(1, o.heads, o.headDim, n) * o.batch;
    const double denseTileFlops = causalTiles(n, o.blockSize) * o.heads * tileFlopsEach;
    // Each row a span of a --trace, so that a trace's phases can be read per row (traceTotals).
    TraceSpan rowSpan;
    auto rowSpanName = [n](const std::string& name) { return kTraceRowPrefix + name + " n=" + std::to_string(n); };
    // A row that computes every causal pair (dense, SDPA).
    auto causalRow = [&](const std::string& name) {
      if (progress) progress(++index, total, name, n);
      rowSpan.begin(rowSpanName(name));
      AttentionBenchRow row;
      row.plan = name;
      row.n = n;
      row.flops = denseFlops;
      row.tileFlops = denseTileFlops;
      return row;
    };
    if (o.dense) {
      auto row = causalRow("dense");
      int64_t rowsPerChunk = n;
      while (rowsPerChunk > 1 && denseChunkBytes(o, rowsPerChunk, n) > o.maxDenseBytes) rowsPerChunk = (rowsPerChunk + 1) / 2;
      if (denseChunkBytes(o, rowsPerChunk, n) > o.maxDenseBytes) {
        row.skipped = true;
        row.note = "skipped: one query row of dense scores exceeds --max-dense-bytes";
      } else if (!overBudget(row, "dense")) {
        if (rowsPerChunk < n)
          row.note = "chunked: " + std::to_string((n + rowsPerChunk - 1) / rowsPerChunk) + " chunks of " +
                     std::to_string(rowsPerChunk) + " query rows (whole n x n would need " +
                     formatBytes(static_cast<double>(denseChunkBytes(o, n, n))) + " > --max-dense-bytes " +
                     formatBytes(static_cast<double>(o.maxDenseBytes)) + ")";
        finish(row, timeCall([&] { denseAttention(q, k, v, rowsPerChunk); }, o.warmup, o.repeats, o.device));
        // OpenBLAS's threads spin for a while after a call before they sleep (THREAD_TIMEOUT, ~0.1 s):
        // the rows that follow run on our own threads, which would share the cores with them.
        if (!o.device.is_cuda()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      push(row, "dense");
    }
    if (o.fusedDense && !o.device.is_cuda()) {
      auto row = causalRow("fused-dense");
      if (!overBudget(row, "fused-dense")) {
        const auto qf = q.to(torch::kFloat32), kf = k.to(torch::kFloat32), vf = v.to(torch::kFloat32);
        const int threadsBefore = torch::get_num_threads();
        if (o.sparseThreads > 0) torch::set_num_threads(o.sparseThreads);
        const int threadsUsed = torch::get_num_threads();
        finish(row, timeCall([&] { fusedCausalAttention(qf, kf, vf); }, o.warmup, o.repeats, o.device));
        torch::set_num_threads(threadsBefore);
        row.note = "fused causal attention (core/masks/fused_attention.h), 64 x 64 tiles, online softmax, " +
                   std::to_string(threadsUsed) + " threads";
      }
      push(row, "fused-dense");
    }
#if TORCH_VERSION_MAJOR >= 2
    if (sdpa) {
      auto row = causalRow("sdpa");
      if (!overBudget(row, "sdpa")) {
        finish(row, timeCall([&] { at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true); },
                             o.warmup, o.repeats, o.device));
        row.note = "at::scaled_dot_product_attention, is_causal";
      }
      push(row, "sdpa");
    }
#endif
    // The compiled kernels compute in float32.
    const bool converted = o.dtype != torch::kFloat32;
    const auto qf = q.to(torch::kFloat32), kf = k.to(torch::kFloat32), vf = v.to(torch::kFloat32);
    std::vector<const AttentionBenchPlan*> atN;
    std::vector<AttentionBenchPlan> sized;
    for (double d : o.densities) sized.push_back(windowPlanAtDensity(d, n, o.heads, o.blockSize));
    for (const auto& p : sized) atN.push_back(&p);
    for (const auto& p : plans) atN.push_back(&p);
    for (size_t i = 0; i < atN.size(); ++i) {
      const auto& plan = *atN[i];
      std::ostringstream sizedName;
      if (i < sized.size()) sizedName << "d" << o.densities[i] << ":" << plan.name;  // e.g. d0.125:window512+sinks4
      const std::string name = i < sized.size() ? sizedName.str() : plan.name;
      // The workload a row continues: the density it was sized to, or the plan.
      const std::string workload = i < sized.size() ? "d" + std::to_string(o.densities[i]) : plan.name;
      if (progress) progress(++index, total, name, n);
      rowSpan.begin(rowSpanName(name));
      AttentionBenchRow row;
      row.plan = name;
      row.n = n;
      row.density = plan.plan.meanDensity(plan.bank, n);
      row.flops = plan.plan.attentionFlops(plan.bank, plan.combine, o.headDim, n) * o.batch;
      if (row.flops > 0) row.flopRatio = denseFlops / row.flops;
      if (overBudget(row, workload)) {
        push(row, workload);
        continue;
      }
      CompiledPlanAttention kernel(plan.plan, plan.bank, plan.combine, false, o.blockSize);
      const auto c0 = std::chrono::steady_clock::now();
      const auto layouts = kernel.layouts().get(n, 0);
      const double compileMs =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count();
      // The tiles the kernel computes: the union layout once (soft mask), every branch (branch mixture).
      int64_t tiles = 0, full = 0;
      auto count = [&](const std::shared_ptr<const BlockLayout>& l) {
        if (l) tiles += l->numTiles(), full += l->fullTiles();
      };
      if (plan.combine == PlanCombine::BranchMixture) {
        for (const auto& head : layouts->branchLayouts)
          for (const auto& l : head) count(l);
      } else {
        for (const auto& l : layouts->unionLayouts) count(l);
      }
      row.tileFlops = static_cast<double>(tiles) * tileFlopsEach;
      const int threadsBefore = torch::get_num_threads();
      if (o.sparseThreads > 0 && !o.device.is_cuda()) torch::set_num_threads(o.sparseThreads);
      const auto t = timeCall([&] { kernel.forward(qf, kf, vf, 0, 0); }, o.warmup, o.repeats, o.device);
      std::optional<double> backwardMs;
      if (o.backward) backwardMs = timeBackward(kernel, qf, kf, vf, o) - t.medianMs;
      const int threadsUsed = torch::get_num_threads();
      torch::set_num_threads(threadsBefore);
      finish(row, t);
      row.backwardMs = backwardMs;
      std::ostringstream note;
      note.precision(3);
      note << "layout compiled once in " << compileMs << " ms (cached); " << tiles << " tiles over " << o.heads
           << " heads, " << full << " full; ";
      if (o.device.is_cuda()) {
        note << "CUDA kernel";
        if (plan.combine == PlanCombine::SoftMask) {
          // The host's share of a call: flattening the layouts the kernel reads (sent to the GPU each call).
          const auto heads = kernel.unionHeads(*layouts, 0);
          const auto f0 = std::chrono::steady_clock::now();
          const auto flat = flattenSparseHeads(qf, kf, vf, *heads, kernel.alpha().select(0, 0));
          note << ", host flattening " << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - f0).count()
               << " ms of it (" << flat.tileKeyBlock.size() << " tiles, " << flat.patterns.size() * 8 / 1024 << " KiB of patterns)";
        }
      } else {
        note << threadsUsed << " threads";
      }
      if (converted) note << "; float32 kernel on float32 copies of the inputs";
      row.note = note.str();
      push(row, workload);
    }
  }
  compareWithBaselines(rows);
  return rows;
}

}  // namespace attnx
