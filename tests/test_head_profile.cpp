// profileHeads against attention maps whose numbers are known in closed form: a pure previous-token
// head, a pure sink head, a uniform causal head; expected values computed here with plain loops.
#include <cmath>

#include <QtTest>
#include <torch/torch.h>

#include "core/eval/head_profile.h"

using namespace attnx;

class TestHeadProfile : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void knownHeads() {
    const int64_t T = 40;
    auto P = torch::zeros({1, 3, T, T}, torch::kFloat32);
    auto a = P.accessor<float, 4>();
    for (int64_t i = 0; i < T; ++i) {
      a[0][0][i][i > 0 ? i - 1 : 0] = 1.f;  // previous token
      a[0][1][i][0] = 1.f;                  // sink
      for (int64_t j = 0; j <= i; ++j) a[0][2][i][j] = 1.f / float(i + 1);  // uniform causal
    }
    HeadProfileOptions o;  // localWidth 16, firstQuery 16
    const auto heads = profileHeads({P}, o);
    QCOMPARE(heads.size(), size_t(3));

    QCOMPARE(heads[0].kind, std::string("previous-token"));
    QVERIFY(std::abs(heads[0].previousToken - 1.0) < 1e-9);
    QVERIFY(std::abs(heads[0].meanDistance - 1.0) < 1e-9);
    QVERIFY(std::abs(heads[0].entropy) < 1e-9);
    QVERIFY(std::abs(heads[0].local - 1.0) < 1e-9);

    QCOMPARE(heads[1].kind, std::string("sink"));
    QVERIFY(std::abs(heads[1].sink - 1.0) < 1e-9);
    QVERIFY(std::abs(heads[1].previousToken) < 1e-9);

    double prev = 0, local = 0, dist = 0, ent = 0;
    const int64_t rows = T - o.firstQuery;
    for (int64_t i = o.firstQuery; i < T; ++i) {
      prev += 1.0 / double(i + 1);
      local += double(std::min<int64_t>(o.localWidth, i + 1)) / double(i + 1);
      dist += double(i) / 2.0;
      ent += std::log(double(i + 1));
    }
    QCOMPARE(heads[2].kind, std::string("broad"));
    QVERIFY(std::abs(heads[2].previousToken - prev / rows) < 1e-6);
    QVERIFY(std::abs(heads[2].self - prev / rows) < 1e-6);
    QVERIFY(std::abs(heads[2].sink - prev / rows) < 1e-6);
    QVERIFY(std::abs(heads[2].local - local / rows) < 1e-6);
    QVERIFY(std::abs(heads[2].meanDistance - dist / rows) < 1e-5);
    QVERIFY(std::abs(heads[2].entropy - ent / rows) < 1e-5);
  }

  void rejectsShortOrMisshapenMaps() {
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, profileHeads({torch::zeros({1, 1, 8, 8})}));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, profileHeads({torch::zeros({1, 40, 40})}));
  }
};

QTEST_APPLESS_MAIN(TestHeadProfile)
#include "test_head_profile.moc"
