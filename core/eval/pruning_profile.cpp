// The pruning profile's ladder and file; see pruning_profile.h.
#include "core/eval/pruning_profile.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/util/json_document.h"

namespace attnx {

using json = nlohmann::json;

namespace {

std::string headLabel(int64_t layer, int64_t head) {
  return "layer " + std::to_string(layer) + ", head " + std::to_string(head);
}

int64_t unionPairs(const MaskBank& bank, const std::vector<int>& masks, int64_t n) {
  std::vector<double> c(bank.masks.size(), 0.0);
  for (int k : masks) c[static_cast<size_t>(k)] = 1.0;
  return bank.attendedPairs(c, n);
}

}  // namespace

std::vector<std::vector<int>> PruningProfile::ladder(const std::vector<int>& active, const std::vector<double>& weights,
                                                     const MaskBank& bank, int64_t n) {
  if (active.empty()) throw PlanError("a pruning ladder needs at least one active mask");
  std::vector<std::vector<int>> out{active};
  std::vector<int> current = active;
  while (current.size() > 1) {
    const int64_t before = unionPairs(bank, current, n);
    size_t best = 0;
    int64_t bestSaving = -1;
    for (size_t r = 0; r < current.size(); ++r) {
      auto without = current;
      without.erase(without.begin() + static_cast<std::ptrdiff_t>(r));
      const int64_t saving = before - unionPairs(bank, without, n);
      const auto w = [&](size_t i) { return weights[static_cast<size_t>(current[i])]; };
      const auto own = [&](size_t i) { return bank.masks[static_cast<size_t>(current[i])].allowedPairs(n); };
      // More saving wins; equal saving (masks covered by the others): the larger mask, then the smaller
      // weight, then the higher index (later r), so that a head ends on its cheapest mask.
      if (saving > bestSaving ||
          (saving == bestSaving && (own(r) > own(best) || (own(r) == own(best) && w(r) <= w(best))))) {
        best = r;
        bestSaving = saving;
      }
    }
    current.erase(current.begin() + static_cast<std::ptrdiff_t>(best));
    out.push_back(current);
  }
  return out;
}

std::vector<std::vector<int>> allocateBudget(const PruningProfile& profile, const MaskBank& bank, double targetDensity,
                                             int64_t n) {
  struct Head {
    std::vector<int64_t> pairs;   // per rung
    std::vector<size_t> hull;     // rungs on the lower convex hull, from rung 0 down
    size_t at = 0;                // position in hull
  };
  const auto& steps = profile.heads;
  std::vector<Head> heads(steps.size());
  double total = 0;
  for (size_t hd = 0; hd < steps.size(); ++hd) {
    auto& h = heads[hd];
    for (const auto& s : steps[hd]) h.pairs.push_back(unionPairs(bank, s.masks, n));
    const auto cost = [&](size_t s) { return steps[hd][s].klIncrease; };
    const auto slope = [&](size_t a, size_t b) {
      return (cost(b) - cost(a)) / static_cast<double>(h.pairs[a] - h.pairs[b]);
    };
    h.hull = {0};
    for (size_t s = 1; s < steps[hd].size(); ++s) {
      if (h.pairs[s] == h.pairs[h.hull.back()]) {
        // Saves nothing over the hull's end: it can only stand in for that end, if cheaper (never for rung 0).
        if (h.hull.size() > 1 && cost(s) < cost(h.hull.back())) h.hull.pop_back();
        else continue;
      }
      while (h.hull.size() >= 2 && slope(h.hull[h.hull.size() - 2], h.hull.back()) >= slope(h.hull.back(), s))
        h.hull.pop_back();
      h.hull.push_back(s);
    }
    total += static_cast<double>(h.pairs[0]);
  }
  const double target = targetDensity * static_cast<double>(n) * static_cast<double>(n + 1) / 2.0 *
                        static_cast<double>(steps.size());
  // (KL per pair saved of the next move, flat head): smallest first, equal: the lower head.
  using Move = std::pair<double, size_t>;
  std::priority_queue<Move, std::vector<Move>, std::greater<Move>> moves;
  auto nextMove = [&](size_t hd) {
    const auto& h = heads[hd];
    if (h.at + 1 >= h.hull.size()) return;
    const size_t a = h.hull[h.at], b = h.hull[h.at + 1];
    moves.emplace((steps[hd][b].klIncrease - steps[hd][a].klIncrease) / static_cast<double>(h.pairs[a] - h.pairs[b]), hd);
  };
  for (size_t hd = 0; hd < heads.size(); ++hd) nextMove(hd);
  while (total > target * (1 + 1e-12) && !moves.empty()) {
    const size_t hd = moves.top().second;
    moves.pop();
    auto& h = heads[hd];
    total -= static_cast<double>(h.pairs[h.hull[h.at]] - h.pairs[h.hull[h.at + 1]]);
    ++h.at;
    nextMove(hd);
  }
  std::vector<std::vector<int>> out;
  for (size_t hd = 0; hd < heads.size(); ++hd) out.push_back(steps[hd][heads[hd].hull[heads[hd].at]].masks);
  return out;
}

const std::vector<ProfileStep>& PruningProfile::steps(int64_t layer, int64_t head) const {
  if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads)
    throw PlanError(headLabel(layer, head) + " is outside the profile (" + std::to_string(numLayers) + " layers, " +
                    std::to_string(numHeads) + " heads)");
  return heads.at(static_cast<size_t>(layer * numHeads + head));
}

