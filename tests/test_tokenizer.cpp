// BpeTokenizer against ids computed independently (gpt-3-encoder's Encoder.js, and OpenAI's
// encoder.py where the two disagree), byte-exact round trips, and load errors a user can act on.
#include <QtTest>

#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/bpe_tokenizer.h"
#include "tests/support/test_support.h"

using attnx::BpeTokenizer;

namespace {

std::string tokenizerDir() { return attnx::test::dataDir() + "/gpt2-tokenizer"; }

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode(), written out again so the test does not trust the code under test.
std::string spell(unsigned char b) {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256);
    char32_t next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool keep = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE;
      t[i] = keep ? char32_t(i) : next++;
    }
    return t;
  }();
  return utf8(table[b]);
}

QByteArray bytes(const std::string& s) { return QByteArray(s.data(), qsizetype(s.size())); }
std::string str(const QByteArray& b) { return std::string(b.constData(), size_t(b.size())); }

QString showIds(const std::vector<int>& ids, size_t from) {
  QStringList parts;
  for (size_t i = from; i < ids.size() && i < from + 8; ++i) parts << QString::number(ids[i]);
  return "[" + parts.join(", ") + (from + 8 < ids.size() ? ", ...]" : "]");
}

// Names the first difference, which QCOMPARE on two long lists would not.
QString idsDiff(const std::vector<int>& got, const std::vector<int>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return QString("ids differ at index %1 (got %2 ids, expected %3): got %4, expected %5")
      .arg(i).arg(got.size()).arg(want.size()).arg(showIds(got, i), showIds(want, i));
}

// Writes a tiny byte-level vocabulary (the 256 bytes plus `extra`) and merges to dir.
void writeVocab(const QString& dir, const std::vector<std::string>& extra,
                const std::string& mergesText, bool withEot = true) {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b) vocab[spell(static_cast<unsigned char>(b))] = id++;
  for (const auto& t : extra) vocab[t] = id++;
  if (withEot) vocab["<|endoftext|>"] = id++;
  std::ofstream(QDir(dir).filePath("vocab.json").toStdString()) << vocab.dump();
  std::ofstream(QDir(dir).filePath("merges.txt").toStdString()) << mergesText;
}

std::string loadError(const std::string& vocabPath, const std::string& mergesPath) {
  return attnx::test::errorOf([&] { BpeTokenizer::fromFiles(vocabPath, mergesPath); });
}

}  // namespace

// The real vocabulary is fetched data, not part of the repository: say how to get it, never skip.
#define REQUIRE_GPT2()                           \
  do {                                           \
    if (!gpt2_) QFAIL(qPrintable(loadProblem_)); \
  } while (false)

class TestTokenizer : public QObject {
  Q_OBJECT

  std::optional<BpeTokenizer> gpt2_;
  QString loadProblem_;

  struct Case {
    std::string name, text;
    std::vector<int> ids;
  };
  std::vector<Case> cases_;

  // The row's text must encode to exactly the row's ids and decode back to itself.
  void checkRow() {
    QFETCH(QByteArray, text);
    QFETCH(QList<int>, ids);
    const std::vector<int> want(ids.begin(), ids.end());
    const std::vector<int> got = gpt2_->encode(str(text));
    QVERIFY2(got == want, qPrintable(idsDiff(got, want)));
    QCOMPARE(bytes(gpt2_->decode(got)), text);
  }

private Q_SLOTS:
  void initTestCase() {
    try {
      gpt2_ = BpeTokenizer::fromFolder(tokenizerDir());
    } catch (const std::exception& e) {
      loadProblem_ = QString("GPT-2 tokenizer missing or unreadable (%1); run scripts/fetch_data.sh "
                             "to put vocab.json and merges.txt in %2")
                         .arg(e.what(), QString::fromStdString(tokenizerDir()));
    }
    const auto json = attnx::test::readJsonFile(attnx::test::fixture("tokenizer_cases.json"));
    for (const auto& c : json)
      cases_.push_back({c.at("name"), c.at("text"), c.at("ids").get<std::vector<int>>()});
    QVERIFY(cases_.size() >= 60);
  }

