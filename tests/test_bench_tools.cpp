// Measurement tools of the sparse-attention benchmarks: the tracking allocator's counts against
// tensors of known size, the Chrome trace file (valid JSON with operator events), and the output
// contract of `attnx-cli bench --attention-only` (JSON keys, CSV rows, progress lines).
#include <QtTest>

#include <QProcess>
#include <QTemporaryDir>

#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "core/bench/op_trace.h"
#include "core/bench/tracking_allocator.h"
#include "core/bench/memory_probe.h"
#include "core/eval/compiled_plan_attention.h"
#include "core/util/allocator_tuning.h"
#include "tests/support/test_support.h"

using namespace attnx;

class TestBenchTools : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void trackingAllocatorCountsTensorBytes() {
    const auto outside = torch::empty({1000}, torch::kFloat32);  // before the scope: never counted
    TrackingAllocatorScope scope;
    const int64_t base = trackedTensorMemory().currentBytes;
    QCOMPARE(trackedTensorMemory().peakBytes, base);
    {
      auto a = torch::empty({1000}, torch::kFloat32);  // 4000 bytes
      QCOMPARE(trackedTensorMemory().currentBytes - base, int64_t{4000});
      auto b = torch::empty({250, 8}, torch::kFloat64);  // 16000 bytes
      QCOMPARE(trackedTensorMemory().currentBytes - base, int64_t{20000});
      a = torch::Tensor();  // frees 4000
      QCOMPARE(trackedTensorMemory().currentBytes - base, int64_t{16000});
      QCOMPARE(trackedTensorMemory().peakBytes - base, int64_t{20000});
      resetTrackedPeak();
      QCOMPARE(trackedTensorMemory().peakBytes - base, int64_t{16000});
      {
        TrackingAllocatorScope nested;  // must not count twice
        auto c = torch::empty({100}, torch::kInt8);
        QCOMPARE(trackedTensorMemory().currentBytes - base, int64_t{16100});
      }
      QCOMPARE(trackedTensorMemory().currentBytes - base, int64_t{16000});
    }
    QCOMPARE(trackedTensorMemory().currentBytes, base);
  }

  void trackingStopsWhenTheScopeEnds() {
    int64_t before = 0;
    {
      TrackingAllocatorScope scope;
      before = trackedTensorMemory().currentBytes;
    }
    auto untracked = torch::empty({4096}, torch::kFloat32);
    QCOMPARE(trackedTensorMemory().currentBytes, before);
  }

  // With the apps' tuning malloc keeps freed memory; releaseFreedMemory must hand it back. The
  // kernel's resident count is the independent witness.
  void releaseFreedMemoryHandsPagesBack() {
#if !defined(__GLIBC__) || !defined(__linux__)
    QSKIP("malloc_trim and /proc resident sizes are glibc/Linux only");
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    QSKIP("a sanitizer's allocator replaces glibc malloc: malloc_trim and mallopt do not reach it");
#else
    mallopt(M_MMAP_THRESHOLD, 64 << 20);  // 256 KiB blocks from the heap, as under the apps' tunables
    mallopt(M_TRIM_THRESHOLD, INT32_MAX);  // and kept after free
    constexpr size_t kBlock = 256 << 10, kBlocks = 400;  // 100 MiB
    std::vector<char*> blocks;
    for (size_t i = 0; i < kBlocks; ++i) {
      blocks.push_back(static_cast<char*>(std::malloc(kBlock)));
      QVERIFY(blocks.back());
      std::memset(blocks.back(), 1, kBlock);  // resident
    }
    void* pin = std::malloc(64);  // above the blocks: free space below it cannot be trimmed from the top
    for (char* b : blocks) std::free(b);
    const int64_t held = residentMemory().currentBytes;
    const bool released = releaseFreedMemory();
    const int64_t after = residentMemory().currentBytes;
    std::free(pin);
    mallopt(M_TRIM_THRESHOLD, 128 << 10);  // glibc's defaults back
    mallopt(M_MMAP_THRESHOLD, 128 << 10);
    QVERIFY(released);
    QVERIFY2(held - after > int64_t{80} << 20, qPrintable(QStringLiteral("resident %1 -> %2 MiB")
                                                              .arg(held >> 20)
                                                              .arg(after >> 20)));
#endif
  }

  void traceIsValidChromeJson() {
    QTemporaryDir dir;
    const auto path = dir.filePath("trace.json").toStdString();
    const auto bank = test::makeBank({MaskSpec::window("w8", 8), MaskSpec::sinks("s1", 1)});
    const auto plan = AttentionPlan::fromAlpha({1.0, 1.0}, 1, 1, bank, PruningRule::thresholdRule(0));
    CompiledPlanAttention kernel(plan, bank, PlanCombine::SoftMask, false, 16);
    const auto q = torch::randn({1, 1, 40, 8});
    const auto qg = q.clone().requires_grad_();
    const auto events = writeOperatorTrace(path, [&] {
      torch::matmul(q, q.transpose(-2, -1));
      kernel.forward(q, q, q, 0, 0);
      kernel.forward(qg, qg, qg, 0, 0).sum().backward();
    });
    QVERIFY(events > 0);
    const auto doc = test::readJsonFile(path);  // throws on invalid JSON
    const auto& list = doc.is_array() ? doc : doc.at("traceEvents");
    QVERIFY(list.is_array() && !list.empty());
    bool sawMatmul = false, sawSparse = false;
    // The kernel's phases, each a span per query block (3 blocks of 16 rows at n = 40), forward and backward.
    std::map<std::string, int> phases;
    for (const char* phase : {"scores", "softmax", "pv", "backward_p", "backward_dv_dp", "backward_dz", "backward_dq_dk"})
      phases[std::string("attnx::sparse::") + phase] = 0;
    for (const auto& e : list) {
      QVERIFY(e.contains("name") && e.contains("ph") && e.contains("ts"));
      const auto name = e.at("name").get<std::string>();
      sawMatmul = sawMatmul || name == "aten::matmul";
      sawSparse = sawSparse || name == "attnx::block_sparse_attention";
      if (phases.count(name)) ++phases[name];
    }
    QVERIFY(sawMatmul);
    QVERIFY(sawSparse);
    for (const auto& [name, count] : phases)  // two forwards, one backward
      QVERIFY2(count == (name.find("backward") == std::string::npos ? 6 : 3),
               qPrintable(QString::fromStdString(name) + QString(": %1 spans").arg(count)));
  }

  // traceTotals on a trace written here: two rows, a phase on two threads inside the second, a span
  // outside every row, and events that are not complete spans.
  void traceTotalsSumSpansPerRow() {
    QTemporaryDir dir;
    const auto path = dir.filePath("t.json").toStdString();
    test::writeTextFile(path, R"({"traceEvents": [
      {"name": "row dense n=64", "ph": "X", "ts": 100, "dur": 50, "tid": 1},
      {"name": "aten::bmm", "ph": "X", "ts": 110, "dur": 20, "tid": 1},
      {"name": "row w n=64", "ph": "X", "ts": 200, "dur": 100, "tid": 1},
      {"name": "attnx::sparse::pv", "ph": "X", "ts": 210, "dur": 30, "tid": 1},
      {"name": "attnx::sparse::pv", "ph": "X", "ts": 212, "dur": 40, "tid": 2},
      {"name": "aten::bmm", "ph": "X", "ts": 400, "dur": 5, "tid": 1},
      {"name": "a counter", "ph": "C", "ts": 210, "tid": 1},
      {"name": "flow", "ph": "s", "ts": 220}
    ]})");
    const auto totals = traceTotals(path);
    std::map<std::string, TraceTotal> by;
    for (const auto& t : totals) by[t.name] = t;
    QCOMPARE(by.size(), size_t{5});
    QCOMPARE(totals.front().name, std::string("row w n=64"));  // longest first: 0.100 ms
    QCOMPARE(by.at("row w n=64 / attnx::sparse::pv").spans, int64_t{2});
    QCOMPARE(by.at("row w n=64 / attnx::sparse::pv").threads, 2);
    QVERIFY(std::abs(by.at("row w n=64 / attnx::sparse::pv").totalMs - 0.070) < 1e-12);
    QVERIFY(std::abs(by.at("row dense n=64 / aten::bmm").totalMs - 0.020) < 1e-12);
    QVERIFY(std::abs(by.at("aten::bmm").totalMs - 0.005) < 1e-12);  // after both rows
    QVERIFY(std::abs(by.at("row dense n=64").totalMs - 0.050) < 1e-12);
    test::writeTextFile(path, "not json");
    const auto message = test::errorOf([&] { traceTotals(path); });
    QVERIFY2(message.find(path) != std::string::npos, message.c_str());
  }

  void attentionOnlyCliOutputContract() {
    QTemporaryDir dir;
    const auto csv = dir.filePath("rows.csv");
    QProcess p;
    p.start(QStringLiteral(ATTNX_CLI_PATH),
            {"bench", "--attention-only", "--seq", "64,100", "--heads", "2", "--head-dim", "8", "--repeats", "1",
             "--warmup", "0", "--max-dense-bytes", "0.0001", "--csv", csv, "--json"});
    QVERIFY(p.waitForFinished(120000));
    const auto err = QString::fromUtf8(p.readAllStandardError());
    QCOMPARE(p.exitCode(), 0);
    const auto doc = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    QCOMPARE(doc.at("kind").get<std::string>(), std::string("attention-only"));
    QVERIFY(doc.at("machine").is_object());
    QVERIFY(doc.at("threads").get<int>() >= 1);
    QCOMPARE(doc.at("kernel_threads").get<int>(), doc.at("machine").at("sgemm_tile").at("threads").get<int>());
    const auto& results = doc.at("results");
    QCOMPARE(results.size(), size_t{10});  // 2 lengths x (dense + fused-dense + 3 built-in plans)
    for (const auto& r : results)
      for (const char* key : {"plan", "n", "time_ms", "peak_bytes", "flops", "gflops", "tile_flops", "tile_gflops",
                              "density", "skipped", "flop_ratio", "speedup_vs_dense", "speedup_vs_fused",
                              "saving_realised_vs_fused", "sgemm_share", "note"})
        QVERIFY2(r.contains(key), key);
    QCOMPARE(results[0].at("plan").get<std::string>(), std::string("dense"));
    QCOMPARE(results[1].at("plan").get<std::string>(), std::string("fused-dense"));
    // The machine's sgemm ceiling from the same run, and each row's share of it, speed-ups against both
    // baselines of its n and its FLOP ratio, recomputed here from the row's own numbers.
    const auto& machine = doc.at("machine");
    const double ceiling = machine.at("sgemm_gflops").get<double>();
    QVERIFY(ceiling > 0);
    QCOMPARE(ceiling, std::max(machine.at("sgemm_tile_gflops").get<double>(), machine.at("sgemm_big_gflops").get<double>()));
    QCOMPARE(ceiling, std::max(machine.at("sgemm_gflops_before").get<double>(), machine.at("sgemm_gflops_after").get<double>()));
    QCOMPARE(machine.at("sgemm_big").at("size").get<int>(), 2048);
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      const auto& dense = results[i / 5 * 5];
      const auto& fused = results[i / 5 * 5 + 1];
      const double t = r.at("time_ms").get<double>();
      QVERIFY(std::abs(r.at("sgemm_share").get<double>() - r.at("gflops").get<double>() / ceiling) < 1e-9);
      QVERIFY(std::abs(r.at("speedup_vs_dense").get<double>() - dense.at("time_ms").get<double>() / t) < 1e-9);
      QVERIFY(std::abs(r.at("speedup_vs_fused").get<double>() - fused.at("time_ms").get<double>() / t) < 1e-9);
      QVERIFY(std::abs(r.at("flop_ratio").get<double>() - dense.at("flops").get<double>() / r.at("flops").get<double>()) < 1e-9);
    }
    QCOMPARE(results[0].at("n").get<int>(), 64);
    // Dense at n = 64 in blocks of 64: one causal tile per head, 64 x 64 pairs x 4d flops, 2 heads.
    QCOMPARE(results[0].at("tile_flops").get<double>(), 64.0 * 64 * 4 * 8 * 2);
    QCOMPARE(doc.at("device").get<std::string>(), std::string("cpu"));
    // 0.0001 GiB = 107374 bytes: dense at n = 64 (2 * 2 * 64 * 64 * 4 + 64 * 64 = 69632 bytes) fits;
    // n = 100 (2 * 2 * 100 * 100 * 4 + 10000 = 170000) is chunked, and says so.
    QCOMPARE(results[0].at("note").get<std::string>(), std::string());
    QVERIFY(results[5].at("note").get<std::string>().rfind("chunked", 0) == 0);
    QCOMPARE(results[2].at("plan").get<std::string>(), std::string("window256+sinks4"));
    QVERIFY(err.contains("bench: [1/10] dense n=64"));
    QVERIFY(err.contains("bench: [2/10] fused-dense n=64"));
    QVERIFY(err.contains("bench: [10/10] block256+sinks4 n=100"));
    const auto lines = test::readTextFile(csv.toStdString());
    QCOMPARE(std::count(lines.begin(), lines.end(), '\n'), std::ptrdiff_t{11});
    QVERIFY(lines.rfind("plan,n,time_ms,peak_bytes,flops,gflops,tile_flops,tile_gflops,density,skipped,flop_ratio,"
                        "speedup_vs_dense,speedup_vs_fused,sgemm_share,backward_ms,note\n",
                        0) == 0);
    QVERIFY(machine.at("sgemm_tile_blas_gflops").get<double>() > 0);
  }

  // --backward: each compiled plan's backward beside its forward; the baselines have none.
  void attentionOnlyBackwardRows() {
    QProcess p;
    p.start(QStringLiteral(ATTNX_CLI_PATH), {"bench", "--attention-only", "--seq", "128", "--heads", "2", "--head-dim",
                                             "16", "--repeats", "1", "--warmup", "0", "--backward", "--json"});
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 0);
    const auto doc = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    const auto& results = doc.at("results");
    QCOMPARE(results.size(), size_t{5});
    for (const auto& r : results) {
      const auto plan = r.at("plan").get<std::string>();
      if (plan == "dense" || plan == "fused-dense") {
        QVERIFY2(!r.contains("backward_ms"), plan.c_str());
        continue;
      }
      QVERIFY2(r.contains("backward_ms"), plan.c_str());
      QCOMPARE(r.at("backward_over_forward").get<double>(), r.at("backward_ms").get<double>() / r.at("time_ms").get<double>());
    }
  }

  // bench --generate --generate-student: the teacher with and without its KV cache, then the compiled
  // window256+sinks4 student with its bounded cache and with the full one, each generating the tokens asked.
  void generationRowsWithTheCompiledStudent() {
    QProcess p;
    p.start(QStringLiteral(ATTNX_CLI_PATH), {"bench", "--random", "tiny", "--seq", "16", "--repeats", "1", "--generate",
                                             "6", "--generate-repeats", "1", "--generate-student", "--json"});
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 0);
    const auto doc = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    const auto& gen = doc.at("generate");
    QCOMPARE(gen.size(), size_t{4});
    const std::vector<std::pair<std::string, bool>> expected{
        {"teacher", true}, {"teacher", false}, {"student window256+sinks4", true}, {"student window256+sinks4", true}};
    for (size_t i = 0; i < gen.size(); ++i) {
      QCOMPARE(gen[i].at("model").get<std::string>(), expected[i].first);
      QCOMPARE(gen[i].at("kv_cache").get<bool>(), expected[i].second);
      QCOMPARE(gen[i].at("new_tokens").get<int>(), 6);
      QVERIFY(gen[i].at("tokens_per_s").get<double>() > 0);
    }
    QVERIFY(gen[2].at("bounded_cache").get<bool>());
    QVERIFY(!gen[3].at("bounded_cache").get<bool>());
    // 16 prompt tokens + 6 new, the last not fed back: 21 keys, fewer than the window, so none dropped.
    QCOMPARE(gen[2].at("peak_cache_keys").get<int>(), gen[3].at("peak_cache_keys").get<int>());
  }
};

QTEST_APPLESS_MAIN(TestBenchTools)
#include "test_bench_tools.moc"
