// GPT-2's byte-level BPE tokenizer, exact: the same ids as OpenAI's encoder.py and Hugging Face's
// GPT2Tokenizer, from the vocab.json / merges.txt of any GPT-2-family model folder.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnx {

// Immutable after loading; copies share the tables and the BPE cache. encode/decode are const and
// safe to call from several threads at once.
//
// Encoding: the literal "<|endoftext|>" becomes eosId() (as in Hugging Face), the text between is
// split by GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// where \s is Unicode White_Space (as in Python's `regex`, which encoder.py uses), then each piece
// is merged by rank.
//
// Invalid UTF-8 input is not an error: each maximal run of bytes that are not valid UTF-8 becomes
// a piece of its own (it also ends the whitespace run before it, as the end of the text would),
// so decode(encode(bytes)) == bytes for every byte string. Reference tokenizers cannot take such
// input at all (they work on Unicode strings), so there is nothing else to agree with.
//
// Known limit: \p{L} and \p{N} come from PCRE2's Unicode tables (Unicode 14 in Debian 12's
// PCRE2 10.42); characters assigned later may be split differently than by a newer reference.
class BpeTokenizer {
public:
  // vocab.json (token string -> id, ids 0..N-1) and merges.txt (an optional first line
  // "#version..." then "a b" per line). Throws std::runtime_error "<path>: <problem>" for a missing
  // file, bad JSON, a token outside the byte alphabet, or a bad merges line ("<path>: line N: ...").
  static BpeTokenizer fromFiles(const std::string& vocabJsonPath, const std::string& mergesTxtPath);
  // dir/vocab.json + dir/merges.txt.
  static BpeTokenizer fromFolder(const std::string& dir);

  std::vector<int> encode(std::string_view utf8) const;
  // The exact bytes of the tokens, concatenated. Throws std::out_of_range for an unknown id.
  std::string decode(const std::vector<int>& ids) const;
  // Raw bytes of one token (may be a partial UTF-8 sequence). Throws std::out_of_range.
  std::string tokenBytes(int id) const;

  int vocabSize() const;  // 50257 for GPT-2
  int eosId() const;      // id of "<|endoftext|>" (50256 for GPT-2), -1 if the vocab has none
  // Id of a token written as in vocab.json (byte-to-unicode form, e.g. "Ġthe").
  std::optional<int> idOf(std::string_view tokenString) const;

private:
  struct Impl;
  explicit BpeTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace attnx