  void gpt2Basics() {
    REQUIRE_GPT2();
    QCOMPARE(gpt2_->vocabSize(), 50257);
    QCOMPARE(gpt2_->eosId(), 50256);
    QCOMPARE(gpt2_->idOf("<|endoftext|>"), std::optional<int>(50256));
    QCOMPARE(gpt2_->idOf("\xC4\xA0the"), std::optional<int>(262));  // "Ġthe"
    QCOMPARE(gpt2_->idOf("!"), std::optional<int>(0));
    QCOMPARE(gpt2_->idOf("not a token"), std::optional<int>());
    QCOMPARE(gpt2_->idOf("\xFF"), std::optional<int>());  // not UTF-8
    QCOMPARE(gpt2_->tokenBytes(220), std::string(" "));
    QCOMPARE(gpt2_->tokenBytes(262), std::string(" the"));
    QCOMPARE(gpt2_->tokenBytes(50256), std::string("<|endoftext|>"));
    QCOMPARE(gpt2_->tokenBytes(447), std::string("\xE2\x80"));  // "âĢ": the first two bytes of ’ “ ” …
    QCOMPARE(gpt2_->encode(""), std::vector<int>());
    QCOMPARE(gpt2_->decode({}), std::string());
  }

  // Every byte has its own token, spelled by GPT-2's byte-to-unicode table.
  void byteTokens() {
    REQUIRE_GPT2();
    for (int b = 0; b < 256; ++b) {
      const auto id = gpt2_->idOf(spell(static_cast<unsigned char>(b)));
      QVERIFY2(id.has_value(), qPrintable(QString("no token for byte %1").arg(b)));
      QCOMPARE(gpt2_->tokenBytes(*id), std::string(1, char(b)));
    }
  }

