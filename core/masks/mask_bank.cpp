#include "core/masks/mask_bank.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/util/json_document.h"

namespace attnx {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// A JSON value as a user would quote it in a message, cut short when long.
std::string gotText(const json& v) { return jsonBrief(v); }

// A non-negative integer, whether nlohmann stored it as signed (built in code) or unsigned (parsed).
bool isNonNegativeInteger(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

// "mask 3 (\"win-0\")", or "mask 3" before the name is known.
std::string maskLabel(size_t index, const std::string& name) {
  std::string label = "mask " + std::to_string(index);
  if (!name.empty()) label += " (\"" + name + "\")";
  return label;
}

// The parameters each family takes, in the order they are written.
std::vector<const char*> fieldsOf(MaskFamily family) {
  switch (family) {
    case MaskFamily::Causal: return {};
    case MaskFamily::Window: return {"w"};
    case MaskFamily::DilatedWindow: return {"w", "r"};
    case MaskFamily::Strided: return {"s"};
    case MaskFamily::BlockLocal: return {"b"};
    case MaskFamily::SummaryColumns: return {"s", "c"};
    case MaskFamily::Sinks: return {"k"};
    case MaskFamily::Offsets: return {"O"};
    case MaskFamily::Random: return {"b", "r", "seed"};
    case MaskFamily::Painted: return {"b", "grid"};
  }
  return {};
}

// "window masks take \"w\"", "random masks take \"b\", \"r\" and \"seed\"".
std::string takesText(MaskFamily family) {
  const auto fields = fieldsOf(family);
  std::string text = std::string(familyName(family)) + " masks take ";
  if (fields.empty()) return text + "no parameters";
  for (size_t t = 0; t < fields.size(); ++t) {
    if (t > 0) text += t + 1 == fields.size() ? " and " : ", ";
    text += "\"" + std::string(fields[t]) + "\"";
  }
  return text;
}

// Parses one mask object; throws MaskError with the mask's label (no origin).
class MaskParser {
 public:
  // version: the bank file's format version; notes: where an older version's meaning changed.
  MaskParser(const json& m, size_t index, int version, std::vector<std::string>& notes)
      : m_(m), index_(index), version_(version), notes_(notes) {}

  MaskSpec parse() {
    if (!m_.is_object()) fail("expected a JSON object, got " + gotText(m_));
    auto name = m_.find("name");
    if (name == m_.end()) fail("field \"name\" is missing");
    if (!name->is_string() || name->get<std::string>().empty())
      fail("field \"name\" must be a non-empty string, got " + gotText(*name));
    spec_.name = name->get<std::string>();

    auto family = m_.find("family");
    if (family == m_.end()) fail("field \"family\" is missing");
    if (!family->is_string()) fail("field \"family\" must be a string, got " + gotText(*family));
    try {
      spec_.family = familyFromName(family->get<std::string>());
    } catch (const MaskError& e) {
      fail(e.what());
    }

    const auto fields = fieldsOf(spec_.family);
    const bool legacyPainted = spec_.family == MaskFamily::Painted && version_ < 2 && !m_.contains("b");
    for (const auto& item : m_.items()) {
      const std::string& key = item.key();  // not a structured binding: Clang < 16 cannot capture one
      const bool known = key == "name" || key == "family" ||
                         std::any_of(fields.begin(), fields.end(), [&](const char* f) { return key == f; });
      if (!known) fail("unknown field \"" + key + "\" (" + takesText(spec_.family) + ")");
    }
    for (const char* f : fields)
      if (!m_.contains(f) && !(legacyPainted && std::string(f) == "b")) fail("field \"" + std::string(f) + "\" is missing (" + takesText(spec_.family) + ")");

    switch (spec_.family) {
      case MaskFamily::Causal: break;
      case MaskFamily::Window: spec_.w = integer("w"); break;
      case MaskFamily::DilatedWindow: spec_.w = integer("w"); spec_.r = integer("r"); break;
      case MaskFamily::Strided: spec_.s = integer("s"); break;
      case MaskFamily::BlockLocal: spec_.b = integer("b"); break;
      case MaskFamily::SummaryColumns: spec_.s = integer("s"); spec_.c = integer("c"); break;
      case MaskFamily::Sinks: spec_.k = integer("k"); break;
      case MaskFamily::Offsets: parseOffsets(); break;
      case MaskFamily::Random:
        spec_.b = integer("b");
        spec_.r = integer("r");
        spec_.seed = seed();
        break;
      case MaskFamily::Painted:
        parseGrid();
        spec_.b = legacyPainted ? MaskBank::kLegacyPaintedCell : integer("b");
        if (legacyPainted)
          notes_.push_back(maskLabel(index_, spec_.name) + ": a version-1 painted grid was stretched over the whole "
                           "sequence, so a token's mask depended on tokens after it; it now covers cells of " +
                           std::to_string(MaskBank::kLegacyPaintedCell) +
                           " tokens from position 0 and continues past the canvas along its block diagonals "
                           "(field \"b\" sets the cell size; saving writes version " +
                           std::to_string(MaskBank::kVersion) + ")");
        break;
    }
    if (auto p = spec_.problem(); !p.empty()) fail(p);
    return spec_;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw MaskError(maskLabel(index_, spec_.name) + ": " + what);
  }

  // A size parameter: an integer that fits int64 (the range, >= 1, is checked by problem()).
  int64_t integer(const char* key) const {
    const json& v = m_.at(key);
    const bool fits = v.is_number_integer() &&
                      !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()));
    if (!fits) fail("field \"" + std::string(key) + "\" must be an integer ≥ 1, got " + gotText(v));
    return v.get<int64_t>();
  }

