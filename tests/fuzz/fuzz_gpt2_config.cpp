// libFuzzer harness for the config.json reader (core/model/gpt2_config.cpp): any text must either
// give a config that validates and survives toJsonText → fromJsonText unchanged, or be refused
// with a std::runtime_error "<origin>: ...". Anything else (a crash, a sanitizer report, another
// exception type, a broken invariant) is a bug.
#include "core/model/gpt2_config.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "tests/fuzz/fuzz_common.h"

using attnx::Gpt2Config;

namespace {

const std::string kOrigin = "fuzz/config.json";

bool same(const Gpt2Config& a, const Gpt2Config& b) {
  return a.vocabSize == b.vocabSize && a.contextLength == b.contextLength && a.embedDim == b.embedDim &&
         a.numLayers == b.numLayers && a.numHeads == b.numHeads && a.layerNormEps == b.layerNormEps &&
         a.eosTokenId == b.eosTokenId;
}

void checkAccepted(const Gpt2Config& c) {
  try {
    c.validate();  // fromJsonText only returns valid configs
  } catch (const std::exception& e) {
    attnx_fuzz::bug("accepted config does not validate", e.what());
  }
  FUZZ_CHECK(c.headDim() > 0 && c.headDim() * c.numHeads == c.embedDim);
  const std::string text = c.toJsonText();
  std::optional<Gpt2Config> back;
  try {
    back = Gpt2Config::fromJsonText(text, "rewritten");
  } catch (const std::exception& e) {
    attnx_fuzz::bug("accepted config does not read back", e.what());
  }
  FUZZ_CHECK_MSG(same(c, *back), text);
  FUZZ_CHECK(back->toJsonText() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<Gpt2Config> config;
  try {
    config = Gpt2Config::fromJsonText(text, kOrigin);
  } catch (const std::runtime_error& e) {
    attnx_fuzz::checkRefusal(e, kOrigin);
  } catch (const std::exception& e) {
    attnx_fuzz::undocumented(typeid(e).name(), e.what());
  } catch (...) {
    attnx_fuzz::undocumented("(not a std::exception)", "");
  }
  if (config) checkAccepted(*config);
  return 0;
}
