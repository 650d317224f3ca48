// libFuzzer harness for the byte-level BPE tokenizer (core/io/bpe_tokenizer.cpp). An input is
//   vocab.json SEP merges.txt [SEP text]     with SEP = "\n@@@@\n"
// (no second separator: the whole input is the text). The two files go through memfds. Loading
// must either succeed or be refused with a std::runtime_error naming the file at fault
// ("<vocab path>: ..." or "<merges path>: ..."). A loaded tokenizer must keep the header's
// promises: decode(encode(bytes)) == bytes for every byte string, every id is in the vocabulary,
// "<|endoftext|>" is eosId() when the vocabulary has it, and tokenBytes/idOf/decode agree.
#include "core/io/bpe_tokenizer.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "tests/fuzz/fuzz_common.h"

using attnx::BpeTokenizer;

namespace {

constexpr std::string_view kSep = "\n@@@@\n";

const attnx_fuzz::MemFile& vocabFile() { static const attnx_fuzz::MemFile f("vocab.json"); return f; }
const attnx_fuzz::MemFile& mergesFile() { static const attnx_fuzz::MemFile f("merges.txt"); return f; }

bool startsWithOrigin(const char* what, const std::string& origin) {
  return std::strncmp(what, origin.c_str(), origin.size()) == 0 && std::strncmp(what + origin.size(), ": ", 2) == 0;
}

void checkRoundTrip(const BpeTokenizer& tok, std::string_view text) {
  const std::vector<int> ids = tok.encode(text);
  const int n = tok.vocabSize();
  size_t bytes = 0;
  for (int id : ids) {
    FUZZ_CHECK(id >= 0 && id < n);
    bytes += tok.tokenBytes(id).size();
  }
  FUZZ_CHECK(bytes == text.size());
  FUZZ_CHECK(tok.decode(ids) == text);  // the header's promise, for every byte string
  // Hugging Face's special token: the literal becomes eosId() (when the vocabulary has it).
  if (tok.eosId() >= 0 && text.find("<|endoftext|>") == std::string_view::npos) {
    const std::string withEos = std::string(text) + "<|endoftext|>";
    const std::vector<int> more = tok.encode(withEos);
    FUZZ_CHECK(!more.empty() && more.back() == tok.eosId());
    FUZZ_CHECK(tok.decode(more) == withEos);
  }
}

void checkLoaded(const BpeTokenizer& tok, std::string_view text) {
  const int n = tok.vocabSize();
  FUZZ_CHECK(n >= 256);  // a byte-level vocabulary has all 256 single bytes
  if (tok.eosId() >= 0) {
    FUZZ_CHECK(tok.eosId() < n);
    FUZZ_CHECK(tok.tokenBytes(tok.eosId()) == "<|endoftext|>");
    FUZZ_CHECK(tok.idOf("<|endoftext|>") == tok.eosId());
  } else {
    FUZZ_CHECK(!tok.idOf("<|endoftext|>").has_value());
  }
  // Ids out of range are refused with std::out_of_range, never read.
  for (int bad : {-1, n}) {
    bool refused = false;
    try {
      (void)tok.decode({bad});
    } catch (const std::out_of_range&) {
      refused = true;
    }
    FUZZ_CHECK(refused);
  }
  FUZZ_CHECK(tok.decode({}).empty());
  checkRoundTrip(tok, text);
  // The empty text and the text cut at every tenth byte (splits inside UTF-8 characters too).
  FUZZ_CHECK(tok.encode("").empty());
  for (size_t cut = 1; cut < text.size(); cut += 10) checkRoundTrip(tok, text.substr(0, cut));
  // Encoding is deterministic (the second call goes through the BPE cache).
  FUZZ_CHECK(tok.encode(text) == tok.encode(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t first = input.find(kSep);
  if (first == std::string_view::npos) return 0;
  const std::string_view vocab = input.substr(0, first);
  std::string_view merges = input.substr(first + kSep.size());
  std::string_view text = input;
  if (const size_t second = merges.find(kSep); second != std::string_view::npos) {
    text = merges.substr(second + kSep.size());
    merges = merges.substr(0, second);
  }
  vocabFile().set(vocab);
  mergesFile().set(merges);
  const std::string& vp = vocabFile().path;
  const std::string& mp = mergesFile().path;

  std::optional<BpeTokenizer> tok;
  try {
    tok = BpeTokenizer::fromFiles(vp, mp);
  } catch (const std::runtime_error& e) {
    if (!startsWithOrigin(e.what(), vp) && !startsWithOrigin(e.what(), mp))
      attnx_fuzz::bug("refusal message names neither file", e.what());
  } catch (const std::exception& e) {
    attnx_fuzz::undocumented(typeid(e).name(), e.what());
  } catch (...) {
    attnx_fuzz::undocumented("(not a std::exception)", "");
  }
  if (!tok) return 0;
  try {
    checkLoaded(*tok, text);
  } catch (const std::exception& e) {  // encode/decode/tokenBytes of a loaded tokenizer never throw here
    std::fprintf(stderr, "loaded tokenizer threw %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
