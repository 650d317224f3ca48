// Pretraining: the loss falls on learnable synthetic text, a stopped and resumed run ends with the
// same weights as an uninterrupted one, and the saved model folder reloads to the same model.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <random>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/train/pretrainer.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

PretrainConfig tinyConfig() {
  PretrainConfig c;
  c.layers = 2;
  c.heads = 2;
  c.width = 32;
  c.context = 64;
  c.seqLen = 32;
  c.batchSize = 4;
  c.steps = 12;
  c.learningRate = 1e-2;
  c.warmupSteps = 2;
  c.validateEvery = 0;
  c.checkpointEvery = 0;
  return c;
}

// Windows that repeat a short random motif: predictable after one period.
BatchSource motifBatches(const PretrainConfig& c) {
  return [c](int64_t step) {
    std::mt19937_64 rng(step);
    std::vector<std::vector<int64_t>> out(c.batchSize, std::vector<int64_t>(c.seqLen));
    for (auto& w : out) {
      std::vector<int64_t> motif(5);
      for (auto& m : motif) m = static_cast<int64_t>(rng() % 50);
      for (int64_t t = 0; t < c.seqLen; ++t) w[t] = motif[t % 5];
    }
    return out;
  };
}

std::vector<float> weights(Gpt2 m) {
  std::vector<float> all;
  for (const auto& p : m->parameters()) {
    auto t = p.detach().contiguous().view(-1);
    all.insert(all.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }
  return all;
}

}  // namespace

class TestPretrainer : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string dir(const char* name) { return (fs::path(tmp_.path().toStdString()) / name).string(); }

 private Q_SLOTS:
  void lossFallsOnLearnableText() {
    auto c = tinyConfig();
    c.steps = 60;
    Pretrainer t(c, motifBatches(c), {}, dir("learn"));
    std::vector<double> loss;
    t.run([&](const PretrainMetrics& m) { loss.push_back(m.loss); });
    qInfo("loss %.3f at step 1, %.3f at step 60 (ln 50257 = %.3f)", loss.front(), loss.back(), std::log(50257.0));
    QVERIFY(std::abs(loss.front() - std::log(50257.0)) < 0.5);  // a fresh model is near uniform
    QVERIFY(loss.back() < 0.5 * loss.front());
  }

  void resumeMatchesUninterrupted() {
    auto c = tinyConfig();
    Pretrainer whole(c, motifBatches(c), {}, dir("whole"));
    whole.run();
    std::atomic<bool> stop{false};
    {
      Pretrainer first(c, motifBatches(c), {}, dir("split"));
      first.run([&](const PretrainMetrics& m) { if (m.step == 5) stop = true; }, {}, &stop);
      QCOMPARE(first.step(), int64_t(5));
    }
    Pretrainer second(c, motifBatches(c), {}, dir("split"), torch::kCPU, RunFolder::Resume);
    QCOMPARE(second.resumeIfPossible(), int64_t(5));
    second.run();
    QCOMPARE(weights(second.model()), weights(whole.model()));
  }

  void savedFolderReloads() {
    auto c = tinyConfig();
    Pretrainer t(c, motifBatches(c), {}, dir("save"));
    t.run();
    auto loaded = loadGpt2(dir("save") + "/model");
    auto ids = torch::tensor(std::vector<int64_t>{3, 1, 4, 1, 5, 9}).unsqueeze(0);
    torch::NoGradGuard g;
    QVERIFY(torch::equal(loaded->forward(ids), t.model()->forward(ids)));
  }

  void configRoundTripsAndRejectsNonsense() {
    auto c = tinyConfig();
    QCOMPARE(PretrainConfig::fromJsonText(c.toJsonText(), "p.json").toJsonText(), c.toJsonText());
    c.seqLen = 100;  // longer than the context of 64
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, c.validate());
  }
};

QTEST_APPLESS_MAIN(TestPretrainer)
#include "test_pretrainer.moc"
