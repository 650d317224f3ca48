// The distillation trainer on the tiny fixture GPT-2 with synthetic token batches: it learns, L1
// shrinks coefficients, the schedule follows its formula, resume reproduces an uninterrupted run
// bit for bit, and stop / pause / NaN behave as promised.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/train/distill_trainer.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

// Windows of synthetic ids with local structure (runs and repeats), a pure function of the step.
BatchSource syntheticBatches(int64_t batch, int64_t len) {
  return [batch, len](int64_t step) {
    std::mt19937_64 rng(1000 + step);
    std::vector<std::vector<int64_t>> out(batch, std::vector<int64_t>(len));
    for (auto& w : out)
      for (int64_t t = 0; t < len; ++t) w[t] = (t > 2 && rng() % 3 == 0) ? w[t - 3] : static_cast<int64_t>(rng() % 311);
    return out;
  };
}

MaskBank smallBank(bool withCausal) {
  MaskBank b;
  b.name = "test";
  if (withCausal) b.masks.push_back(MaskSpec::causal("causal"));
  b.masks.push_back(MaskSpec::window("win-4", 4));
  b.masks.push_back(MaskSpec::sinks("sink-1", 1));
  return b;
}

DistillConfig baseConfig() {
  DistillConfig c;
  c.steps = 30;
  c.batchSize = 2;
  c.seqLen = 32;
  c.learningRate = 0.1;
  c.warmupSteps = 3;
  c.validateEvery = 0;
  c.checkpointEvery = 0;
  c.initialCoefficient = 0.5;
  return c;
}

std::vector<float> thetaOf(DistillTrainer& t) {
  auto th = t.coefficients()->theta.detach().contiguous();
  return {th.data_ptr<float>(), th.data_ptr<float>() + th.numel()};
}

}  // namespace

