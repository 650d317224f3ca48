// GPT-2 byte-level BPE: loading vocab.json / merges.txt, PCRE2 pre-tokenisation, rank-ordered
// merges with a shared cache. Tokens are kept as raw bytes; the byte-to-unicode alphabet of
// vocab.json is only a spelling, undone once at load time.
#include "core/io/bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/util/json_document.h"

namespace attnx {
namespace {

constexpr std::string_view kEndOfText = "<|endoftext|>";
// Pieces longer than this are merged afresh each time: they rarely repeat and would bloat the cache.
constexpr std::size_t kMaxCachedPieceBytes = 64;
// The cache is emptied when it holds this many pieces, so novel input cannot grow it without bound.
constexpr std::size_t kMaxCacheEntries = std::size_t{1} << 20;

// Unicode White_Space, which is what \s means in Python's `regex` module (encoder.py). PCRE2's own
// \s with UCP also matches U+180E, and JavaScript's adds U+FEFF and drops U+0085.
#define ATTNX_WS "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
// GPT-2's pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
constexpr const char* kPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" ATTNX_WS "\\p{L}\\p{N}]+"
    "|[" ATTNX_WS "]+(?![^" ATTNX_WS "])|[" ATTNX_WS "]+";
#undef ATTNX_WS

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes spell themselves, the other 68 bytes are
// spelled U+0100, U+0101, ... in byte order, so that no token contains whitespace or controls.
std::array<char32_t, 256> byteToUnicode() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? char32_t(b) : next++;
  }
  return table;
}

// Reads one UTF-8 code point at s[i]; returns its length, or 0 when the bytes are not valid UTF-8.
int decodeUtf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  int len = 0;
  if (b0 < 0x80) { cp = b0; return 1; }
  if (b0 >= 0xC2 && b0 <= 0xDF) { cp = b0 & 0x1F; len = 2; }
  else if (b0 >= 0xE0 && b0 <= 0xEF) { cp = b0 & 0x0F; len = 3; }
  else if (b0 >= 0xF0 && b0 <= 0xF4) { cp = b0 & 0x07; len = 4; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (int k = 1; k < len; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  const char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < minimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string shown(s.substr(0, kMax));
  shown = nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() > kMax ? shown + "..." : shown;
}

std::string hexCodePoint(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

std::string readFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw std::runtime_error(path + ": file not found");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": cannot read file");
  return bytes;
}

struct Merge {
  int rank;    // line order in merges.txt: lower merges first
  int result;  // id of the merged token
};

