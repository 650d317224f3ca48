// A bank of candidate masks: an ordered list of named MaskSpecs, its JSON file (a user
// document, versioned and validated field by field), and the combined soft mask
// W_ij = sum_k alpha_k m_k(i, j) of method.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/masks/mask_spec.h"

namespace attnx {

// The combined mask of a bank for given coefficients, at length n.
struct CombinedMask {
  int64_t n = 0;
  std::vector<float> weights;   // (n, n) row-major: W_ij, 0 above the diagonal
  int64_t attendedPairs = 0;    // pairs with W_ij > 0
  double density = 0.0;         // attendedPairs / (n(n+1)/2)
};

class MaskBank {
 public:
  static constexpr const char* kFormat = "attnx-mask-bank";
  // The newest version this build reads and the one it writes. 2: painted masks have a cell size
  // "b" in tokens and no longer stretch over the sequence (method.md); version-1 files still load.
  static constexpr int kVersion = 2;
  // The cell size a version-1 painted mask is given (its grid used to stretch over n).
  static constexpr int64_t kLegacyPaintedCell = 64;

  int version = kVersion;
  std::string name;
  std::string description;  // optional, free text
  std::vector<MaskSpec> masks;
  // What loading an older file changed in its meaning, one line per mask, for the user to read
  // (empty for a current file). Not part of the bank: not saved, not compared.
  std::vector<std::string> notes;

  // Parse and validate. Every error is a MaskError "<origin>: <what is wrong>", naming the mask
  // (index from 0 and name) and the field, e.g.
  //   bank.json: mask 3 ("win-0"): field "w" must be an integer ≥ 1, got 0
  static MaskBank fromJsonText(const std::string& text, const std::string& origin);
  static MaskBank fromJson(const nlohmann::json& doc, const std::string& origin);
  // Reads `path`; errors are prefixed with the path.
  static MaskBank load(const std::string& path);

  // Canonical text: fixed key order, one line per mask (painted grids one line per row), so
  // the same bank always gives the same bytes and diffs stay readable. Ends with a newline.
  std::string toJsonText() const;
  nlohmann::ordered_json toJson() const;  // the same document, keys in the same order
  // Validates, then writes toJsonText() atomically (temporary file + rename).
  void save(const std::string& path) const;

  // Throws MaskError "mask 3 (\"win-0\"): ..." for the first bad mask, a duplicate or empty
  // name, or an empty bank.
  void validate() const;

  // Index of the mask called `maskName`, or -1.
  int indexOf(const std::string& maskName) const;

  // W_ij = sum_k alpha_k m_k(i, j), dense. `coefficients` has one value >= 0 per mask (else
  // MaskError). All-zero coefficients give W = 0 everywhere, the diagonal included.
  CombinedMask combined(const std::vector<double>& coefficients, int64_t n) const;
  // Number of pairs in the union of the supports of the masks with alpha_k > 0, without an
  // n x n matrix (memory O(n)); the same count as CombinedMask::attendedPairs.
  int64_t attendedPairs(const std::vector<double>& coefficients, int64_t n) const;

  bool operator==(const MaskBank& other) const;
  bool operator!=(const MaskBank& other) const { return !(*this == other); }

 private:
  void checkCoefficients(const std::vector<double>& coefficients) const;
};

}  // namespace attnx