  uint64_t seed() const {
    const json& v = m_.at("seed");
    if (!isNonNegativeInteger(v)) fail("field \"seed\" must be an integer ≥ 0, got " + gotText(v));
    return v.get<uint64_t>();
  }

  void parseOffsets() {
    const json& v = m_.at("O");
    if (!v.is_array() || v.empty()) fail("field \"O\" must be a non-empty list of integers ≥ 0, got " + gotText(v));
    for (size_t t = 0; t < v.size(); ++t) {
      const json& item = v[t];
      const bool fits = item.is_number_integer() &&
                        !(item.is_number_unsigned() && item.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()));
      if (!fits) fail("field \"O\" item " + std::to_string(t) + " must be an integer ≥ 0, got " + gotText(item));
      spec_.offsets.push_back(item.get<int64_t>());
    }
  }

  void parseGrid() {
    const json& v = m_.at("grid");
    if (!v.is_array() || v.empty())
      fail("field \"grid\" must be a non-empty square list of rows of 0 and 1, got " + gotText(v));
    const size_t G = v.size();
    spec_.gridSize = static_cast<int64_t>(G);
    spec_.grid.reserve(G * G);
    for (size_t row = 0; row < G; ++row) {
      const json& cells = v[row];
      if (!cells.is_array()) fail("field \"grid\" row " + std::to_string(row) + " must be a list of 0 and 1, got " + gotText(cells));
      if (cells.size() != G)
        fail("field \"grid\" row " + std::to_string(row) + " has " + std::to_string(cells.size()) + " cells, expected " +
             std::to_string(G) + " (the grid must be square)");
      for (size_t col = 0; col < G; ++col) {
        const json& cell = cells[col];
        if (!cell.is_number_integer() || (cell.get<int64_t>() != 0 && cell.get<int64_t>() != 1))
          fail("field \"grid\" row " + std::to_string(row) + ", column " + std::to_string(col) +
               " must be 0 or 1, got " + gotText(cell));
        spec_.grid.push_back(static_cast<uint8_t>(cell.get<int64_t>()));
      }
    }
  }

  const json& m_;
  size_t index_;
  int version_;
  std::vector<std::string>& notes_;
  MaskSpec spec_;
};

ordered_json maskToJson(const MaskSpec& m) {
  ordered_json j;
  j["name"] = m.name;
  j["family"] = familyName(m.family);
  switch (m.family) {
    case MaskFamily::Causal: break;
    case MaskFamily::Window: j["w"] = m.w; break;
    case MaskFamily::DilatedWindow: j["w"] = m.w; j["r"] = m.r; break;
    case MaskFamily::Strided: j["s"] = m.s; break;
    case MaskFamily::BlockLocal: j["b"] = m.b; break;
    case MaskFamily::SummaryColumns: j["s"] = m.s; j["c"] = m.c; break;
    case MaskFamily::Sinks: j["k"] = m.k; break;
    case MaskFamily::Offsets: j["O"] = m.offsets; break;
    case MaskFamily::Random: j["b"] = m.b; j["r"] = m.r; j["seed"] = m.seed; break;
    case MaskFamily::Painted: {
      j["b"] = m.b;
      ordered_json rows = ordered_json::array();
      for (int64_t row = 0; row < m.gridSize; ++row) {
        ordered_json cells = ordered_json::array();
        for (int64_t col = 0; col < m.gridSize; ++col) cells.push_back(int(m.grid[size_t(row * m.gridSize + col)]));
        rows.push_back(std::move(cells));
      }
      j["grid"] = std::move(rows);
      break;
    }
  }
  return j;
}