void PruningProfile::checkBank(const MaskBank& bank) const {
  if (bank.masks.size() != maskNames.size())
    throw PlanError("the pruning profile was measured for a bank of " + std::to_string(maskNames.size()) +
                    " masks, this bank (\"" + bank.name + "\") has " + std::to_string(bank.masks.size()));
  for (size_t k = 0; k < maskNames.size(); ++k)
    if (bank.masks[k].name != maskNames[k])
      throw PlanError("mask " + std::to_string(k) + ": the pruning profile has \"" + maskNames[k] + "\", the bank has \"" +
                      bank.masks[k].name + "\"");
}

void PruningProfile::validate() const {
  if (numLayers < 1 || numHeads < 1) throw PlanError("layers and heads must be >= 1");
  if (maskNames.empty()) throw PlanError("the profile names no masks");
  if (n < 1) throw PlanError("n must be >= 1, got " + std::to_string(n));
  if (windows < 1) throw PlanError("windows must be >= 1, got " + std::to_string(windows));
  if (!std::isfinite(baseKl) || baseKl < 0) throw PlanError("base_kl must be a finite number >= 0");
  if (static_cast<int64_t>(heads.size()) != numLayers * numHeads)
    throw PlanError("expected " + std::to_string(numLayers * numHeads) + " heads, got " + std::to_string(heads.size()));
  const int K = static_cast<int>(maskNames.size());
  for (size_t hd = 0; hd < heads.size(); ++hd) {
    const auto label = headLabel(static_cast<int64_t>(hd) / numHeads, static_cast<int64_t>(hd) % numHeads);
    const auto& steps = heads[hd];
    if (steps.empty()) throw PlanError(label + ": no steps");
    for (size_t s = 0; s < steps.size(); ++s) {
      const auto& m = steps[s].masks;
      const auto at = label + ", step " + std::to_string(s);
      if (m.empty()) throw PlanError(at + ": no masks");
      for (size_t i = 0; i < m.size(); ++i) {
        if (m[i] < 0 || m[i] >= K) throw PlanError(at + ": mask index " + std::to_string(m[i]) + " is out of range");
        if (i > 0 && m[i] <= m[i - 1]) throw PlanError(at + ": masks must be distinct and in bank order");
      }
      if (!std::isfinite(steps[s].klIncrease)) throw PlanError(at + ": kl_increase must be finite");
      if (s == 0 && steps[s].klIncrease != 0) throw PlanError(at + ": the trained set's kl_increase must be 0");
      if (s > 0) {
        const auto& prev = steps[s - 1].masks;
        if (m.size() + 1 != prev.size() || !std::includes(prev.begin(), prev.end(), m.begin(), m.end()))
          throw PlanError(at + ": must be the previous step with one mask removed");
      }
    }
  }
}

bool PruningProfile::operator==(const PruningProfile& o) const {
  return numLayers == o.numLayers && numHeads == o.numHeads && maskNames == o.maskNames && n == o.n &&
         windows == o.windows && data == o.data && baseKl == o.baseKl && runStep == o.runStep && heads == o.heads;
}

