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

// Wraps a student kernel and keeps, per layer, the sum and count of the gate outputs
// sigmoid(W_g q_i + b_g) over the queries it sees, computed here from the gate's parameters.
class GateProbe : public AttentionKernel {
 public:
  GateProbe(const AttentionKernel& inner, MaskMixtureGate gate, int64_t layers)
      : inner_(inner), gate_(std::move(gate)), sums(layers), counts(layers, 0) {}
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t layer,
                        int64_t offset) const override {
    const auto z = torch::einsum("bhtd,hkd->bhtk", {q.to(torch::kFloat64), gate_->weight[layer].to(torch::kFloat64)}) +
                   gate_->bias[layer].to(torch::kFloat64).unsqueeze(0).unsqueeze(2);
    const auto s = (1.0 / (1.0 + torch::exp(-z))).sum(torch::IntArrayRef{0, 2});  // (H, K)
    sums[layer] = sums[layer].defined() ? sums[layer] + s : s;
    counts[layer] += q.size(0) * q.size(2);
    return inner_.forward(q, k, v, layer, offset);
  }
  torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, int64_t layer,
                              int64_t offset) const override {
    return inner_.probabilities(q, k, layer, offset);
  }

 private:
  const AttentionKernel& inner_;
  MaskMixtureGate gate_;

 public:
  mutable std::vector<torch::Tensor> sums;
  mutable std::vector<int64_t> counts;
};

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
    DistillTrainer second(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("split"), RunFolder::Resume);
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

  // A gated run (--gate): it learns, L1 lowers the mean gate, resume reproduces the gate bit for
  // bit, and learned_bank.json holds the mean gate over the validation tokens.
  void gatedRunLearns() {
    auto c = baseConfig();
    c.gate = true;
    c.steps = 60;
    const auto validation = syntheticBatches(2, 32)(999);
    DistillTrainer t(c, teacher(), smallBank(true), syntheticBatches(2, 32), validation, dir("gated"));
    QVERIFY(!t.coefficients());
    QVERIFY(t.gate());
    const double before = t.validationKl();
    std::vector<StepMetrics> steps;
    DistillCallbacks cb;
    cb.onStep = [&](const StepMetrics& m) { steps.push_back(m); };
    t.run(cb);
    const double after = t.validationKl();
    qInfo("gated: validation KL %.4f -> %.5f; |W_g| %.3g", before, after, t.gate()->weight.abs().sum().item<double>());
    QVERIFY(after < 0.3 * before);
    QVERIFY(t.gate()->weight.abs().sum().item<double>() > 0);  // the gate learned to read q, not only its bias
    // The first step's metric α is the fresh gate: exactly the initial value everywhere.
    for (float a : steps.front().alpha) QVERIFY(std::abs(a - 0.5f) < 1e-6f);

    // learned_bank.json: the mean gate over the validation tokens, against the gate applied here.
    const auto learned = test::readJsonFile(dir("gated") + "/learned_bank.json");
    QCOMPARE(learned["alpha_source"].get<std::string>(), std::string("mean gate over the validation tokens"));
    auto model = teacher();
    const auto& cfg = model->config();
    GateProbe probe(t.student(), t.gate(), cfg.numLayers);
    {
      torch::NoGradGuard g;
      model->forward(windowsToBatch(validation, torch::kCPU), nullptr, &probe);
    }
    double worst = 0;
    for (int64_t l = 0; l < cfg.numLayers; ++l)
      for (int64_t h = 0; h < cfg.numHeads; ++h)
        for (int64_t k = 0; k < 3; ++k) {
          const double expect = probe.sums[l][h][k].item<double>() / static_cast<double>(probe.counts[l]);
          worst = std::max(worst, std::abs(learned["alpha"][l][h][k].get<double>() - expect));
        }
    qInfo("learned_bank.json α vs mean gate computed here: max |Δ| %.3g", worst);
    QVERIFY(worst < 1e-5);
  }

  void gatedL1LowersTheMeanGate() {
    auto meanGate = [&](double lambda) {
      auto c = baseConfig();
      c.gate = true;
      c.lambdaL1 = lambda;
      DistillTrainer t(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, "");
      t.run();
      return t.staticAlpha().alpha.sum().item<double>();
    };
    const double free = meanGate(0), penalised = meanGate(0.05);
    qInfo("gated: Σ mean gate without L1 %.3f, with λ₁ = 0.05 %.3f", free, penalised);
    QVERIFY(penalised < 0.7 * free);
  }

  void gatedResumeMatchesUninterrupted() {
    auto c = baseConfig();
    c.gate = true;
    c.combine = "branch-mixture";
    c.steps = 10;
    c.checkpointEvery = 4;
    DistillTrainer whole(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("gwhole"));
    whole.run();
    std::atomic<bool> stop{false};
    {
      DistillTrainer first(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("gsplit"));
      DistillCallbacks cb;
      cb.onStep = [&](const StepMetrics& m) { if (m.step == 5) stop = true; };
      first.run(cb, &stop);
    }
    DistillTrainer second(c, teacher(), smallBank(true), syntheticBatches(2, 32), {}, dir("gsplit"), RunFolder::Resume);
    QCOMPARE(second.resumeIfPossible(), int64_t(5));
    second.run();
    auto values = [](const torch::Tensor& t) {
      auto c = t.detach().contiguous();
      return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    };
    QCOMPARE(values(second.gate()->weight), values(whole.gate()->weight));
    QCOMPARE(values(second.gate()->bias), values(whole.gate()->bias));
    QVERIFY(values(whole.gate()->weight) != std::vector<float>(values(whole.gate()->weight).size(), 0.0f));
  }

  void runJsonRoundTrips() {
    auto c = baseConfig();
    c.combine = "branch-mixture";
    c.lambdaL1 = 0.25;
    c.gate = true;
    const auto back = DistillConfig::fromJsonText(c.toJsonText(), "run.json");
    QCOMPARE(back.toJsonText(), c.toJsonText());
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, DistillConfig::fromJsonText(R"({"format":"attnx-distill-run","version":1,"stepz":3})", "run.json"));
    QVERIFY(back.gate);
    // A gate is a sigmoid: its start must lie in (0, 1).
    try {
      DistillConfig::fromJsonText(R"({"format":"attnx-distill-run","version":1,"gate":true,"initial_coefficient":1.0})", "run.json");
      QFAIL("a gate starting at 1 must be refused");
    } catch (const std::runtime_error& e) {
      QVERIFY2(QString(e.what()).contains("with gate, initial_coefficient"), e.what());
    }
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