// A JSON value on one line with ", " and ": " separators.
std::string inlineText(const ordered_json& v) {
  if (v.is_array()) {
    std::string text = "[";
    for (size_t t = 0; t < v.size(); ++t) text += (t ? ", " : "") + inlineText(v[t]);
    return text + "]";
  }
  if (v.is_object()) {
    std::string text = "{";
    bool first = true;
    for (const auto& [key, value] : v.items()) {
      text += (first ? "" : ", ") + ordered_json(key).dump() + ": " + inlineText(value);
      first = false;
    }
    return text + "}";
  }
  return v.dump();
}

}  // namespace

// ---- reading ----

MaskBank MaskBank::fromJsonText(const std::string& text, const std::string& origin) {
  return fromJson(parseJsonDocumentAs<MaskError>(text, origin), origin);
}

MaskBank MaskBank::fromJson(const nlohmann::json& doc, const std::string& origin) {
  auto fail = [&origin](const std::string& what) { throw MaskError(origin + ": " + what); };
  if (!doc.is_object()) fail("expected a JSON object (an attnx mask bank), got " + gotText(doc));

  auto format = doc.find("format");
  if (format == doc.end()) fail(std::string("not an attnx mask bank: field \"format\" is missing (expected \"") + kFormat + "\")");
  if (*format != kFormat)
    fail("not an attnx mask bank: field \"format\" is " + gotText(*format) + ", expected \"" + kFormat + "\"");

  MaskBank bank;
  auto version = doc.find("version");
  if (version == doc.end()) fail("field \"version\" is missing");
  if (!isNonNegativeInteger(*version) || version->get<uint64_t>() < 1)
    fail("field \"version\" must be an integer ≥ 1, got " + gotText(*version));
  if (version->get<uint64_t>() > static_cast<uint64_t>(kVersion))
    fail("bank format version " + std::to_string(version->get<uint64_t>()) + " is newer than this attnx reads (" +
         std::to_string(kVersion) + "): upgrade attnx to open it");
  const int fileVersion = version->get<int>();  // read as that version, held and written as the newest

  for (const auto& [key, value] : doc.items())
    if (key != "format" && key != "version" && key != "name" && key != "description" && key != "masks")
      fail("unknown field \"" + key + "\" (a bank has \"format\", \"version\", \"name\", \"description\" and \"masks\")");
  for (auto [key, target] : {std::pair{"name", &bank.name}, std::pair{"description", &bank.description}}) {
    auto it = doc.find(key);
    if (it == doc.end()) continue;
    if (!it->is_string()) fail("field \"" + std::string(key) + "\" must be a string, got " + gotText(*it));
    *target = it->get<std::string>();
  }

  auto masks = doc.find("masks");
  if (masks == doc.end()) fail("field \"masks\" is missing (the list of masks)");
  if (!masks->is_array()) fail("field \"masks\" must be a list of masks, got " + gotText(*masks));
  if (masks->empty()) fail("field \"masks\" is empty: a bank needs at least one mask");
  for (size_t index = 0; index < masks->size(); ++index) {
    try {
      bank.masks.push_back(MaskParser((*masks)[index], index, fileVersion, bank.notes).parse());
    } catch (const MaskError& e) {
      fail(e.what());
    }
    const auto& added = bank.masks.back();
    if (int first = bank.indexOf(added.name); first != static_cast<int>(index))
      fail(maskLabel(index, added.name) + ": the name \"" + added.name + "\" is already used by mask " + std::to_string(first));
  }
  return bank;
}

MaskBank MaskBank::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MaskError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw MaskError(path + ": cannot read (" + std::strerror(errno) + ")");
  return fromJsonText(ss.str(), path);
}

// ---- writing ----

nlohmann::ordered_json MaskBank::toJson() const {
  ordered_json j;
  j["format"] = kFormat;
  j["version"] = version;
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  ordered_json list = ordered_json::array();
  for (const auto& m : masks) list.push_back(maskToJson(m));
  j["masks"] = std::move(list);
  return j;
}

std::string MaskBank::toJsonText() const {
  const ordered_json doc = toJson();
  std::string text = "{\n";
  for (const auto& [key, value] : doc.items()) {
    if (key == "masks") continue;
    text += "  " + ordered_json(key).dump() + ": " + value.dump() + ",\n";
  }
  text += "  \"masks\": [\n";
  const auto& list = doc["masks"];
  for (size_t t = 0; t < list.size(); ++t) {
    const auto& m = list[t];
    text += "    {";
    bool first = true;
    for (const auto& [key, value] : m.items()) {
      text += (first ? "" : ", ") + ordered_json(key).dump() + ": ";
      first = false;
      if (key == "grid") {  // one row per line, so the picture is visible in the file
        text += "[\n";
        for (size_t row = 0; row < value.size(); ++row)
          text += "      " + inlineText(value[row]) + (row + 1 < value.size() ? ",\n" : "\n");
        text += "    ]";
      } else {
        text += inlineText(value);
      }
    }
    text += t + 1 < list.size() ? "},\n" : "}\n";
  }
  text += "  ]\n}\n";
  return text;
}