std::uint64_t pairKey(int left, int right) {
  return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

std::string pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

struct BpeTokenizer::Impl {
  std::vector<std::string> tokenBytes;               // id -> raw bytes
  std::unordered_map<std::string, int> idOfBytes;    // raw bytes -> id
  std::array<int, 256> byteId{};                     // single-byte tokens
  std::unordered_map<std::uint64_t, Merge> merges;   // (left id, right id) -> merge
  std::array<int, 0x144> byteOfChar{};               // byte-to-unicode inverse, -1 where unused
  int eos = -1;
  std::unique_ptr<pcre2_code, CodeDeleter> pattern;

  mutable std::shared_mutex cacheMutex;
  mutable std::unordered_map<std::string, std::vector<int>> cache;  // piece bytes -> ids

  Impl() {
    byteOfChar.fill(-1);
    const auto table = byteToUnicode();
    for (int b = 0; b < 256; ++b) byteOfChar[table[b]] = b;
  }

  // A vocab.json spelling back to raw bytes; nullopt (with the offending character in `bad`, or
  // U+FFFD for broken UTF-8) when it is not in the byte alphabet.
  std::optional<std::string> unspell(std::string_view s, char32_t* bad = nullptr) const {
    std::string bytes;
    bytes.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      char32_t cp = 0;
      const int len = decodeUtf8(s, i, cp);
      if (len == 0) cp = 0xFFFD;
      if (len == 0 || cp >= byteOfChar.size() || byteOfChar[cp] < 0) {
        if (bad) *bad = cp;
        return std::nullopt;
      }
      bytes.push_back(static_cast<char>(byteOfChar[cp]));
      i += len;
    }
    return bytes;
  }

  void compilePattern() {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // Not PCRE2_MATCH_INVALID_UTF: without JIT it rescans the rest of the subject on every call,
    // which is quadratic on long texts. encodeText validates once and matches with NO_UTF_CHECK.
    pattern.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr));
    if (!pattern)
      throw std::logic_error("BpeTokenizer: GPT-2 pattern does not compile at offset " +
                             std::to_string(offset) + ": " + pcre2Message(error));
    pcre2_jit_compile(pattern.get(), PCRE2_JIT_COMPLETE);  // without JIT PCRE2 interprets: slower, same result
  }

  // GPT-2's merge loop on one piece, in O(n log n): each round takes the lowest-ranked pair present
  // and merges all its occurrences left to right (exactly encoder.py's bpe()), with pairs kept in a
  // heap ordered by (rank, position) and the word as a linked list of symbols.
  void bpe(std::string_view piece, std::vector<int>& out) const {
    const int n = static_cast<int>(piece.size());
    struct Symbol {
      int id;  // -1 once merged into its left neighbour
      int prev;
      int next;
    };
    struct Candidate {
      int rank, left, leftId, rightId, result;
      bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : left > o.left;
      }
    };
    std::vector<Symbol> symbols(n);
    for (int i = 0; i < n; ++i)
      symbols[i] = {byteId[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};

    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    const auto consider = [&](int left) {
      if (left < 0) return;
      const int right = symbols[left].next;
      if (right < 0) return;
      const auto it = merges.find(pairKey(symbols[left].id, symbols[right].id));
      if (it != merges.end())
        heap.push({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.result});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);

    std::vector<Candidate> round;
    while (!heap.empty()) {
      // Take the whole round before merging: a merge can create a pair of lower rank, which
      // encoder.py only considers after every occurrence of the current pair is merged.
      round.clear();
      const int rank = heap.top().rank;
      while (!heap.empty() && heap.top().rank == rank) {
        round.push_back(heap.top());
        heap.pop();
      }
      for (const Candidate& c : round) {
        Symbol& left = symbols[c.left];
        // Stale when either side has since been merged (ids only ever get longer tokens).
        if (left.id != c.leftId || left.next < 0 || symbols[left.next].id != c.rightId) continue;
        Symbol& right = symbols[left.next];
        left.id = c.result;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = c.left;
        right.id = -1;
        consider(left.prev);
        consider(c.left);
      }
    }
    for (int i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
  }

  void encodePiece(std::string_view piece, std::vector<int>& out) const {
    if (piece.size() == 1) {
      out.push_back(byteId[static_cast<unsigned char>(piece[0])]);
      return;
    }
    if (piece.size() > kMaxCachedPieceBytes) {
      bpe(piece, out);
      return;
    }
    std::string key(piece);
    {
      std::shared_lock lock(cacheMutex);
      const auto it = cache.find(key);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    const std::size_t start = out.size();
    bpe(piece, out);
    std::unique_lock lock(cacheMutex);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(std::move(key), std::vector<int>(out.begin() + start, out.end()));
  }

  // Pre-tokenises `text` (no special tokens in it) and encodes each piece. The text is cut into
  // maximal valid UTF-8 runs, matched separately (so a run's end acts as the end of the text), and
  // maximal runs of bytes where no valid character starts, each encoded as one piece.
  void encodeText(std::string_view text, std::vector<int>& out) const {
    if (text.empty()) return;
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(
        pcre2_match_data_create_from_pattern(pattern.get(), nullptr));
    if (!match) throw std::bad_alloc();
    const std::size_t size = text.size();
    char32_t cp = 0;
    for (std::size_t pos = 0; pos < size;) {
      std::size_t end = pos;
      while (end < size) {
        if (static_cast<unsigned char>(text[end]) < 0x80) { ++end; continue; }
        const int len = decodeUtf8(text, end, cp);
        if (len == 0) break;
        end += len;
      }
      if (end > pos) matchValid(text.substr(pos, end - pos), match.get(), out);
      pos = end;
      while (end < size && decodeUtf8(text, end, cp) == 0) ++end;
      if (end > pos) encodePiece(text.substr(pos, end - pos), out);
      pos = end;
    }
  }

  // `text` must be valid UTF-8 (PCRE2 is told not to check it again).
  void matchValid(std::string_view text, pcre2_match_data* match, std::vector<int>& out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    for (std::size_t pos = 0; pos < text.size();) {
      const int rc = pcre2_match(pattern.get(), subject, text.size(), pos, PCRE2_NO_UTF_CHECK, match, nullptr);
      // The branches cover every character, so matches are contiguous; should one ever skip
      // something, the skipped bytes are still encoded (as a piece of their own).
      if (rc == PCRE2_ERROR_NOMATCH) {
        encodePiece(text.substr(pos), out);
        return;
      }
      if (rc < 0)
        throw std::runtime_error("BpeTokenizer::encode: PCRE2 failed at byte " + std::to_string(pos) +
                                 ": " + pcre2Message(rc));
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
      const std::size_t begin = ovector[0], end = ovector[1];
      if (end <= begin)
        throw std::logic_error("BpeTokenizer::encode: empty match at byte " + std::to_string(begin));
      if (begin > pos) encodePiece(text.substr(pos, begin - pos), out);
      encodePiece(text.substr(begin, end - begin), out);
      pos = end;
    }
  }
};

BpeTokenizer::BpeTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

BpeTokenizer BpeTokenizer::fromFolder(const std::string& dir) {
  const std::filesystem::path d(dir);
  return fromFiles((d / "vocab.json").string(), (d / "merges.txt").string());
}

BpeTokenizer BpeTokenizer::fromFiles(const std::string& vocabJsonPath,
                                     const std::string& mergesTxtPath) {
  auto impl = std::make_shared<Impl>();
  const std::string& vp = vocabJsonPath;
  const std::string& mp = mergesTxtPath;

  // vocab.json: {"token spelling": id, ...} with ids 0..N-1, each once.
  const nlohmann::json vocab = parseJsonDocument(readFile(vp), vp);
  if (!vocab.is_object() || vocab.empty())
    throw std::runtime_error(vp + ": expected a non-empty JSON object mapping token strings to ids");
  const std::size_t n = vocab.size();
  impl->tokenBytes.resize(n);
  std::vector<const std::string*> spelling(n, nullptr);
  impl->idOfBytes.reserve(n);
  for (const auto& item : vocab.items()) {
    const std::string& token = item.key();
    const nlohmann::json& value = item.value();
    if (!value.is_number_integer())
      throw std::runtime_error(vp + ": token " + quote(token) + " has id " + jsonBrief(value) +
                               ", expected an integer");
    const auto id = value.get<std::int64_t>();
    if (id < 0 || id >= static_cast<std::int64_t>(n))
      throw std::runtime_error(vp + ": token " + quote(token) + " has id " + std::to_string(id) +
                               ", outside 0.." + std::to_string(n - 1) + " (the file has " +
                               std::to_string(n) + " tokens)");
    if (spelling[id])
      throw std::runtime_error(vp + ": id " + std::to_string(id) + " is used by both " +
                               quote(*spelling[id]) + " and " + quote(token));
    spelling[id] = &token;
    char32_t bad = 0;
    auto bytes = impl->unspell(token, &bad);
    if (!bytes)
      throw std::runtime_error(vp + ": token " + quote(token) + " (id " + std::to_string(id) +
                               ") contains " + hexCodePoint(bad) +
                               ", which is not in GPT-2's byte-to-unicode alphabet");
    impl->idOfBytes.emplace(*bytes, static_cast<int>(id));
    impl->tokenBytes[id] = std::move(*bytes);
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = impl->idOfBytes.find(std::string(1, static_cast<char>(b)));
    if (it == impl->idOfBytes.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw std::runtime_error(vp + ": no token for byte " + std::string(hex) +
                               "; a byte-level vocabulary needs all 256 single-byte tokens");
    }
    impl->byteId[b] = it->second;
  }
  if (const auto it = impl->idOfBytes.find(std::string(kEndOfText)); it != impl->idOfBytes.end())
    impl->eos = it->second;

  // merges.txt: "#version: ..." then one "left right" pair per line, highest priority first.
  const std::string merges = readFile(mp);
  impl->merges.reserve(merges.size() / 8);
  int rank = 0;
  std::size_t lineNo = 0;
  for (std::size_t begin = 0; begin < merges.size();) {
    std::size_t end = merges.find('\n', begin);
    if (end == std::string::npos) end = merges.size();
    std::string_view line(merges.data() + begin, end - begin);
    begin = end + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (lineNo == 1 && line.substr(0, 8) == "#version")) continue;
    const std::string at = mp + ": line " + std::to_string(lineNo) + ": ";
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw std::runtime_error(at + "expected two tokens separated by one space, got " + quote(line));
    int ids[2];
    std::string joined;
    for (int side = 0; side < 2; ++side) {
      const std::string_view part = side == 0 ? line.substr(0, space) : line.substr(space + 1);
      const auto bytes = impl->unspell(part);
      const auto it = bytes ? impl->idOfBytes.find(*bytes) : impl->idOfBytes.end();
      if (it == impl->idOfBytes.end())
        throw std::runtime_error(at + "token " + quote(part) + " is not in the vocabulary");
      ids[side] = it->second;
      joined += *bytes;
    }
    const auto result = impl->idOfBytes.find(joined);
    if (result == impl->idOfBytes.end())
      throw std::runtime_error(at + "merged token " +
                               quote(std::string(line.substr(0, space)) + std::string(line.substr(space + 1))) +
                               " is not in the vocabulary");
    // A repeated pair keeps its last rank, as in encoder.py's dict(zip(merges, range(...))).
    impl->merges[pairKey(ids[0], ids[1])] = Merge{rank++, result->second};
  }

  // Every multi-byte token other than <|endoftext|> is made by a merge: an empty or truncated
  // merges.txt would otherwise tokenise silently by bytes.
  std::vector<bool> produced(n, false);
  for (const auto& [key, merge] : impl->merges) produced[static_cast<std::size_t>(merge.result)] = true;
  std::size_t unreachable = 0;
  int example = -1;
  for (std::size_t id = 0; id < n; ++id)
    if (!produced[id] && impl->tokenBytes[id].size() > 1 && static_cast<int>(id) != impl->eos && ++unreachable == 1)
      example = static_cast<int>(id);
  if (unreachable > 0)
    throw std::runtime_error(mp + ": no merge makes " + std::to_string(unreachable) + " of the vocabulary's multi-byte tokens (e.g. " +
                             quote(spelling[static_cast<std::size_t>(example)] ? *spelling[static_cast<std::size_t>(example)] : std::string()) +
                             ", id " + std::to_string(example) + "); is merges.txt empty, truncated or from another tokenizer?");

  impl->compilePattern();
  return BpeTokenizer(std::move(impl));
}

