// attnx-cli masks --bank FILE --n N [--coefficients a,b,...]: draw every mask of a bank at
// length n with its density, and the combined mask W = sum_k alpha_k m_k for given coefficients.
#include <cmath>
#include <iostream>
#include <locale>
#include <optional>
#include <sstream>

#include "app/cli/commands.h"
#include "core/masks/mask_bank.h"

namespace attnx::cli {
namespace {

constexpr int64_t kMaxN = 65536;             // densities are computed row by row up to here
constexpr int64_t kDrawLimit = 256;          // text: masks are drawn up to this n without --force
constexpr int64_t kValuesLimit = 64;         // text: the combined W is printed with values up to here
constexpr int64_t kJsonMatrixLimit = 1024;   // --json: matrices up to this n without --force
constexpr int64_t kForcedMatrixLimit = 4096; // --force: n^2 cells in memory and output; no further

// Parses "0.5, 0, 1" into non-negative finite numbers; CLI::ValidationError names the bad item.
std::vector<double> parseCoefficientList(const std::string& text, const std::string& option) {
  std::vector<double> values;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first == std::string::npos) throw CLI::ValidationError(option, "empty item in list \"" + text + "\"");
    item = item.substr(first, last - first + 1);
    std::istringstream in(item);
    in.imbue(std::locale::classic());  // "0.5" whatever the user's locale
    double v = 0;
    in >> v;
    if (in.fail() || in.peek() != std::char_traits<char>::eof() || !std::isfinite(v) || v < 0)
      throw CLI::ValidationError(option, "\"" + item + "\" is not a coefficient (a number ≥ 0)");
    values.push_back(v);
  }
  if (values.empty()) throw CLI::ValidationError(option, "no coefficients given");
  return values;
}

std::string percent(double density) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << 100.0 * density << '%';
  return out.str();
}

std::string shortNumber(double v) {
  std::ostringstream out;
  out.precision(3);
  out << v;
  return out.str();
}

int64_t causalPairs(int64_t n) { return n * (n + 1) / 2; }

nlohmann::json maskMatrix(const MaskSpec& m, int64_t n) {
  const auto cells = m.dense(n);  // (n, n)
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i)
    rows.push_back(std::vector<int>(cells.begin() + i * n, cells.begin() + (i + 1) * n));
  return rows;
}

nlohmann::json weightMatrix(const CombinedMask& c) {
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < c.n; ++i)
    rows.push_back(std::vector<float>(c.weights.begin() + i * c.n, c.weights.begin() + (i + 1) * c.n));
  return rows;
}

void drawMask(const MaskSpec& m, int64_t n, bool ascii) {
  const char* on = ascii ? "#" : "█";
  const char* off = ascii ? "." : "·";
  std::vector<int64_t> keys;
  std::string line;
  for (int64_t i = 0; i < n; ++i) {
    m.keysOfRow(i, n, keys);
    line.clear();
    size_t next = 0;
    for (int64_t j = 0; j < n; ++j) {
      const bool set = next < keys.size() && keys[next] == j;
      if (set) ++next;
      line += set ? on : off;
    }
    std::cout << line << '\n';
  }
}

// W with its values; zeros drawn as dots so that the support stands out.
void drawWeights(const CombinedMask& c, bool ascii) {
  std::vector<std::string> cells(c.weights.size());
  size_t width = 1;
  for (size_t t = 0; t < cells.size(); ++t) {
    cells[t] = c.weights[t] > 0 ? shortNumber(c.weights[t]) : "";
    width = std::max(width, cells[t].size());
  }
  const std::string zero = ascii ? "." : "·";
  for (int64_t i = 0; i < c.n; ++i) {
    std::string line;
    for (int64_t j = 0; j < c.n; ++j) {
      const auto& cell = cells[static_cast<size_t>(i * c.n + j)];
      const bool empty = cell.empty();
      line += std::string(width - (empty ? 1 : cell.size()) + (j ? 1 : 0), ' ') + (empty ? zero : cell);
    }
    std::cout << line << '\n';
  }
}

}  // namespace

