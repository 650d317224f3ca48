// Every student is causal (method.md: "every mask is causal and length-free"): on a small random
// GPT-2 with a bank holding one mask of every family (a painted one whose canvas ends early, so that
// its continuation is exercised), for each kind of student (soft mask and branch mixture with
// learned coefficients, the dense-masked plan, the compiled plan in both combines, a per-token gate):
// - a prefix's log-probabilities do not change when tokens are appended;
// - decoding with the KV cache, one token at a time, gives the full pass's logits at every position;
// - a greedy continuation picks, at every step, the argmax of the distribution a full pass shows for
//   that position (what the Completions view displays), with the bounded cache where the plan allows.
#include <QtTest>

#include <functional>
#include <memory>
#include <random>

#include <torch/torch.h>

#include "core/eval/compiled_plan_attention.h"
#include "core/eval/generation.h"
#include "core/eval/run_student.h"
#include "core/model/gpt2.h"
#include "core/model/mask_mixture_attention.h"
#include "core/model/mask_mixture_gate.h"
#include "tests/support/test_support.h"

using namespace attnx;

namespace {

constexpr int64_t kLength = 96;  // tokens in the longest pass

// One mask of every family. The painted mask (4 x 4 cells of 8 tokens) ends its canvas at token 32.
MaskBank everyFamily() {
  const std::vector<uint8_t> grid = {1, 0, 0, 0,  0, 1, 0, 0,  1, 1, 1, 0,  1, 0, 1, 1};
  return test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("win8", 8),
                         MaskSpec::dilatedWindow("dil4x3", 4, 3), MaskSpec::strided("stride7", 7),
                         MaskSpec::blockLocal("block16", 16), MaskSpec::summaryColumns("sum16", 16, 2),
                         MaskSpec::sinks("sink4", 4), MaskSpec::offsetSet("off", {1, 5}),
                         MaskSpec::random("rand", 8, 2, 3), MaskSpec::painted("paint", 4, grid, 8)});
}

// A named student; the kernel lives as long as the struct.
struct Student {
  std::string name;
  std::shared_ptr<const AttentionKernel> kernel;
};

