// Loading text corpora into token ids, with a validated per-file cache (see token_corpus.h).
#include "core/data/token_corpus.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "core/io/atomic_file.h"
#include "core/io/bpe_tokenizer.h"

namespace fs = std::filesystem;

namespace attnx {
namespace {

constexpr char kCacheMagic[8] = {'A', 'T', 'X', 'T', 'O', 'K', 'C', '\0'};
constexpr uint32_t kCacheVersion = 1;
constexpr size_t kHeaderBytes = 40;  // magic, version, reserved, key, count, checksum

uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t loadLE64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t loadLE32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void appendLE64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += char((v >> (8 * i)) & 0xFF);
}
void appendLE32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += char((v >> (8 * i)) & 0xFF);
}

// A fast 64-bit hash for cache keys and checksums (not cryptographic: it guards against stale and
// damaged caches, not against an adversary). Word-at-a-time multiply-rotate, length folded in,
// then splitmix64's finalizer. Same value on every platform (words are read little-endian).
uint64_t hashBytes(std::string_view bytes, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  uint64_t h = mix64(seed ^ 0x243F6A8885A308D3ULL);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h ^= loadLE64(p + i) * 0x9E3779B97F4A7C15ULL;
    h = ((h << 31) | (h >> 33)) * 0xC2B2AE3D27D4EB4FULL;
  }
  uint64_t tail = 0;
  for (size_t k = n; k > i; --k) tail = (tail << 8) | p[k - 1];
  h ^= tail * 0x9E3779B97F4A7C15ULL;
  h = ((h << 31) | (h >> 33)) * 0xC2B2AE3D27D4EB4FULL;
  return mix64(h ^ uint64_t(n));
}

// Identity of the tokenizer's behaviour: every token's bytes (the vocabulary) and the encoding of
// a probe text long enough to exercise many merges. Two tokenizers with the same fingerprint give
// the same ids for the probe and, in practice, for everything.
uint64_t tokenizerFingerprint(const BpeTokenizer& tok) {
  std::string buf;
  appendLE32(buf, uint32_t(tok.vocabSize()));
  appendLE32(buf, uint32_t(tok.eosId()));
  for (int id = 0; id < tok.vocabSize(); ++id) {
    const std::string b = tok.tokenBytes(id);
    appendLE32(buf, uint32_t(b.size()));
    buf += b;
  }
  static const char* const kProbe =
      "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
      "must be in want of a wife. Mr. President, Members of Congress: the state of our Union is "
      "strong. In the beginning God created the heaven and the earth. Call me Ishmael. 1790 "
      "1,234.56 don't we'll they're <|endoftext|> caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 ok?!\n\n";
  for (int id : tok.encode(kProbe)) appendLE32(buf, uint32_t(id));
  return hashBytes(buf, 0x746F6B656E697A65ULL);
}

std::string readWholeFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(file.string() + ": read failed");
  return ss.str();
}

bool hostIsLittleEndian() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

std::string payloadBytes(const std::vector<int32_t>& ids) {
  std::string out(ids.size() * 4, '\0');
  if (hostIsLittleEndian()) {
    if (!ids.empty()) std::memcpy(out.data(), ids.data(), out.size());
  } else {
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto v = uint32_t(ids[i]);
      for (int k = 0; k < 4; ++k) out[4 * i + k] = char((v >> (8 * k)) & 0xFF);
    }
  }
  return out;
}

std::string encodeCache(uint64_t key, const std::vector<int32_t>& ids) {
  const std::string payload = payloadBytes(ids);
  std::string out(kCacheMagic, sizeof kCacheMagic);
  appendLE32(out, kCacheVersion);
  appendLE32(out, 0);
  appendLE64(out, key);
  appendLE64(out, uint64_t(ids.size()));
  appendLE64(out, hashBytes(payload, key));
  out += payload;
  return out;
}

// The ids in a cache file, or false if it is missing or fails any check.
bool readCache(const fs::path& file, uint64_t key, int vocabSize, std::vector<int32_t>& ids) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  std::string bytes;
  try {
    bytes = readWholeFile(file);
  } catch (const std::exception&) {
    return false;
  }
  if (bytes.size() < kHeaderBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (std::memcmp(p, kCacheMagic, sizeof kCacheMagic) != 0) return false;
  if (loadLE32(p + 8) != kCacheVersion) return false;
  if (loadLE64(p + 16) != key) return false;
  const uint64_t count = loadLE64(p + 24);
  if (count > (bytes.size() - kHeaderBytes) / 4 || kHeaderBytes + count * 4 != bytes.size()) return false;
  const std::string_view payload(bytes.data() + kHeaderBytes, size_t(count) * 4);
  if (hashBytes(payload, key) != loadLE64(p + 32)) return false;
  ids.resize(size_t(count));
  const auto* q = p + kHeaderBytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto id = int32_t(loadLE32(q + 4 * i));
    if (id < 0 || id >= vocabSize) return false;
    ids[i] = id;
  }
  return true;
}