void MaskBank::save(const std::string& path) const {
  try {
    validate();
  } catch (const MaskError& e) {
    throw MaskError(path + ": not saved: " + e.what());
  }
  writeFileAtomically(path, toJsonText());
}

// ---- checks ----

void MaskBank::validate() const {
  if (version < 1 || version > kVersion)
    throw MaskError("bank format version " + std::to_string(version) + " is not supported (this attnx writes " +
                    std::to_string(kVersion) + ")");
  if (masks.empty()) throw MaskError("the bank has no masks: a bank needs at least one mask");
  for (size_t index = 0; index < masks.size(); ++index) {
    const auto& m = masks[index];
    if (m.name.empty()) throw MaskError(maskLabel(index, "") + ": the name is empty");
    if (auto p = m.problem(); !p.empty()) throw MaskError(maskLabel(index, m.name) + ": " + p);
    if (int first = indexOf(m.name); first != static_cast<int>(index))
      throw MaskError(maskLabel(index, m.name) + ": the name \"" + m.name + "\" is already used by mask " +
                      std::to_string(first));
  }
}

int MaskBank::indexOf(const std::string& maskName) const {
  for (size_t t = 0; t < masks.size(); ++t)
    if (masks[t].name == maskName) return static_cast<int>(t);
  return -1;
}

void MaskBank::checkCoefficients(const std::vector<double>& coefficients) const {
  if (coefficients.size() != masks.size())
    throw MaskError("expected " + std::to_string(masks.size()) + " coefficients (one per mask), got " +
                    std::to_string(coefficients.size()));
  for (size_t t = 0; t < coefficients.size(); ++t)
    if (!std::isfinite(coefficients[t]) || coefficients[t] < 0) {
      std::ostringstream got;
      got << coefficients[t];
      throw MaskError("coefficient " + std::to_string(t) + " (mask \"" + masks[t].name +
                      "\") must be a finite number ≥ 0, got " + got.str());
    }
}

// ---- the combined mask ----

CombinedMask MaskBank::combined(const std::vector<double>& coefficients, int64_t n) const {
  checkCoefficients(coefficients);
  CombinedMask out;
  out.n = n;
  out.weights.assign(static_cast<size_t>(n * n), 0.0f);  // (n, n)
  std::vector<int64_t> keys;
  for (size_t k = 0; k < masks.size(); ++k) {
    if (coefficients[k] <= 0) continue;
    const auto alpha = static_cast<float>(coefficients[k]);
    for (int64_t i = 0; i < n; ++i) {
      masks[k].keysOfRow(i, n, keys);
      for (int64_t j : keys) out.weights[static_cast<size_t>(i * n + j)] += alpha;
    }
  }
  out.attendedPairs = std::count_if(out.weights.begin(), out.weights.end(), [](float v) { return v > 0; });
  out.density = n > 0 ? static_cast<double>(out.attendedPairs) / (static_cast<double>(n) * (n + 1) / 2) : 0.0;
  return out;
}

int64_t MaskBank::attendedPairs(const std::vector<double>& coefficients, int64_t n) const {
  checkCoefficients(coefficients);
  std::vector<const MaskSpec*> active;
  for (size_t k = 0; k < masks.size(); ++k)
    if (coefficients[k] > 0) active.push_back(&masks[k]);
  if (active.empty() || n <= 0) return 0;
  if (active.size() == 1) return active[0]->allowedPairs(n);

  std::vector<int64_t> seenInRow(static_cast<size_t>(n), -1);  // the last row that counted key j
  std::vector<int64_t> keys;
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    // A mask that fills the row decides it without enumerating anything (causal, s = 1, ...).
    if (std::any_of(active.begin(), active.end(), [&](const MaskSpec* m) { return m->rowCount(i, n) == i + 1; })) {
      total += i + 1;
      continue;
    }
    for (const MaskSpec* m : active) {
      m->keysOfRow(i, n, keys);
      for (int64_t j : keys)
        if (seenInRow[static_cast<size_t>(j)] != i) {
          seenInRow[static_cast<size_t>(j)] = i;
          ++total;
        }
    }
  }
  return total;
}

bool MaskBank::operator==(const MaskBank& o) const {
  return version == o.version && name == o.name && description == o.description && masks == o.masks;
}

}  // namespace attnx