  void fixtures_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QList<int>>("ids");
    for (const Case& c : cases_)
      QTest::newRow(c.name.c_str()) << bytes(c.text) << QList<int>(c.ids.begin(), c.ids.end());
  }

  void fixtures() {
    REQUIRE_GPT2();
    checkRow();
  }

  // Where Encoder.js's JavaScript \s differs from encoder.py's Unicode White_Space (U+0085,
  // U+FEFF), and where PCRE2's own \s would (U+180E): ids from OpenAI's encoder.py.
  void whiteSpaceAsEncoderPy_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QList<int>>("ids");
    QTest::newRow("nel_after_space") << QByteArray(" \xC2\x85!") << QList<int>{220, 126, 227, 0};
    QTest::newRow("nel_run") << QByteArray("line\xC2\x85\xC2\x85next")
                             << QList<int>{1370, 126, 227, 126, 227, 19545};
    QTest::newRow("bom_after_space") << QByteArray(" \xEF\xBB\xBF" "1") << QList<int>{27332, 119, 123, 16};
    QTest::newRow("bom_run") << QByteArray("x \xEF\xBB\xBF\xEF\xBB\xBFy")
                             << QList<int>{87, 27332, 119, 123, 171, 119, 123, 88};
    QTest::newRow("mongolian_vowel_separator")
        << QByteArray("word \xE1\xA0\x8E\xE1\xA0\x8E  x")
        << QList<int>{4775, 28053, 254, 236, 157, 254, 236, 220, 2124};
  }

  void whiteSpaceAsEncoderPy() {
    REQUIRE_GPT2();
    checkRow();
  }

  void roundTripRandomUtf8() {
    REQUIRE_GPT2();
    std::mt19937 rng(20240601);
    // Mostly text-like characters, with every plane and whitespace kind represented.
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x20, 0x7E}, {0x09, 0x0D}, {0x00, 0x1F}, {0x80, 0x2FF}, {0x300, 0x36F}, {0x370, 0x52F},
        {0x600, 0x6FF}, {0x900, 0x97F}, {0x2000, 0x206F}, {0x3000, 0x30FF}, {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, {0xE000, 0xFFFD}, {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}};
    for (int n = 0; n < 3000; ++n) {
      std::string s;
      const int len = std::uniform_int_distribution<int>(0, n % 10 == 0 ? 400 : 40)(rng);
      const auto& r = ranges[std::uniform_int_distribution<size_t>(0, ranges.size() - 1)(rng)];
      for (int i = 0; i < len; ++i) {
        const bool ascii = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
        char32_t cp = ascii ? std::uniform_int_distribution<char32_t>(0x20, 0x7E)(rng)
                            : std::uniform_int_distribution<char32_t>(r.first, r.second)(rng);
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        s += utf8(cp);
      }
      const std::vector<int> ids = gpt2_->encode(s);
      QVERIFY2(gpt2_->decode(ids) == s, qPrintable(QString("string %1 does not round-trip").arg(n)));
    }
  }

  // Invalid UTF-8 is kept, byte for byte: each run of bad bytes is a piece of its own.
  void roundTripArbitraryBytes() {
    REQUIRE_GPT2();
    std::mt19937 rng(7);
    const std::vector<std::string> nasty = {"\xFF", "\xC3", "\xE2\x80", "\xC0\xAF", "\xED\xA0\x80",
                                            "\xF4\x90\x80\x80", "\x80\x80", std::string(1, '\0')};
    for (int n = 0; n < 2000; ++n) {
      std::string s;
      const int len = std::uniform_int_distribution<int>(0, 60)(rng);
      for (int i = 0; i < len; ++i) {
        switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
          case 0: s += char(std::uniform_int_distribution<int>(0, 255)(rng)); break;
          case 1: s += nasty[std::uniform_int_distribution<size_t>(0, nasty.size() - 1)(rng)]; break;
          case 2: s += " "; break;
          default: s += "word\xC3\xA9"; break;
        }
      }
      QVERIFY2(gpt2_->decode(gpt2_->encode(s)) == s,
               qPrintable(QString("byte string %1 does not round-trip").arg(n)));
    }
    // Valid text around bad bytes is tokenised as it would be on its own.
    const auto hello = gpt2_->encode("Hello world");
    auto joined = hello;
    joined.push_back(*gpt2_->idOf(spell('\xFF')));
    QCOMPARE(gpt2_->encode("Hello world\xFF"), joined);
  }

  void endOfText() {
    REQUIRE_GPT2();
    QCOMPARE(gpt2_->encode("<|endoftext|>"), std::vector<int>{50256});
    std::vector<int> want = gpt2_->encode("a");
    want.push_back(50256);
    for (int id : gpt2_->encode(" b")) want.push_back(id);
    QCOMPARE(gpt2_->encode("a<|endoftext|> b"), want);
    QCOMPARE(gpt2_->decode(want), std::string("a<|endoftext|> b"));
  }

  void decodeOutOfRange() {
    REQUIRE_GPT2();
    try {
      gpt2_->decode({464, 50257});
      QFAIL("decode accepted id 50257");
    } catch (const std::out_of_range& e) {
      QCOMPARE(std::string(e.what()),
               std::string("BpeTokenizer::decode: id 50257 at position 1 is outside the vocabulary (0..50256)"));
    }
    QVERIFY_THROWS_EXCEPTION(std::out_of_range, gpt2_->decode({-1}));
    try {
      gpt2_->tokenBytes(-3);
      QFAIL("tokenBytes accepted id -3");
    } catch (const std::out_of_range& e) {
      QCOMPARE(std::string(e.what()),
               std::string("BpeTokenizer::tokenBytes: id -3 is outside the vocabulary (0..50256)"));
    }
  }

  // encode is const and shares one cache: several threads on a cold tokenizer agree with one.
  void concurrentEncode() {
    REQUIRE_GPT2();
    const BpeTokenizer fresh = BpeTokenizer::fromFolder(tokenizerDir());
    std::vector<std::vector<std::vector<int>>> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t)
      threads.emplace_back([&, t] {
        for (int rep = 0; rep < 20; ++rep)
          for (size_t i = 0; i < cases_.size(); ++i) {
            const Case& c = cases_[(i + t * 17) % cases_.size()];
            auto ids = fresh.encode(c.text);
            if (rep == 0) results[t].push_back(std::move(ids));
            else if (ids != results[t][i]) results[t][i].clear();
          }
      });
    for (auto& th : threads) th.join();
    for (size_t t = 0; t < results.size(); ++t)
      for (size_t i = 0; i < cases_.size(); ++i) {
        const Case& c = cases_[(i + t * 17) % cases_.size()];
        QVERIFY2(results[t][i] == c.ids, c.name.c_str());
      }
  }

  // A small hand-made vocabulary: merges apply by rank, not by position.
  void mergeRanks() {
    QTemporaryDir dir;
    writeVocab(dir.path(), {"bc", "ab", "abc"}, "#version: 0.2\nb c\na b\nab c\n");
    const auto tok = BpeTokenizer::fromFolder(dir.path().toStdString());
    QCOMPARE(tok.vocabSize(), 260);
    QCOMPARE(tok.eosId(), 259);
    // "b c" ranks first, so "abc" is a + bc, never ab + c.
    QCOMPARE(tok.encode("abc"), (std::vector<int>{'a', 256}));  // byte b has id b here
    QCOMPARE(tok.encode("abab"), (std::vector<int>{257, 257}));
    QCOMPARE(tok.decode(tok.encode("abcab c<|endoftext|>")), std::string("abcab c<|endoftext|>"));

    // Without "<|endoftext|>" in the vocabulary the literal is ordinary text.
    QTemporaryDir plain;
    writeVocab(plain.path(), {}, "", false);
    const auto bytesOnly = BpeTokenizer::fromFolder(plain.path().toStdString());
    QCOMPARE(bytesOnly.eosId(), -1);
    QCOMPARE(bytesOnly.encode("<|endoftext|>").size(), size_t(13));
  }

  void loadErrors_data() {
    QTest::addColumn<QByteArray>("vocab");   // contents of vocab.json; "-" = no file
    QTest::addColumn<QByteArray>("merges");  // contents of merges.txt; "-" = no file
    QTest::addColumn<QString>("expected");   // %V / %M stand for the two paths

    nlohmann::json bytesOnly = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) bytesOnly[spell(static_cast<unsigned char>(b))] = b;
    auto with = [&](const std::string& token, nlohmann::json id) {
      auto v = bytesOnly;
      v[token] = id;
      return bytes(v.dump());
    };
    const QByteArray good = with("ab", 256);
    auto missingByte = bytesOnly;
    missingByte.erase(spell('A'));
    missingByte["ab"] = int('A');

    QTest::newRow("no vocab file") << QByteArray("-") << QByteArray("") << "%V: file not found";
    QTest::newRow("no merges file") << good << QByteArray("-") << "%M: file not found";
    QTest::newRow("vocab not an object") << QByteArray("[1, 2]") << QByteArray("")
        << "%V: expected a non-empty JSON object mapping token strings to ids";
    QTest::newRow("id not an integer") << with("ab", "x") << QByteArray("")
        << "%V: token \"ab\" has id \"x\", expected an integer";
    QTest::newRow("id out of range") << with("ab", 300) << QByteArray("")
        << "%V: token \"ab\" has id 300, outside 0..256 (the file has 257 tokens)";
    QTest::newRow("duplicate id") << with("ab", 38) << QByteArray("")
        << "%V: id 38 is used by both \"&\" and \"ab\"";
    QTest::newRow("outside byte alphabet") << with("a b", 256) << QByteArray("")
        << "%V: token \"a b\" (id 256) contains U+0020, which is not in GPT-2's byte-to-unicode alphabet";
    QTest::newRow("missing byte token") << bytes(missingByte.dump()) << QByteArray("")
        << "%V: no token for byte 0x41; a byte-level vocabulary needs all 256 single-byte tokens";
    QTest::newRow("merges line without space") << good << QByteArray("#version: 0.2\na b\nab\n")
        << "%M: line 3: expected two tokens separated by one space, got \"ab\"";
    QTest::newRow("merges line with three tokens") << good << QByteArray("a b c\n")
        << "%M: line 1: expected two tokens separated by one space, got \"a b c\"";
    QTest::newRow("merged token not in vocab") << good << QByteArray("#version: 0.2\nab ab\n")
        << "%M: line 2: merged token \"abab\" is not in the vocabulary";
    QTest::newRow("merges token not in vocab") << good << QByteArray("#version: 0.2\na b\nxy z\n")
        << "%M: line 3: token \"xy\" is not in the vocabulary";
    // Without merges the multi-byte tokens are unreachable: tokenising by bytes would be silently wrong.
    QTest::newRow("empty merges") << good << QByteArray("")
        << "%M: no merge makes 1 of the vocabulary's multi-byte tokens (e.g. \"ab\", id 256); is merges.txt empty, "
           "truncated or from another tokenizer?";
    QTest::newRow("truncated merges") << good << QByteArray("#version: 0.2\n")
        << "%M: no merge makes 1 of the vocabulary's multi-byte tokens (e.g. \"ab\", id 256); is merges.txt empty, "
           "truncated or from another tokenizer?";
  }

  void loadErrors() {
    QFETCH(QByteArray, vocab);
    QFETCH(QByteArray, merges);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    const std::string v = QDir(dir.path()).filePath("vocab.json").toStdString();
    const std::string m = QDir(dir.path()).filePath("merges.txt").toStdString();
    if (vocab != "-") std::ofstream(v, std::ios::binary) << str(vocab);
    if (merges != "-") std::ofstream(m, std::ios::binary) << str(merges);
    expected.replace("%V", QString::fromStdString(v)).replace("%M", QString::fromStdString(m));
    QCOMPARE(QString::fromStdString(loadError(v, m)), expected);
  }

  void garbledJson() {
    QTemporaryDir dir;
    const std::string v = QDir(dir.path()).filePath("vocab.json").toStdString();
    std::ofstream(v) << "{\"a\": 0, \"b\": ";
    const std::string error = loadError(v, v);
    QCOMPARE(error, v + ": not valid JSON (line 1, column 15)");
    // Nesting that would overflow the stack of a recursive reader is refused as it is read.
    std::ofstream(v) << std::string(100000, '[') << std::string(100000, ']');
    QCOMPARE(loadError(v, v), v + ": JSON nested more than 64 levels deep");
  }

  void missingFolder() {
    const std::string error = attnx::test::errorOf([] { BpeTokenizer::fromFolder("/nonexistent/attnx-model"); });
    QCOMPARE(error, std::string("/nonexistent/attnx-model/vocab.json: file not found"));
  }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
