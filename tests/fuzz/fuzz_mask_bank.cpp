// libFuzzer harness for mask bank files (core/masks/mask_bank.cpp, mask_spec.cpp): any text must
// either load as a bank or be refused with a MaskError "<origin>: ...". A loaded bank must keep
// the promises of mask_bank.h and mask_spec.h at small lengths n <= 16:
//   - it validates, and toJsonText → fromJsonText gives an equal bank (with no notes) and the same text;
//   - per mask: allows(i, j) matches the family's formula in mask_spec.h's table (written again
//     here), is causal with the diagonal always allowed and does not depend on n; keysOfRow lists
//     exactly the allowed keys in ascending order; rowCount, allowedPairs, density and dense agree;
//     keyReach, when given, bounds every allowed pair;
//   - combined() and attendedPairs() count the same union.
// Anything else (a crash, a sanitizer report, another exception type) is a bug.
#include "core/masks/mask_bank.h"
#include "core/masks/mask_spec.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "tests/fuzz/fuzz_common.h"

using namespace attnx;

namespace {

const std::string kOrigin = "fuzz/bank.json";
constexpr int64_t kMaxN = 16;

// m(i, j) from mask_spec.h's table (j < i here), without overflow for huge parameters.
bool truth(const MaskSpec& m, int64_t i, int64_t j) {
  const int64_t d = i - j;
  switch (m.family) {
    case MaskFamily::Causal: return true;
    case MaskFamily::Window: return d < m.w;
    case MaskFamily::DilatedWindow: return d % m.r == 0 && d / m.r < m.w;
    case MaskFamily::Strided: return d % m.s == 0;
    case MaskFamily::BlockLocal: return i / m.b == j / m.b;
    case MaskFamily::SummaryColumns: return j % m.s >= m.s - m.c;
    case MaskFamily::Sinks: return j < m.k;
    case MaskFamily::Offsets: return std::find(m.offsets.begin(), m.offsets.end(), d) != m.offsets.end();
    case MaskFamily::Random: {
      const auto blocks = m.randomKeyBlocks(i / m.b);
      return std::find(blocks.begin(), blocks.end(), j / m.b) != blocks.end();
    }
    case MaskFamily::Painted: {
      const int64_t G = m.gridSize, row = i / m.b, col = j / m.b;
      auto cell = [&](int64_t r, int64_t c) { return m.grid[static_cast<size_t>(r * G + c)] != 0; };
      if (row < G) return cell(row, col);
      if (col == 0) return cell(G - 1, 0);
      const int64_t back = row - col;
      return back <= G - 2 && cell(G - 1, G - 1 - back);
    }
  }
  return false;
}

void checkRandomBlocks(const MaskSpec& m, int64_t queryBlock) {
  const auto blocks = m.randomKeyBlocks(queryBlock);
  FUZZ_CHECK(std::is_sorted(blocks.begin(), blocks.end()));
  FUZZ_CHECK(std::adjacent_find(blocks.begin(), blocks.end()) == blocks.end());
  FUZZ_CHECK(static_cast<int64_t>(blocks.size()) == std::min(m.r, queryBlock + 1));
  for (int64_t kb : blocks) FUZZ_CHECK(kb >= 0 && kb <= queryBlock);
  FUZZ_CHECK(m.randomKeyBlocks(queryBlock) == blocks);  // deterministic
}

void checkMask(const MaskSpec& m) {
  FUZZ_CHECK(m.problem().empty());
  FUZZ_CHECK(!m.parameterText().empty() || m.family == MaskFamily::Causal);
  const std::optional<KeyReach> reach = m.keyReach();
  if (reach) FUZZ_CHECK(reach->sinks >= 0 && reach->window >= 1);
  std::vector<int64_t> keys, want;
  for (int64_t n = 1; n <= kMaxN; ++n) {
    int64_t pairs = 0;
    const std::vector<uint8_t> dense = m.dense(n);
    FUZZ_CHECK(dense.size() == static_cast<size_t>(n * n));
    for (int64_t i = 0; i < n; ++i) {
      if (m.family == MaskFamily::Random && i % m.b == 0) checkRandomBlocks(m, i / m.b);
      want.clear();
      for (int64_t j = 0; j < n; ++j) {
        const bool allowed = m.allows(i, j, n);
        FUZZ_CHECK(allowed == (j <= i && (j == i || truth(m, i, j))));
        FUZZ_CHECK(allowed == m.allows(i, j, kMaxN));  // the same at every length covering (i, j)
        FUZZ_CHECK(dense[static_cast<size_t>(i * n + j)] == (allowed ? 1 : 0));
        if (allowed) want.push_back(j);
        if (allowed && reach) FUZZ_CHECK(j < reach->sinks || i - j < reach->window);
        if (m.family == MaskFamily::Painted && j <= i) FUZZ_CHECK(truth(m, i, j) == m.paintedCell(i / m.b, j / m.b));
      }
      m.keysOfRow(i, n, keys);
      FUZZ_CHECK(keys == want);
      FUZZ_CHECK(m.rowCount(i, n) == static_cast<int64_t>(want.size()));
      pairs += static_cast<int64_t>(want.size());
    }
    FUZZ_CHECK(m.allowedPairs(n) == pairs);
    const double density = m.density(n);
    FUZZ_CHECK(density > 0 && density <= 1);
  }
  FUZZ_CHECK(m.allowedPairs(0) == 0 && m.density(0) == 0.0);
}

void checkBank(const MaskBank& bank) {
  try {
    bank.validate();
  } catch (const std::exception& e) {
    attnx_fuzz::bug("loaded bank does not validate", e.what());
  }
  FUZZ_CHECK(bank.version == MaskBank::kVersion);
  FUZZ_CHECK(!bank.masks.empty());
  for (size_t k = 0; k < bank.masks.size(); ++k) {
    FUZZ_CHECK(bank.indexOf(bank.masks[k].name) == static_cast<int>(k));
    if (k < 32) checkMask(bank.masks[k]);  // the full sweep costs ~n^3 calls per mask
  }
  FUZZ_CHECK(bank.indexOf("") == -1);

  // Canonical text, stable, and read back to the same bank with nothing to note.
  const std::string text = bank.toJsonText();
  FUZZ_CHECK(bank.toJsonText() == text);
  std::optional<MaskBank> back;
  try {
    back = MaskBank::fromJsonText(text, "rewritten");
  } catch (const std::exception& e) {
    attnx_fuzz::bug("saved bank does not load", e.what());
  }
  FUZZ_CHECK_MSG(*back == bank, text);
  FUZZ_CHECK(back->notes.empty());
  FUZZ_CHECK(back->toJsonText() == text);

  // The combined mask: all masks on, then each alone, counted both ways.
  if (bank.masks.size() > 64) return;  // the union checks cost masks^2 * n^2
  const int64_t n = kMaxN;
  std::vector<double> alpha(bank.masks.size(), 1.0);
  const CombinedMask all = bank.combined(alpha, n);
  FUZZ_CHECK(all.n == n && all.weights.size() == static_cast<size_t>(n * n));
  FUZZ_CHECK(all.attendedPairs == bank.attendedPairs(alpha, n));
  FUZZ_CHECK(all.attendedPairs >= n && all.attendedPairs <= n * (n + 1) / 2);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (const MaskSpec& m : bank.masks) sum += m.allows(i, j, n) ? 1.0f : 0.0f;
      FUZZ_CHECK(all.weights[static_cast<size_t>(i * n + j)] == sum);
    }
  for (size_t k = 0; k < bank.masks.size() && k < 8; ++k) {
    std::vector<double> one(bank.masks.size(), 0.0);
    one[k] = 0.5;
    FUZZ_CHECK(bank.attendedPairs(one, n) == bank.masks[k].allowedPairs(n));
    FUZZ_CHECK(bank.combined(one, n).attendedPairs == bank.masks[k].allowedPairs(n));
  }
  const std::vector<double> none(bank.masks.size(), 0.0);
  FUZZ_CHECK(bank.attendedPairs(none, n) == 0 && bank.combined(none, n).attendedPairs == 0);
  // Bad coefficients are a MaskError.
  bool refused = false;
  try {
    bank.attendedPairs(std::vector<double>(bank.masks.size() + 1, 1.0), n);
  } catch (const MaskError&) {
    refused = true;
  }
  FUZZ_CHECK(refused);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<MaskBank> bank;
  try {
    bank = MaskBank::fromJsonText(text, kOrigin);
  } catch (const MaskError& e) {
    attnx_fuzz::checkRefusal(e, kOrigin);
  } catch (const std::exception& e) {
    attnx_fuzz::undocumented(typeid(e).name(), e.what());
  } catch (...) {
    attnx_fuzz::undocumented("(not a std::exception)", "");
  }
  if (!bank) return 0;
  try {
    checkBank(*bank);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "a loaded bank threw %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