class TestDistillTrainer : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  Gpt2 teacher() { return loadGpt2(test::fixture("gpt2-tiny")); }
  std::string dir(const char* name) { return (fs::path(tmp_.path().toStdString()) / name).string(); }

 private Q_SLOTS:
  void klFallsWithCausalInTheBank() {
    auto c = baseConfig();
    c.steps = 60;
    DistillTrainer t(c, teacher(), smallBank(true), syntheticBatches(2, 32), syntheticBatches(2, 32)(999), "");
    std::vector<double> kl;
    DistillCallbacks cb;
    cb.onStep = [&](const StepMetrics& m) { kl.push_back(m.kl); };
    const double before = t.validationKl();
    t.run(cb);
    const double after = t.validationKl();
    qInfo("KL first step %.4f, last step %.4f; validation KL %.4f -> %.5f", kl.front(), kl.back(), before, after);
    QCOMPARE(kl.size(), size_t(60));
    QVERIFY(after < 0.2 * before);
    QVERIFY(after < 0.02);
  }

  void l1ShrinksCoefficients() {
    auto sumAlpha = [&](double lambda) {
      auto c = baseConfig();
      c.lambdaL1 = lambda;
      DistillTrainer t(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, "");
      t.run();
      return t.coefficients()->alpha().sum().item<double>();
    };
    const double free = sumAlpha(0), penalised = sumAlpha(0.05);
    qInfo("Σα without L1 %.3f, with λ₁ = 0.05 %.3f", free, penalised);
    QVERIFY(penalised < 0.7 * free);
  }

  // Linear warm-up to 0.1 over 3 steps, then cosine to 0.01 over the remaining 27.
  void learningRateSchedule() {
    auto c = baseConfig();
    c.minLrRatio = 0.1;
    DistillTrainer t(c, teacher(), smallBank(false), syntheticBatches(2, 32), {}, "");
    std::vector<double> lr;
    DistillCallbacks cb;
    cb.onStep = [&](const StepMetrics& m) { lr.push_back(m.learningRate); };
    t.run(cb);
    QCOMPARE(lr.size(), size_t(30));
    QVERIFY(std::abs(lr[0] - 0.1 / 3) < 1e-12);
    QVERIFY(std::abs(lr[2] - 0.1) < 1e-12);
    const double mid = 0.01 + 0.5 * 0.09 * (1 + std::cos(M_PI * (16.0 - 3) / 27));  // step 16
    QVERIFY(std::abs(lr[15] - mid) < 1e-12);
    QVERIFY(std::abs(lr[29] - 0.01) < 1e-12);
  }

  // Stopped at step 7 and resumed, a run ends exactly where an uninterrupted one does.
  void resumeMatchesUninterrupted() {
    auto c = baseConfig();
    c.steps = 14;
    c.checkpointEvery = 5;
    DistillTrainer whole(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("whole"));
    whole.run();

    std::atomic<bool> stop{false};
    {
      DistillTrainer first(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("split"));
      DistillCallbacks cb;
      cb.onStep = [&](const StepMetrics& m) { if (m.step == 7) stop = true; };
      first.run(cb, &stop);
      QCOMPARE(first.step(), int64_t(7));
    }
    DistillTrainer second(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("split"));
    QCOMPARE(second.resumeIfPossible(), int64_t(7));
    second.run();
    QCOMPARE(second.step(), int64_t(14));
    QCOMPARE(thetaOf(second), thetaOf(whole));

    // metrics.csv: one row per step, no repeats, the same losses.
    auto rows = [](const std::string& d) {
      std::ifstream in(d + "/metrics.csv");
      std::vector<std::string> r;
      for (std::string line; std::getline(in, line);) r.push_back(line.substr(0, line.find(",", line.find(",") + 1)));
      return r;
    };
    QCOMPARE(rows(dir("split")), rows(dir("whole")));
    QCOMPARE(rows(dir("whole")).size(), size_t(15));  // header + 14 steps
    for (const char* f : {"run.json", "metrics.csv", "learned_bank.json", "student.safetensors"})
      QVERIFY2(fs::exists(dir("whole") + "/" + f), f);
  }

  void runJsonRoundTrips() {
    auto c = baseConfig();
    c.combine = "branch-mixture";
    c.lambdaL1 = 0.25;
    const auto back = DistillConfig::fromJsonText(c.toJsonText(), "run.json");
    QCOMPARE(back.toJsonText(), c.toJsonText());
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, DistillConfig::fromJsonText(R"({"format":"attnx-distill-run","version":1,"stepz":3})", "run.json"));
  }

  void nanLossStopsAndKeepsLastCheckpoint() {
    auto model = teacher();
    auto c = baseConfig();
    c.checkpointEvery = 2;
    DistillTrainer t(c, model, smallBank(true), syntheticBatches(2, 32), {}, dir("nan"));
    std::atomic<bool> stop{false};
    DistillCallbacks cb;
    cb.onStep = [&](const StepMetrics& m) { if (m.step == 4) stop = true; };
    t.run(cb, &stop);
    const auto saved = fs::last_write_time(dir("nan") + "/student.safetensors");
    {
      torch::NoGradGuard g;
      model->ln_f->weight[0] = std::numeric_limits<float>::quiet_NaN();
    }
    stop = false;
    try {
      t.run({}, &stop);
      QFAIL("a NaN loss must stop the run");
    } catch (const TrainingStopped& e) {
      QVERIFY2(QString(e.what()).contains("step 5: the loss is not finite"), e.what());
      QVERIFY2(QString(e.what()).contains("last good checkpoint (step 4)"), e.what());
    }
    QCOMPARE(fs::last_write_time(dir("nan") + "/student.safetensors"), saved);
    QCOMPARE(t.step(), int64_t(4));
  }

  void pauseHoldsAndResumes() {
    auto c = baseConfig();
    c.steps = 6;
    DistillTrainer t(c, teacher(), smallBank(false), syntheticBatches(2, 32), {}, "");
    std::atomic<bool> pause{true}, stop{false};
    std::atomic<int64_t> seen{0};
    DistillCallbacks cb;
    cb.onStep = [&](const StepMetrics& m) { seen = m.step; };
    std::thread worker([&] { t.run(cb, &stop, &pause); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    QCOMPARE(seen.load(), int64_t(0));
    pause = false;
    worker.join();
    QCOMPARE(seen.load(), int64_t(6));
  }
};

QTEST_APPLESS_MAIN(TestDistillTrainer)
#include "test_distill_trainer.moc"