std::vector<int> BpeTokenizer::encode(std::string_view utf8) const {
  std::vector<int> ids;
  ids.reserve(utf8.size() / 3 + 4);
  if (impl_->eos < 0) {
    impl_->encodeText(utf8, ids);
    return ids;
  }
  // Hugging Face splits the special token out before pre-tokenising; encoder.py alone would not.
  for (std::size_t pos = 0;;) {
    const std::size_t hit = utf8.find(kEndOfText, pos);
    impl_->encodeText(utf8.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos), ids);
    if (hit == std::string_view::npos) break;
    ids.push_back(impl_->eos);
    pos = hit + kEndOfText.size();
  }
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
  const auto& tokens = impl_->tokenBytes;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= static_cast<int>(tokens.size()))
      throw std::out_of_range("BpeTokenizer::decode: id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside the vocabulary (0.." +
                              std::to_string(tokens.size() - 1) + ")");
    bytes += tokens[ids[i]].size();
  }
  std::string text;
  text.reserve(bytes);
  for (int id : ids) text += tokens[id];
  return text;
}

std::string BpeTokenizer::tokenBytes(int id) const {
  const auto& tokens = impl_->tokenBytes;
  if (id < 0 || id >= static_cast<int>(tokens.size()))
    throw std::out_of_range("BpeTokenizer::tokenBytes: id " + std::to_string(id) +
                            " is outside the vocabulary (0.." + std::to_string(tokens.size() - 1) + ")");
  return tokens[id];
}

int BpeTokenizer::vocabSize() const { return static_cast<int>(impl_->tokenBytes.size()); }

int BpeTokenizer::eosId() const { return impl_->eos; }

std::optional<int> BpeTokenizer::idOf(std::string_view tokenString) const {
  const auto bytes = impl_->unspell(tokenString);
  if (!bytes) return std::nullopt;
  const auto it = impl_->idOfBytes.find(*bytes);
  if (it == impl_->idOfBytes.end()) return std::nullopt;
  return it->second;
}

}  // namespace attnx
