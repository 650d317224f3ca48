// TokenCorpus and WindowSampler against independent truth: ids computed here with BpeTokenizer
// directly from files this test writes, caches that are damaged on purpose, and window starts
// checked for determinism, range and uniformity.
#include <QtTest>

#include <QTemporaryDir>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/data/token_corpus.h"
#include "core/data/window_sampler.h"
#include "core/io/bpe_tokenizer.h"
#include "tests/support/test_support.h"

using attnx::BpeTokenizer;
using attnx::DocumentSpan;
using attnx::TokenCorpus;
using attnx::WindowSampler;
namespace fs = std::filesystem;

namespace {

void writeFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  QVERIFY2(out.good(), p.string().c_str());
}

std::vector<fs::path> cacheFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".bin") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}


// Synthetic corpus whose id at position p is p, so a window's contents reveal its start.
TokenCorpus positionalCorpus(int64_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = int32_t(i);
  return TokenCorpus(ids, {DocumentSpan{"all", 0, n}});
}

const std::vector<std::pair<std::string, std::string>> kDocs = {
    // Written out of name order on purpose; load() must sort by name.
    {"b-sotu.txt", "Gentlemen of the Senate and House of Representatives:\n\nI embrace with great "
                   "satisfaction the opportunity which now presents itself.\n"},
    {"a-gutenberg.txt", "It is a truth universally acknowledged, that a single man in possession "
                        "of a good fortune, must be in want of a wife.\r\n  Caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 "
                        "don't we'll 1,234.56\n\n\n"},
    {"c-empty.txt", ""},
    {"d-eos-inside.txt", "before<|endoftext|>after   \n"},
};

}  // namespace

class TestTokenCorpus : public QObject {
  Q_OBJECT

private:
  std::unique_ptr<BpeTokenizer> tok_;
  std::unique_ptr<QTemporaryDir> tmp_;
  fs::path corpusDir_;
  fs::path cacheDir_;

  std::vector<int32_t> expectedIds(std::vector<DocumentSpan>* spans = nullptr) const {
    auto sorted = kDocs;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int32_t> ids;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0) ids.push_back(tok_->eosId());
      const int64_t begin = int64_t(ids.size());
      for (int id : tok_->encode(sorted[i].second)) ids.push_back(id);
      if (spans) spans->push_back({fs::path(sorted[i].first).stem().string(), begin, int64_t(ids.size())});
    }
    return ids;
  }