std::vector<Student> everyStudent(const Gpt2Config& c, const MaskBank& bank) {
  const int64_t L = c.numLayers, H = c.numHeads, K = static_cast<int64_t>(bank.masks.size());
  torch::manual_seed(7);
  std::vector<Student> students;
  for (auto combine : {MixtureOptions::Combine::SoftMask, MixtureOptions::Combine::BranchMixture}) {
    MixtureOptions o;
    o.combine = combine;
    MaskMixtureCoefficients coefficients(L, H, K, o);
    {
      torch::NoGradGuard noGrad;
      coefficients->theta.uniform_(-2.0, 2.0);  // learned-looking, every mask a different weight
    }
    const bool soft = combine == MixtureOptions::Combine::SoftMask;
    students.push_back({soft ? "soft (soft mask)" : "soft (branch mixture)",
                        std::make_shared<MaskMixtureAttention>(bank, o, coefficients, L, H)});
    MaskMixtureGate gate(L, H, K, c.embedDim / c.numHeads, 0.5);
    {
      torch::NoGradGuard noGrad;
      gate->weight.normal_(0.0, 0.5);  // alpha varies token by token
      gate->bias.normal_(0.0, 1.0);
    }
    students.push_back({soft ? "gated (soft mask)" : "gated (branch mixture)",
                        std::make_shared<MaskMixtureAttention>(bank, o, gate, L, H)});
  }
  // A pruned plan over every family: the dense-masked student and the compiled one in both combines.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> weight(0.1, 1.5);
  std::vector<double> alpha(static_cast<size_t>(L * H * K), 0.0);
  for (int64_t lh = 0; lh < L * H; ++lh)
    for (int64_t m = 0; m < K; ++m)
      if ((lh + m) % 2 == 0 || m == K - 1) alpha[size_t(lh * K + m)] = weight(rng);  // painted in every head
  const auto plan = AttentionPlan::fromAlpha(alpha, L, H, bank, PruningRule::thresholdRule(0));
  MixtureOptions masked;
  students.push_back({"masked", fixedAlphaStudent(bank, masked, plan.alphaTensorValues(), L, H)});
  students.push_back({"compiled (soft mask)",
                      std::make_shared<CompiledPlanAttention>(plan, bank, PlanCombine::SoftMask, false, 16)});
  students.push_back({"compiled (branch mixture)",
                      std::make_shared<CompiledPlanAttention>(plan, bank, PlanCombine::BranchMixture, false, 16)});
  return students;
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

class TestCausality : public QObject {
  Q_OBJECT

  Gpt2 model_{nullptr};
  MaskBank bank_;
  std::vector<Student> students_;
  torch::Tensor ids_;  // (1, kLength)

 private Q_SLOTS:
  void initTestCase() {
    model_ = Gpt2(Gpt2Config::preset("tiny"));
    model_->initWeights(11);
    model_->eval();
    bank_ = everyFamily();
    students_ = everyStudent(model_->config(), bank_);
    torch::manual_seed(3);
    ids_ = torch::randint(model_->config().vocabSize, {1, kLength}, torch::kLong);
  }

  void prefixesDoNotSeeLaterTokens() {
    torch::NoGradGuard noGrad;
    for (const auto& s : students_) {
      const auto whole = torch::log_softmax(model_->forward(ids_, nullptr, s.kernel.get()), -1);
      for (int64_t m : {int64_t{1}, int64_t{23}, int64_t{33}, int64_t{61}}) {
        const auto prefix = torch::log_softmax(model_->forward(ids_.narrow(1, 0, m), nullptr, s.kernel.get()), -1);
        const double d = maxDiff(prefix, whole.narrow(1, 0, m));
        QVERIFY2(d < 2e-5, qPrintable(QString("%1: the first %2 log-probs change by %3 when tokens follow")
                                          .arg(QString::fromStdString(s.name)).arg(m).arg(d)));
      }
    }
  }

  void kvCacheDecodingEqualsTheFullPass() {
    torch::NoGradGuard noGrad;
    const int64_t prompt = 40;
    for (const auto& s : students_) {
      const auto whole = model_->forward(ids_, nullptr, s.kernel.get());
      KvCache cache;
      auto first = model_->forward(ids_.narrow(1, 0, prompt), &cache, s.kernel.get());
      double d = maxDiff(first, whole.narrow(1, 0, prompt));
      for (int64_t t = prompt; t < kLength; ++t) {
        const auto step = model_->forward(ids_.narrow(1, t, 1), &cache, s.kernel.get());
        d = std::max(d, maxDiff(step, whole.narrow(1, t, 1)));
      }
      QVERIFY2(d < 2e-4, qPrintable(QString("%1: decoding differs from the full pass by %2")
                                        .arg(QString::fromStdString(s.name)).arg(d)));
    }
  }

  void greedyTokensAreTheArgmaxShown() {
    torch::NoGradGuard noGrad;
    const std::vector<int64_t> prompt = {464, 3290, 286, 262, 1748, 373};
    SamplingOptions greedy;
    greedy.maxNewTokens = 40;  // past the painted canvas (32 tokens)
    greedy.stopOnEos = false;
    for (const auto& s : students_) {
      const auto result = generate(model_, prompt, greedy, s.kernel.get());
      QCOMPARE(result.tokens.size(), size_t{40});
      std::vector<int64_t> all = prompt;
      all.insert(all.end(), result.tokens.begin(), result.tokens.end());
      const auto ids = torch::tensor(all, torch::kLong).unsqueeze(0);
      const auto shown = model_->forward(ids, nullptr, s.kernel.get()).argmax(-1)[0];  // (T)
      for (size_t t = 0; t < result.tokens.size(); ++t)
        QVERIFY2(shown[int64_t(prompt.size() + t - 1)].item<int64_t>() == result.tokens[t],
                 qPrintable(QString("%1: token %2 is not the argmax of the distribution shown for it")
                                .arg(QString::fromStdString(s.name)).arg(t)));
    }
  }
};

QTEST_APPLESS_MAIN(TestCausality)
#include "test_causality.moc"