std::string PruningProfile::toJsonText() const {
  std::ostringstream out;
  out << "{\n  \"format\": " << json(kFormat).dump() << ",\n  \"version\": " << kVersion << ",\n  \"layers\": " << numLayers
      << ",\n  \"heads\": " << numHeads << ",\n  \"masks\": " << json(maskNames).dump() << ",\n  \"n\": " << n
      << ",\n  \"windows\": " << windows << ",\n  \"data\": " << json(data).dump() << ",\n  \"base_kl\": " << json(baseKl).dump();
  if (runStep >= 0) out << ",\n  \"run_step\": " << runStep;
  out << ",\n  \"profile\": [";
  for (int64_t l = 0; l < numLayers; ++l) {
    out << (l ? "," : "") << "\n    [";
    for (int64_t h = 0; h < numHeads; ++h) {
      out << (h ? "," : "") << "\n      [";
      const auto& steps = heads[static_cast<size_t>(l * numHeads + h)];
      for (size_t s = 0; s < steps.size(); ++s) {
        json names = json::array();
        for (int k : steps[s].masks) names.push_back(maskNames[static_cast<size_t>(k)]);
        out << (s ? ", " : "") << "{\"masks\": " << names.dump() << ", \"kl_increase\": " << json(steps[s].klIncrease).dump()
            << "}";
      }
      out << "]";
    }
    out << "\n    ]";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

PruningProfile PruningProfile::fromJsonText(const std::string& text, const std::string& origin) {
  auto fail = [&origin](const std::string& what) { throw PlanError(origin + ": " + what); };
  const json doc = parseJsonDocumentAs<PlanError>(text, origin);
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != kFormat)
    fail(std::string("not an attnx pruning profile (field \"format\" must be \"") + kFormat + "\")");
  if (!doc.contains("version") || doc["version"] != kVersion)
    fail("field \"version\" must be " + std::to_string(kVersion));
  static const std::vector<std::string> known = {"format", "version", "layers", "heads", "masks", "n",
                                                 "windows", "data", "base_kl", "run_step", "profile"};
  for (const auto& item : doc.items())
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) fail("unknown field \"" + item.key() + "\"");
  PruningProfile p;
  // An integer in [0, 2^40]: far beyond any model or window count, so products cannot overflow.
  auto integer = [&](const char* key) {
    if (!doc.contains(key) || !doc[key].is_number_integer() || doc[key].get<int64_t>() < 0 ||
        doc[key].get<uint64_t>() > (uint64_t{1} << 40))
      fail(std::string("field \"") + key + "\" must be an integer in [0, 2^40], got " + jsonBrief(doc.contains(key) ? doc[key] : json()));
    return doc[key].get<int64_t>();
  };
  p.numLayers = integer("layers");
  p.numHeads = integer("heads");
  p.n = integer("n");
  p.windows = integer("windows");
  if (p.numLayers < 1 || p.numHeads < 1 || p.numLayers > (1 << 20) || p.numHeads > (1 << 20) || p.numLayers * p.numHeads > (1 << 20))
    fail("fields \"layers\" and \"heads\" must be >= 1 (and their product at most 2^20)");
  if (!doc.contains("masks") || !doc["masks"].is_array() || doc["masks"].empty())
    fail("field \"masks\" must be a non-empty list of names");
  for (const auto& m : doc["masks"]) {
    if (!m.is_string()) fail("field \"masks\": every entry must be a name");
    p.maskNames.push_back(m.get<std::string>());
  }
  if (doc.contains("data")) {
    if (!doc["data"].is_string()) fail("field \"data\" must be a string");
    p.data = doc["data"].get<std::string>();
  }
  if (!doc.contains("base_kl") || !doc["base_kl"].is_number()) fail("field \"base_kl\" must be a number");
  if (doc.contains("run_step")) p.runStep = integer("run_step");
  p.baseKl = doc["base_kl"].get<double>();
  if (!doc.contains("profile") || !doc["profile"].is_array() || static_cast<int64_t>(doc["profile"].size()) != p.numLayers)
    fail("field \"profile\" must be a list of " + std::to_string(p.numLayers) + " layers");
  for (int64_t l = 0; l < p.numLayers; ++l) {
    const auto& layer = doc["profile"][static_cast<size_t>(l)];
    if (!layer.is_array() || static_cast<int64_t>(layer.size()) != p.numHeads)
      fail("profile: layer " + std::to_string(l) + " must be a list of " + std::to_string(p.numHeads) + " heads");
    for (int64_t h = 0; h < p.numHeads; ++h) {
      const auto& list = layer[static_cast<size_t>(h)];
      const auto label = "profile: " + headLabel(l, h);
      if (!list.is_array()) fail(label + " must be a list of steps");
      std::vector<ProfileStep> steps;
      for (size_t s = 0; s < list.size(); ++s) {
        const auto& step = list[s];
        const auto at = label + ", step " + std::to_string(s);
        if (!step.is_object() || !step.contains("masks") || !step["masks"].is_array())
          fail(at + " must be an object with \"masks\" (a list of names) and \"kl_increase\"");
        if (!step.contains("kl_increase") || !step["kl_increase"].is_number()) fail(at + ": field \"kl_increase\" must be a number");
        for (const auto& item : step.items())
          if (item.key() != "masks" && item.key() != "kl_increase") fail(at + ": unknown field \"" + item.key() + "\"");
        ProfileStep ps;
        ps.klIncrease = step["kl_increase"].get<double>();
        for (const auto& name : step["masks"]) {
          if (!name.is_string()) fail(at + ": field \"masks\" must hold mask names");
          const auto found = std::find(p.maskNames.begin(), p.maskNames.end(), name.get<std::string>());
          if (found == p.maskNames.end()) fail(at + ": mask \"" + name.get<std::string>() + "\" is not in field \"masks\"");
          ps.masks.push_back(static_cast<int>(found - p.maskNames.begin()));
        }
        std::sort(ps.masks.begin(), ps.masks.end());
        steps.push_back(std::move(ps));
      }
      p.heads.push_back(std::move(steps));
    }
  }
  try {
    p.validate();
  } catch (const PlanError& e) {
    fail(e.what());
  }
  return p;
}

void PruningProfile::save(const std::string& path) const {
  try {
    validate();
  } catch (const PlanError& e) {
    throw PlanError(path + ": not saved: " + e.what());
  }
  try {
    writeFileAtomically(path, toJsonText());
  } catch (const std::runtime_error& e) {
    throw PlanError(e.what());
  }
}

PruningProfile PruningProfile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PlanError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromJsonText(ss.str(), path);
}

}  // namespace attnx