Runner addMasksCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("masks", "Draw the masks of a bank at length n, their densities and the combined mask");
  struct Args {
    std::string bank, coefficients;
    int64_t n = 0;
    bool ascii = false, force = false;
  };
  auto a = std::make_shared<Args>();
  sub->add_option("--bank", a->bank, "Mask bank (JSON, see resources/banks)")->required();
  sub->add_option("--n", a->n, "Sequence length")->required()->check(CLI::Range(int64_t{1}, kMaxN));
  auto* coeffOpt = sub->add_option("--coefficients", a->coefficients,
                                   "One weight ≥ 0 per mask, comma-separated: also show W = sum of weight × mask");
  sub->add_flag("--ascii", a->ascii, "Draw with # and . instead of █ and ·");
  sub->add_flag("--force", a->force, "Draw or print matrices above the usual size limit (up to n = 4096)");
  addJsonFlag(sub, g);
  return [&g, a, coeffOpt] {
    const int64_t n = a->n;
    const int64_t matrixLimit = a->force ? kForcedMatrixLimit : (g.json ? kJsonMatrixLimit : kDrawLimit);
    if (a->force && n > kForcedMatrixLimit)
      throw CLI::ValidationError("--force", "matrices are limited to n ≤ " + std::to_string(kForcedMatrixLimit) +
                                                " (n² cells), got --n " + std::to_string(n));
    const MaskBank bank = MaskBank::load(a->bank);  // MaskError: exit 1 with the file's problem
    for (const auto& note : bank.notes) std::cerr << "attnx-cli masks: " << a->bank << ": " << note << '\n';

    std::optional<std::vector<double>> coefficients;
    if (coeffOpt->count()) {
      coefficients = parseCoefficientList(a->coefficients, "--coefficients");
      if (coefficients->size() != bank.masks.size())
        throw CLI::ValidationError("--coefficients", "expected " + std::to_string(bank.masks.size()) +
                                                         " values (one per mask of the bank), got " +
                                                         std::to_string(coefficients->size()));
    }
    const bool withMatrix = n <= matrixLimit;

    if (g.json) {
      const auto described = bank.toJson();  // each mask's name, family and parameters
      nlohmann::json masks = nlohmann::json::array();
      for (size_t k = 0; k < bank.masks.size(); ++k) {
        nlohmann::json m(described["masks"][k]);
        m["density"] = bank.masks[k].density(n);
        m["allowed_pairs"] = bank.masks[k].allowedPairs(n);
        if (withMatrix) m["matrix"] = maskMatrix(bank.masks[k], n);
        masks.push_back(std::move(m));
      }
      nlohmann::json doc = {{"bank", bank.name}, {"n", n}, {"causal_pairs", causalPairs(n)}, {"masks", masks}};
      if (coefficients) {
        nlohmann::json c = {{"coefficients", *coefficients}};
        if (withMatrix) {
          const auto w = bank.combined(*coefficients, n);
          c["attended_pairs"] = w.attendedPairs;
          c["density"] = w.density;
          c["matrix"] = weightMatrix(w);
        } else {
          const auto pairs = bank.attendedPairs(*coefficients, n);
          c["attended_pairs"] = pairs;
          c["density"] = static_cast<double>(pairs) / static_cast<double>(causalPairs(n));
        }
        doc["combined"] = std::move(c);
      }
      printJson(doc);
      return 0;
    }

    std::cout << "bank \"" << bank.name << "\" (" << bank.masks.size() << " masks), n = " << n << "\n";
    if (!withMatrix)
      std::cout << "(matrices are drawn up to n = " << matrixLimit
                << (a->force ? "" : "; --force draws them up to n = " + std::to_string(kForcedMatrixLimit)) << ")\n";
    for (const auto& m : bank.masks) {
      const auto params = m.parameterText();
      std::cout << "\n" << m.name << "  " << familyName(m.family) << (params.empty() ? "" : " " + params)
                << "  density " << percent(m.density(n)) << " (" << m.allowedPairs(n) << " of " << causalPairs(n)
                << " causal pairs)\n";
      if (withMatrix) drawMask(m, n, a->ascii);
    }
    if (coefficients) {
      const int64_t pairs = bank.attendedPairs(*coefficients, n);
      std::cout << "\ncombined W = ";
      for (size_t k = 0; k < bank.masks.size(); ++k)
        std::cout << (k ? " + " : "") << shortNumber((*coefficients)[k]) << (a->ascii ? "*" : "·") << bank.masks[k].name;
      std::cout << "\n  density " << percent(static_cast<double>(pairs) / static_cast<double>(causalPairs(n))) << " ("
                << pairs << " of " << causalPairs(n) << " causal pairs)\n";
      if (n <= kValuesLimit || (a->force && withMatrix)) drawWeights(bank.combined(*coefficients, n), a->ascii);
    }
    return 0;
  };
}

}  // namespace attnx::cli