private Q_SLOTS:
  void initTestCase() {
    tok_ = std::make_unique<BpeTokenizer>(BpeTokenizer::fromFolder(attnx::test::dataDir() + "/gpt2-tokenizer"));
    QCOMPARE(tok_->eosId(), 50256);
  }

  void init() {
    tmp_ = std::make_unique<QTemporaryDir>();
    QVERIFY(tmp_->isValid());
    const fs::path root = tmp_->path().toStdString();
    corpusDir_ = root / "corpus";
    cacheDir_ = root / "cache" / "nested";  // load() must create it
    fs::create_directories(corpusDir_ / "sub");
    for (const auto& [name, text] : kDocs) writeFile(corpusDir_ / name, text);
    writeFile(corpusDir_ / "notes.md", "not a document");
    writeFile(corpusDir_ / "x.txt.bak", "not a document");
    writeFile(corpusDir_ / "sub" / "nested.txt", "not recursed into");
  }

  void cleanup() { tmp_.reset(); }

  void folderIsSortedTokenizedAndJoinedWithEos() {
    std::vector<DocumentSpan> spans;
    const auto expected = expectedIds(&spans);
    const TokenCorpus c = TokenCorpus::load(corpusDir_.string(), *tok_);
    QCOMPARE(c.ids(), expected);
    QCOMPARE(c.size(), int64_t(expected.size()));
    QCOMPARE(c.documents().size(), spans.size());
    for (size_t i = 0; i < spans.size(); ++i) {
      QCOMPARE(c.documents()[i].name, spans[i].name);
      QCOMPARE(c.documents()[i].begin, spans[i].begin);
      QCOMPARE(c.documents()[i].end, spans[i].end);
    }
    QCOMPARE(c.documents()[0].name, std::string("a-gutenberg"));
    QCOMPARE(c.documents()[2].size(), int64_t(0));  // the empty file is a document of 0 tokens
    // Exactly one separator between consecutive documents, and it belongs to neither.
    for (size_t i = 1; i < spans.size(); ++i) {
      QCOMPARE(spans[i].begin, spans[i - 1].end + 1);
      QCOMPARE(c.ids()[size_t(spans[i - 1].end)], tok_->eosId());
      QVERIFY(c.documentAt(spans[i - 1].end) == nullptr);
    }
    QCOMPARE(c.documentAt(0)->name, std::string("a-gutenberg"));
    QCOMPARE(c.documentAt(c.size() - 1)->name, std::string("d-eos-inside"));
    QVERIFY(c.documentAt(-1) == nullptr);
    QVERIFY(c.documentAt(c.size()) == nullptr);
    QCOMPARE(c.loadInfo().filesTokenized, 4);
    QCOMPARE(c.loadInfo().filesFromCache, 0);
    // Decoding gives the files back, joined by the literal separator.
    std::string joined;
    auto sorted = kDocs;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) joined += (i ? "<|endoftext|>" : "") + sorted[i].second;
    QCOMPARE(tok_->decode(std::vector<int>(c.ids().begin(), c.ids().end())), joined);
  }

  void singleFileIsOneDocument() {
    const fs::path file = corpusDir_ / "b-sotu.txt";
    const TokenCorpus c = TokenCorpus::load(file.string(), *tok_);
    const auto want = tok_->encode(kDocs[0].second);
    QCOMPARE(c.ids(), std::vector<int32_t>(want.begin(), want.end()));
    QCOMPARE(c.documents().size(), size_t(1));
    QCOMPARE(c.documents()[0].name, std::string("b-sotu"));
    QCOMPARE(c.documents()[0].begin, int64_t(0));
    QCOMPARE(c.documents()[0].end, c.size());
  }

  void cacheGivesIdenticalIds() {
    const auto expected = expectedIds();
    const TokenCorpus first = TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    QCOMPARE(first.ids(), expected);
    QCOMPARE(first.loadInfo().filesTokenized, 4);
    QCOMPARE(first.loadInfo().cacheWriteFailures, 0);
    QCOMPARE(cacheFiles(cacheDir_).size(), size_t(4));
    const TokenCorpus second = TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    QCOMPARE(second.loadInfo().filesFromCache, 4);
    QCOMPARE(second.loadInfo().filesTokenized, 0);
    QCOMPARE(second.ids(), expected);
    QCOMPARE(second.documents().size(), first.documents().size());
    for (size_t i = 0; i < first.documents().size(); ++i) {
      QCOMPARE(second.documents()[i].name, first.documents()[i].name);
      QCOMPARE(second.documents()[i].begin, first.documents()[i].begin);
      QCOMPARE(second.documents()[i].end, first.documents()[i].end);
    }
  }

  void editedFileIsRetokenized() {
    TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    writeFile(corpusDir_ / "b-sotu.txt", "A different address entirely.\n");
    const TokenCorpus c = TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    QCOMPARE(c.loadInfo().filesTokenized, 1);
    QCOMPARE(c.loadInfo().filesFromCache, 3);
    const auto want = tok_->encode("A different address entirely.\n");
    const auto& span = c.documents()[1];
    QCOMPARE(span.name, std::string("b-sotu"));
    QCOMPARE(std::vector<int32_t>(c.ids().begin() + span.begin, c.ids().begin() + span.end),
             std::vector<int32_t>(want.begin(), want.end()));
  }

  void corruptCacheIsRebuilt_data() {
    QTest::addColumn<QString>("damage");
    QTest::newRow("truncated to half") << "truncate-half";
    QTest::newRow("truncated inside header") << "truncate-header";
    QTest::newRow("emptied") << "empty";
    QTest::newRow("payload byte flipped") << "flip-last";
    QTest::newRow("magic byte flipped") << "flip-magic";
    QTest::newRow("count byte flipped") << "flip-count";
    QTest::newRow("bytes appended") << "append";
    QTest::newRow("another file's cache") << "swap";
  }

  void corruptCacheIsRebuilt() {
    QFETCH(QString, damage);
    const auto expected = expectedIds();
    TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    const auto files = cacheFiles(cacheDir_);
    QCOMPARE(files.size(), size_t(4));
    std::vector<std::string> originals;
    for (const auto& f : files) originals.push_back(attnx::test::readTextFile(f.string()));
    for (size_t i = 0; i < files.size(); ++i) {
      std::string b = originals[i];
      const std::string d = damage.toStdString();
      if (d == "truncate-half") b.resize(b.size() / 2);
      else if (d == "truncate-header") b.resize(20);
      else if (d == "empty") b.clear();
      else if (d == "flip-last") b.back() = char(b.back() ^ 0x01);
      else if (d == "flip-magic") b[0] = char(b[0] ^ 0x20);
      else if (d == "flip-count") b[24] = char(b[24] ^ 0x01);
      else if (d == "append") b += std::string(8, '\0');
      else if (d == "swap") b = originals[(i + 1) % files.size()];
      writeFile(files[i], b);
    }
    const TokenCorpus rebuilt = TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    QCOMPARE(rebuilt.ids(), expected);
    QCOMPARE(rebuilt.loadInfo().filesTokenized, 4);
    QCOMPARE(rebuilt.loadInfo().filesFromCache, 0);
    // The rebuilt cache was rewritten and is trusted again.
    for (size_t i = 0; i < files.size(); ++i) QCOMPARE(attnx::test::readTextFile(files[i].string()), originals[i]);
    const TokenCorpus again = TokenCorpus::load(corpusDir_.string(), *tok_, cacheDir_.string());
    QCOMPARE(again.loadInfo().filesFromCache, 4);
    QCOMPARE(again.ids(), expected);
  }

  void unwritableCacheIsNotAnError() {
    const fs::path blocker = fs::path(tmp_->path().toStdString()) / "blocker";
    writeFile(blocker, "a file where the cache folder should be");
    const TokenCorpus c = TokenCorpus::load(corpusDir_.string(), *tok_, (blocker / "cache").string());
    QCOMPARE(c.ids(), expectedIds());
    QCOMPARE(c.loadInfo().cacheWriteFailures, 4);
  }

  void loadErrorsNameThePath() {
    const std::string missing = (corpusDir_ / "no-such-folder").string();
    std::string msg = attnx::test::errorOf([&] { TokenCorpus::load(missing, *tok_); });
    QVERIFY2(msg.find(missing) != std::string::npos && msg.find(".txt") != std::string::npos, msg.c_str());

    const fs::path empty = fs::path(tmp_->path().toStdString()) / "empty";
    fs::create_directories(empty);
    msg = attnx::test::errorOf([&] { TokenCorpus::load(empty.string(), *tok_); });
    QVERIFY2(msg.find(empty.string()) != std::string::npos && msg.find("no .txt") != std::string::npos, msg.c_str());

    const fs::path noText = fs::path(tmp_->path().toStdString()) / "no-text";
    fs::create_directories(noText / "inner.txt");  // a folder named *.txt is not a document
    writeFile(noText / "readme.md", "x");
    msg = attnx::test::errorOf([&] { TokenCorpus::load(noText.string(), *tok_); });
    QVERIFY2(msg.find(noText.string()) != std::string::npos && msg.find("no .txt") != std::string::npos, msg.c_str());
  }

  void badSpansAreRejected() {
    QVERIFY(!attnx::test::errorOf([] { TokenCorpus({1, 2, 3}, {DocumentSpan{"a", 0, 4}}); }).empty());
    QVERIFY(!attnx::test::errorOf([] { TokenCorpus({1, 2, 3}, {DocumentSpan{"a", 0, 2}, DocumentSpan{"b", 1, 3}}); }).empty());
    QVERIFY(attnx::test::errorOf([] { TokenCorpus({1, 2, 3}, {DocumentSpan{"a", 0, 1}, DocumentSpan{"b", 2, 3}}); }).empty());
  }

  // splitmix64's published first outputs for seed 0 (Vigna's splitmix64.c), so the generator is
  // known to be the real one and stays the same on every platform.
  void splitmixMatchesReference() {
    uint64_t s = 0;
    QCOMPARE(attnx::splitmix64Next(s), uint64_t(0xE220A8397B1DCDAFULL));
    QCOMPARE(attnx::splitmix64Next(s), uint64_t(0x6E789E6AA1B965F4ULL));
    QCOMPARE(attnx::splitmix64Next(s), uint64_t(0x06C45D188009454FULL));
    for (uint64_t bound : {1ULL, 2ULL, 3ULL, 1000ULL, (1ULL << 63) + 1}) {
      uint64_t st = 42;
      for (int i = 0; i < 1000; ++i) QVERIFY(attnx::uniformBelow(st, bound) < bound);
    }
  }

  void batchesAreDeterministicSlices() {
    const TokenCorpus c = positionalCorpus(5000);
    const WindowSampler s(c, 64, 1234);
    const auto b = s.batch(16, 7);
    QCOMPARE(b.size(), size_t(16));
    for (const auto& w : b) {
      QCOMPARE(w.size(), size_t(64));
      const int64_t start = w[0];
      QVERIFY(start >= 0 && start + 64 <= c.size());
      for (int64_t k = 0; k < 64; ++k) QCOMPARE(w[size_t(k)], start + k);  // == corpus slice
    }
    QCOMPARE(s.batchStarts(16, 7), [&] {
      std::vector<int64_t> st;
      for (const auto& w : b) st.push_back(w[0]);
      return st;
    }());
    // Resuming: a fresh sampler at step 7 draws the same batch, whatever was drawn before.
    const WindowSampler resumed(c, 64, 1234);
    QCOMPARE(resumed.batch(16, 7), b);
    // A batch is a prefix-stable function of the index: a bigger batch starts with the same windows.
    const auto bigger = s.batchStarts(32, 7);
    QCOMPARE(std::vector<int64_t>(bigger.begin(), bigger.begin() + 16), s.batchStarts(16, 7));
    // Different steps and seeds give different batches.
    QVERIFY(s.batchStarts(16, 8) != s.batchStarts(16, 7));
    QVERIFY(WindowSampler(c, 64, 1235).batchStarts(16, 7) != s.batchStarts(16, 7));
    QVERIFY(s.batch(0, 3).empty());
    QVERIFY(!attnx::test::errorOf([&] { s.batch(-1, 0); }).empty());
    QVERIFY(!attnx::test::errorOf([&] { s.batch(1, -1); }).empty());
  }

  // Pins the exact starts so that any change to the generator (which would silently change what a
  // resumed run trains on) fails here. Values are this implementation's own, recorded once.
  void batchStartsArePinned() {
    const TokenCorpus c = positionalCorpus(100000);
    const WindowSampler s(c, 1024, 42);
    const std::vector<int64_t> got = s.batchStarts(4, 1000);
    QCOMPARE(got, (std::vector<int64_t>{48354, 91363, 58011, 40586}));
  }

  void startsAreUniform() {
    // 1000 possible starts in 20 buckets of 50; 200 steps x 100 windows = 20000 draws.
    const int64_t window = 8, choices = 1000, buckets = 20;
    const TokenCorpus c = positionalCorpus(choices + window - 1);
    const WindowSampler s(c, window, 2024);
    std::vector<int64_t> counts(buckets, 0);
    std::set<int64_t> seen;
    int64_t draws = 0;
    for (int64_t step = 0; step < 200; ++step)
      for (int64_t start : s.batchStarts(100, step)) {
        QVERIFY(start >= 0 && start < choices);
        ++counts[size_t(start * buckets / choices)];
        seen.insert(start);
        ++draws;
      }
    const double expected = double(draws) / buckets;
    double chi2 = 0;
    for (int64_t n : counts) chi2 += (n - expected) * (n - expected) / expected;
    // 19 degrees of freedom: P(chi2 > 43.8) = 0.001. Deterministic, so this never flakes.
    QVERIFY2(chi2 < 43.8, qPrintable(QString("chi2 = %1").arg(chi2)));
    // Both ends are reachable and almost every start is drawn (expected misses: 1000 * e^-20).
    QVERIFY(seen.count(0) && seen.count(choices - 1));
    QCOMPARE(int64_t(seen.size()), choices);
    // Starts within a batch and across neighbouring steps are not correlated in an obvious way.
    int64_t equalNeighbours = 0;
    for (int64_t step = 0; step < 200; ++step) {
      const auto a = s.batchStarts(100, step), b = s.batchStarts(100, step + 1);
      for (size_t i = 0; i < a.size(); ++i) equalNeighbours += (a[i] == b[i]);
    }
    QVERIFY(equalNeighbours < 100);  // expected 20000 / 1000 = 20
  }

  void evalWindowsAreConsecutive() {
    const TokenCorpus c = positionalCorpus(1000);
    const WindowSampler s(c, 10, 1);
    const auto all = s.evalWindows(64, 0);
    QCOMPARE(all.size(), size_t(1000 / 64));
    for (size_t k = 0; k < all.size(); ++k) {
      QCOMPARE(all[k].size(), size_t(64));
      for (size_t j = 0; j < 64; ++j) QCOMPARE(all[k][j], int64_t(k * 64 + j));
    }
    const auto some = s.evalWindows(64, 5);
    QCOMPARE(some.size(), size_t(5));
    QCOMPARE(some, std::vector<std::vector<int64_t>>(all.begin(), all.begin() + 5));
    QCOMPARE(s.evalWindows(64, 1000).size(), all.size());
    QCOMPARE(s.evalWindows(1000, 0).size(), size_t(1));
    QVERIFY(!attnx::test::errorOf([&] { s.evalWindows(1001, 0); }).empty());
    QVERIFY(!attnx::test::errorOf([&] { s.evalWindows(0, 0); }).empty());
    QVERIFY(!attnx::test::errorOf([&] { s.evalWindows(8, -1); }).empty());
  }

  void corpusShorterThanWindowIsAnError() {
    const TokenCorpus c = positionalCorpus(100);
    const std::string msg = attnx::test::errorOf([&] { WindowSampler(c, 101, 0); });
    QVERIFY2(msg.find("100") != std::string::npos && msg.find("101") != std::string::npos, msg.c_str());
    QVERIFY(attnx::test::errorOf([&] { WindowSampler(c, 100, 0).batch(3, 0); }).empty());
    QCOMPARE(WindowSampler(c, 100, 0).batchStarts(3, 5), (std::vector<int64_t>{0, 0, 0}));
    QVERIFY(!attnx::test::errorOf([&] { WindowSampler(c, 0, 0); }).empty());
    QVERIFY(!attnx::test::errorOf([&] { WindowSampler(TokenCorpus(), 1, 0); }).empty());
  }

  // The fetched validation split: every file becomes a named document of the expected domains.
  void realValidationSplit() {
    const std::string dir = attnx::test::dataDir() + "/corpus/validation";
    if (!fs::is_directory(dir)) QSKIP("fetched data not present");
    const TokenCorpus c = TokenCorpus::load(dir, *tok_, cacheDir_.string());
    QVERIFY(c.documents().size() > 5);
    QCOMPARE(c.documents().front().name, std::string("gutenberg-chesterton-brown"));
    QVERIFY(c.documents().back().name.rfind("sotu-", 0) == 0);
    int64_t eos = 0;
    for (int32_t id : c.ids()) eos += (id == tok_->eosId());
    QCOMPARE(eos, int64_t(c.documents().size() - 1));
    const TokenCorpus cached = TokenCorpus::load(dir, *tok_, cacheDir_.string());
    QCOMPARE(cached.loadInfo().filesTokenized, 0);
    QCOMPARE(cached.ids(), c.ids());
  }
};

QTEST_APPLESS_MAIN(TestTokenCorpus)
#include "test_token_corpus.moc"
