// Attention alone, dense against compiled block-sparse plans, across sequence lengths
// (`attnx-cli bench --attention-only`): time (median after warm-up), peak tensor memory
// (tracking allocator), analytic FLOPs and achieved GFLOP/s, one row per (plan, n).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/eval/attention_plan.h"
#include "core/masks/mask_bank.h"

namespace attnx {

struct AttentionBenchOptions {
  int64_t heads = 12, headDim = 64, batch = 1;
  std::vector<int64_t> seqLens{512, 1024, 2048, 4096, 8192, 16384};
  int warmup = 1;
  int repeats = 5;
  // Dense attention holds (B, H, rows, n) scores and probabilities: above this many bytes it runs in
  // query-row chunks (each chunk still materialises its rows x n block), and says so in the note.
  int64_t maxDenseBytes = int64_t{4} << 30;
  bool dense = true;
  int64_t blockSize = 64;
  uint64_t seed = 0;
  // Where and in what type q, k, v live. The compiled kernels compute in float32: for another type
  // they run on float32 copies made before timing (the note says so); dense and SDPA run in it.
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  // LibTorch's fused scaled_dot_product_attention (is_causal; FlashAttention on a GPU in fp16/bf16)
  // as an "sdpa" row; only where LibTorch has it (2.x; Debian's 1.13 has none).
  bool sdpa = true;
  // A row whose calls (warmup + repeats) would take longer than this, predicted from the same plan at
  // the previous length and the n^2 growth of attention, is skipped and says so (0: no limit). Keeps a
  // sweep to 65536 inside a time budget on a slow kernel.
  double maxRowSeconds = 0;
  // Window + 4 sinks plans sized at each n to these densities (e.g. 1/2 ... 1/32), beside `plans`.
  std::vector<double> densities;
  // Our own fused causal attention (core/masks/fused_attention.h) as a "fused-dense" row: the dense
  // baseline a fused CPU kernel gives, on the compiled kernel's threads.
  bool fusedDense = true;
  // Also time each compiled plan's forward + backward (q, k, v and its weights requiring gradients)
  // and report the backward's share: backwardMs = that time - the forward's.
  bool backward = false;
  // Intra-op threads for the compiled kernel's at::parallel_for (0: LibTorch's current setting).
  // Dense keeps LibTorch's setting: its matmuls run on OpenBLAS's own threads, and more OpenMP threads
  // on top oversubscribe the cores (bench/BENCH.md).
  int sparseThreads = 0;
};

// A plan to bench: one layer of `heads` heads over `bank`.
struct AttentionBenchPlan {
  std::string name;
  MaskBank bank;
  AttentionPlan plan;
  PlanCombine combine = PlanCombine::SoftMask;
};

// window 256 + 4 sinks; strided (window 128 + every 128th key, Sparse Transformer's "strided"
// pattern); block-local 256 + 4 sinks. Every head the same, weights 1, soft mask.
std::vector<AttentionBenchPlan> builtinBenchPlans(int64_t heads);
// Window w + 4 sinks, w a multiple of blockSize chosen so that the density at n is closest to `density`.
AttentionBenchPlan windowPlanAtDensity(double density, int64_t n, int64_t heads, int64_t blockSize);
// A learned plan (any L x H) laid out over `heads` heads of one layer: head h takes the plan's
// flat head h mod (L*H).
AttentionBenchPlan flattenPlan(const std::string& name, const MaskBank& bank, const AttentionPlan& plan,
                               PlanCombine combine, int64_t heads);

struct AttentionBenchRow {
  std::string plan;        // "dense" (LibTorch, unfused), "fused-dense", "sdpa" or the plan's name
  int64_t n = 0;
  double timeMs = 0;       // median
  int64_t peakBytes = 0;   // tensor bytes allocated above the inputs during one call, at the peak
  double flops = 0;        // analytic: attended pairs x 4d (dense: causal pairs x 4d), all heads and batch
  double gflops = 0;       // flops / time
  // Work as the hardware does it: every computed tile's bs x bs pairs x 4d (dense and SDPA: the causal
  // tiles), so that a sparse kernel's rate per computed block compares with SDPA's.
  double tileFlops = 0;
  double tileGflops = 0;
  double density = 1;      // attended pairs / causal pairs (mean over heads)
  std::optional<double> backwardMs;  // options.backward, compiled plans: median (forward + backward) - timeMs
  // Against the baselines of the same n (0 where that baseline did not run): their time over this
  // row's; flopRatio is dense flops over this row's (the speed-up the FLOP saving alone would give),
  // so speedupVsFused / flopRatio is the share of the saving turned into speed.
  double speedupVsDense = 0, speedupVsFused = 0, flopRatio = 1;
  // gflops over the machine's sgemm rate measured in the same run (core/bench/sgemm_ceiling.h); set by
  // the caller that measured it (0: not measured).
  double sgemmShare = 0;
  bool skipped = false;
  std::string note;
};

// progress(i, total, plan, n) as each row starts (i from 1).
using AttentionBenchProgress = std::function<void(int64_t, int64_t, const std::string&, int64_t)>;
// Each row as it is measured, so that a sweep cut short still leaves its numbers.
using AttentionBenchRowDone = std::function<void(const AttentionBenchRow&)>;

std::vector<AttentionBenchRow> benchAttention(const AttentionBenchOptions& options,
                                              const std::vector<AttentionBenchPlan>& plans,
                                              const AttentionBenchProgress& progress = {},
                                              const AttentionBenchRowDone& rowDone = {});

}  // namespace attnx
