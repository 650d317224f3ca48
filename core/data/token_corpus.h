// A text corpus as one flat array of GPT-2 token ids: the .txt files of a folder (or one file),
// each tokenized on its own and joined with <|endoftext|>, with an optional on-disk cache so a
// 20 MB corpus is tokenized once, not at every start of training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnx {

class BpeTokenizer;

// One source file's tokens: ids()[begin, end). The <|endoftext|> between two documents belongs to
// neither, so per-domain metrics can select spans by name ("gutenberg-austen-persuasion",
// "sotu-1790-george-washington").
struct DocumentSpan {
  std::string name;  // file name without ".txt"
  int64_t begin = 0;
  int64_t end = 0;   // exclusive
  int64_t size() const { return end - begin; }
};

class TokenCorpus {
public:
  // What load() did, for logs and tests.
  struct LoadInfo {
    int filesFromCache = 0;   // a valid cache file was read
    int filesTokenized = 0;   // tokenized (no cache dir, no cache file, or a rejected one)
    int cacheWriteFailures = 0;  // the cache could not be written; the ids are still correct
  };

  // `path` is a .txt file or a folder whose *.txt files (not recursive) are taken in byte order of
  // their names; other files are ignored. Throws std::runtime_error naming `path` if it does not
  // exist, is neither, or the folder holds no .txt file, and if the tokenizer has no
  // <|endoftext|> while there are several documents.
  //
  // With a non-empty `cacheDir` (created if missing), each file's ids are kept in
  // cacheDir/tokens-<16 hex>.bin, named by a hash of the file's contents and the tokenizer's
  // identity (vocabulary bytes + a probe encoding that exercises the merges). Files move or get
  // touched without a rebuild, any edit rebuilds. A cache file is checked before use (magic,
  // version, key, length, checksum, ids < vocabSize); anything wrong and it is rebuilt and
  // rewritten atomically, never trusted. Failing to write the cache is not an error.
  static TokenCorpus load(const std::string& path, const BpeTokenizer& tok,
                          const std::string& cacheDir = "");

  // For tests and synthetic data. Throws std::invalid_argument unless the spans are ordered,
  // non-overlapping and inside `ids`.
  TokenCorpus(std::vector<int32_t> ids, std::vector<DocumentSpan> documents);
  TokenCorpus() = default;

  const std::vector<int32_t>& ids() const { return ids_; }
  int64_t size() const { return int64_t(ids_.size()); }
  const std::vector<DocumentSpan>& documents() const { return documents_; }
  // The document containing token position `pos`; nullptr for a separator or out of range.
  const DocumentSpan* documentAt(int64_t pos) const;
  const LoadInfo& loadInfo() const { return loadInfo_; }

private:
  std::vector<int32_t> ids_;
  std::vector<DocumentSpan> documents_;
  LoadInfo loadInfo_;
};

}  // namespace attnx
