// profileHeads against attention maps whose numbers are known in closed form: a pure previous-token
// head, a pure sink head, a uniform causal head, a head on the latest delimiter; expected values
// computed here with plain loops.
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

  // Keys 5, 10, 15, ... are delimiters. Head 0 always attends to the latest one at or before the
  // query; head 1 is uniform causal, so its delimiter mass is the delimiter share of its keys.
  void delimiterHeads() {
    const int64_t T = 40;
    auto P = torch::zeros({2, 2, T, T}, torch::kFloat32);  // two windows, the same pattern
    auto delim = torch::zeros({2, T}, torch::kBool);
    auto d = delim.accessor<bool, 2>();
    auto a = P.accessor<float, 4>();
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t j = 5; j < T; j += 5) d[b][j] = true;
      for (int64_t i = 0; i < T; ++i) {
        a[b][0][i][i < 5 ? 0 : i - i % 5] = 1.f;
        for (int64_t j = 0; j <= i; ++j) a[b][1][i][j] = 1.f / float(i + 1);
      }
    }
    HeadProfileOptions o;
    const auto heads = profileHeads({P}, o, delim);
    QCOMPARE(heads[0].kind, std::string("delimiter"));
    QVERIFY(std::abs(heads[0].delimiter - 1.0) < 1e-9);  // every row from 16 on has a delimiter behind it
    double uniform = 0;
    for (int64_t i = o.firstQuery; i < T; ++i) uniform += double(i / 5) / double(i + 1);
    QVERIFY(std::abs(heads[1].delimiter - uniform / double(T - o.firstQuery)) < 1e-6);
    QCOMPARE(heads[1].kind, std::string("broad"));

    // Without marked keys nothing is measured; a mask of the wrong shape is refused.
    QCOMPARE(profileHeads({P}, o)[0].delimiter, 0.0);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, profileHeads({P}, o, torch::zeros({1, T}, torch::kBool)));
  }

  void delimiterText() {
    for (const char* t : {"\n", ".", ",\"", " --", "\n\n", " (", "\xE2\x80\x9C", " \xE2\x80\x94", "\xE2\x80\xA6"})
      QVERIFY2(isDelimiterText(t), t);
    // Letters, digits, an empty token, half of a curly quote (byte-level BPE can split one), a
    // superscript two (U+2082, outside General Punctuation), an accented letter.
    for (const char* t : {"the", " a", "1", "", "\xE2\x80", "\xE2\x82\x82", "\xC3\xA9", "<|endoftext|>"})
      QVERIFY2(!isDelimiterText(t), t);
  }

  void rejectsShortOrMisshapenMaps() {
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, profileHeads({torch::zeros({1, 1, 8, 8})}));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, profileHeads({torch::zeros({1, 40, 40})}));
  }
};

QTEST_APPLESS_MAIN(TestHeadProfile)
#include "test_head_profile.moc"