std::string hex16(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[size_t(i)] = digits[v & 0xF];
  return s;
}

std::vector<fs::path> listSources(const std::string& path) {
  const std::string expected = " (expected a .txt file or a folder of .txt files)";
  std::error_code ec;
  const fs::path root(path);
  const auto st = fs::status(root, ec);
  if (ec || !fs::exists(st)) throw std::runtime_error(path + ": no such file or folder" + expected);
  // A file named explicitly is taken whatever its extension (WikiText's *.raw files work).
  if (fs::is_regular_file(st)) return {root};
  if (!fs::is_directory(st)) throw std::runtime_error(path + ": not a regular file or folder" + expected);
  std::vector<fs::path> files;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fileEc;
    if (it->path().extension() == ".txt" && it->is_regular_file(fileEc)) files.push_back(it->path());
  }
  if (ec) throw std::runtime_error(path + ": cannot list folder: " + ec.message());
  if (files.empty()) throw std::runtime_error(path + ": folder has no .txt files" + expected);
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

}  // namespace

TokenCorpus::TokenCorpus(std::vector<int32_t> ids, std::vector<DocumentSpan> documents)
    : ids_(std::move(ids)), documents_(std::move(documents)) {
  int64_t previousEnd = 0;
  for (const auto& d : documents_) {
    if (d.begin < previousEnd || d.end < d.begin || d.end > int64_t(ids_.size()))
      throw std::invalid_argument("TokenCorpus: document span '" + d.name + "' [" + std::to_string(d.begin) +
                                  ", " + std::to_string(d.end) + ") is out of order or outside the " +
                                  std::to_string(ids_.size()) + " ids");
    previousEnd = d.end;
  }
}

const DocumentSpan* TokenCorpus::documentAt(int64_t pos) const {
  auto it = std::upper_bound(documents_.begin(), documents_.end(), pos,
                             [](int64_t p, const DocumentSpan& d) { return p < d.begin; });
  if (it == documents_.begin()) return nullptr;
  --it;
  return pos < it->end ? &*it : nullptr;
}

TokenCorpus TokenCorpus::load(const std::string& path, const BpeTokenizer& tok, const std::string& cacheDir) {
  const std::vector<fs::path> files = listSources(path);
  const int eos = tok.eosId();
  if (files.size() > 1 && eos < 0)
    throw std::runtime_error(path + ": the tokenizer has no <|endoftext|> to separate the " +
                             std::to_string(files.size()) + " documents");

  const bool useCache = !cacheDir.empty();
  uint64_t tokId = 0;
  if (useCache) {
    tokId = tokenizerFingerprint(tok);
    std::error_code ec;
    fs::create_directories(cacheDir, ec);  // a failure shows up as failed writes, not an error
  }

  TokenCorpus corpus;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string text = readWholeFile(files[f]);
    std::vector<int32_t> ids;
    bool cached = false;
    fs::path cacheFile;
    uint64_t key = 0;
    if (useCache) {
      key = mix64(hashBytes(text, tokId) ^ mix64(uint64_t(text.size()) + kCacheVersion));
      cacheFile = fs::path(cacheDir) / ("tokens-" + hex16(key) + ".bin");
      cached = readCache(cacheFile, key, tok.vocabSize(), ids);
    }
    if (cached) {
      ++corpus.loadInfo_.filesFromCache;
    } else {
      const std::vector<int> encoded = tok.encode(text);
      ids.assign(encoded.begin(), encoded.end());
      ++corpus.loadInfo_.filesTokenized;
      if (useCache) {
        try {
          writeFileAtomically(cacheFile.string(), encodeCache(key, ids));
        } catch (const std::exception&) {
          ++corpus.loadInfo_.cacheWriteFailures;
        }
      }
    }
    if (f > 0) corpus.ids_.push_back(int32_t(eos));
    DocumentSpan span;
    span.name = files[f].stem().string();
    span.begin = int64_t(corpus.ids_.size());
    corpus.ids_.insert(corpus.ids_.end(), ids.begin(), ids.end());
    span.end = int64_t(corpus.ids_.size());
    corpus.documents_.push_back(std::move(span));
  }
  return corpus;
}

}  // namespace attnx
