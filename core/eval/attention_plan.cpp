// Pruning rules, plan file and cost accounting of AttentionPlan; see attention_plan.h.
#include "core/eval/attention_plan.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/eval/pruning_profile.h"
#include "core/io/atomic_file.h"
#include "core/util/json_document.h"

namespace attnx {

using json = nlohmann::json;

namespace {

std::string numberText(double v) { return json(v).dump(); }

// Coefficients and plan weights are O(1) (the softplus of a learned logit); far beyond this a
// head's mixture overflows to Inf and then NaN, so such a file is refused rather than evaluated.
constexpr double kMaxWeight = 1e6;

// A JSON value as shown in error messages: scalars as written, containers by kind.
std::string gotText(const json& v) {
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  if (v.is_null()) return "null";
  return jsonBrief(v);
}

bool isInteger(const json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

int64_t integerValue(const json& v) {
  return v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX)) : v.get<int64_t>();
}

std::string headLabel(int64_t layer, int64_t head) {
  return "layer " + std::to_string(layer) + ", head " + std::to_string(head);
}

double causalPairs(int64_t n) { return static_cast<double>(n) * static_cast<double>(n + 1) / 2.0; }

void checkLength(int64_t n) {
  if (n < 1) throw PlanError("sequence length n must be >= 1, got " + std::to_string(n));
}

}  // namespace

// ---- PruningRule ----

PruningRule PruningRule::thresholdRule(double tau) {
  PruningRule r;
  r.kind = Kind::Threshold;
  r.threshold = tau;
  return r;
}

PruningRule PruningRule::topKRule(int64_t k) {
  PruningRule r;
  r.kind = Kind::TopK;
  r.topK = k;
  return r;
}

PruningRule PruningRule::targetDensityRule(double rho, int64_t n) {
  PruningRule r;
  r.kind = Kind::TargetDensity;
  r.targetDensity = rho;
  r.densityLength = n;
  return r;
}

PruningRule PruningRule::budgetRule(double rho, int64_t n) {
  PruningRule r = targetDensityRule(rho, n);
  r.kind = Kind::Budget;
  return r;
}

PruningRule PruningRule::atLength(int64_t n) const {
  PruningRule r = *this;
  if (kind == Kind::TargetDensity || kind == Kind::Budget) r.densityLength = n;
  return r;
}

std::string PruningRule::problem() const {
  switch (kind) {
    case Kind::Threshold:
      if (!std::isfinite(threshold) || threshold < 0)
        return "threshold must be a finite number >= 0, got " + numberText(threshold);
      return {};
    case Kind::TopK:
      if (topK < 1) return "k must be an integer >= 1, got " + std::to_string(topK);
      return {};
    case Kind::TargetDensity:
    case Kind::Budget:
      if (!(targetDensity > 0 && targetDensity <= 1))
        return "target density must be in (0, 1], got " + numberText(targetDensity);
      if (densityLength < 1) return "density length n must be an integer >= 1, got " + std::to_string(densityLength);
      return {};
  }
  return "unknown rule kind";
}

const char* PruningRule::kindName(Kind kind) {
  switch (kind) {
    case Kind::Threshold: return "threshold";
    case Kind::TopK: return "top-k";
    case Kind::TargetDensity: return "target-density";
    case Kind::Budget: return "budget";
  }
  return "?";
}

std::string PruningRule::text() const {
  switch (kind) {
    case Kind::Threshold: return "threshold " + numberText(threshold);
    case Kind::TopK: return "top-" + std::to_string(topK);
    case Kind::TargetDensity:
      return "density " + numberText(targetDensity) + " at n=" + std::to_string(densityLength);
    case Kind::Budget:
      return "budget " + numberText(targetDensity) + " at n=" + std::to_string(densityLength);
  }
  return "?";
}

bool PruningRule::operator==(const PruningRule& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::Threshold: return threshold == o.threshold;
    case Kind::TopK: return topK == o.topK;
    case Kind::TargetDensity:
    case Kind::Budget: return targetDensity == o.targetDensity && densityLength == o.densityLength;
  }
  return false;
}

// ---- building ----

AttentionPlan AttentionPlan::fromAlpha(const std::vector<double>& alpha, int64_t numLayers, int64_t numHeads,
                                       const MaskBank& bank, const PruningRule& rule, const PruningProfile* profile) {
  if (auto p = rule.problem(); !p.empty()) throw PlanError("pruning rule " + std::string(PruningRule::kindName(rule.kind)) + ": " + p);
  bank.validate();
  if (numLayers < 1 || numHeads < 1)
    throw PlanError("layers and heads must be >= 1, got " + std::to_string(numLayers) + " and " + std::to_string(numHeads));
  const int64_t K = static_cast<int64_t>(bank.masks.size());
  const int64_t numHeadsTotal = numLayers * numHeads;
  if (static_cast<int64_t>(alpha.size()) != numHeadsTotal * K)
    throw PlanError("expected L*H*K = " + std::to_string(numHeadsTotal * K) + " alpha values (L=" + std::to_string(numLayers) +
                    ", H=" + std::to_string(numHeads) + ", K=" + std::to_string(K) + "), got " + std::to_string(alpha.size()));
  for (size_t t = 0; t < alpha.size(); ++t)
    if (!std::isfinite(alpha[t]) || alpha[t] < 0 || alpha[t] > kMaxWeight) {
      const int64_t idx = static_cast<int64_t>(t);
      throw PlanError("alpha of " + headLabel(idx / K / numHeads, idx / K % numHeads) + ", mask " + std::to_string(idx % K) +
                      " (\"" + bank.masks[static_cast<size_t>(idx % K)].name + "\") must be in [0, 1e6], got " +
                      numberText(alpha[t]));
    }

  AttentionPlan plan;
  plan.numLayers = numLayers;
  plan.numHeads = numHeads;
  plan.rule = rule;
  for (const auto& m : bank.masks) plan.maskNames.push_back(m.name);
  plan.heads.assign(static_cast<size_t>(numHeadsTotal), {});
  auto a = [&](int64_t headIndex, int64_t k) { return alpha[static_cast<size_t>(headIndex * K + k)]; };

  // Which masks stay, per head (flat head index), decided by the rule.
  std::vector<std::vector<bool>> keep(static_cast<size_t>(numHeadsTotal), std::vector<bool>(static_cast<size_t>(K), false));
  switch (rule.kind) {
    case PruningRule::Kind::Threshold:
      for (int64_t hd = 0; hd < numHeadsTotal; ++hd)
        for (int64_t k = 0; k < K; ++k) keep[hd][k] = a(hd, k) > 0 && a(hd, k) >= rule.threshold;
      break;
    case PruningRule::Kind::TopK:
      for (int64_t hd = 0; hd < numHeadsTotal; ++hd) {
        std::vector<int64_t> order;
        for (int64_t k = 0; k < K; ++k)
          if (a(hd, k) > 0) order.push_back(k);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a(hd, x) > a(hd, y); });
        for (size_t r = 0; r < order.size() && static_cast<int64_t>(r) < rule.topK; ++r) keep[hd][order[r]] = true;
      }
      break;
    case PruningRule::Kind::TargetDensity: {
      const int64_t n = rule.densityLength;
      std::vector<int64_t> activeCount(static_cast<size_t>(numHeadsTotal), 0), pairs(static_cast<size_t>(numHeadsTotal), 0);
      std::vector<std::pair<double, int64_t>> candidates;  // (alpha, flat index)
      auto headPairs = [&](int64_t hd) {
        std::vector<double> c(static_cast<size_t>(K), 0.0);
        for (int64_t k = 0; k < K; ++k) c[k] = keep[hd][k] ? 1.0 : 0.0;
        return bank.attendedPairs(c, n);
      };
      double totalPairs = 0;
      for (int64_t hd = 0; hd < numHeadsTotal; ++hd) {
        for (int64_t k = 0; k < K; ++k)
          if (a(hd, k) > 0) {
            keep[hd][k] = true;
            ++activeCount[hd];
            candidates.emplace_back(a(hd, k), hd * K + k);
          }
        pairs[hd] = headPairs(hd);
        totalPairs += static_cast<double>(pairs[hd]);
      }
      // Smallest alpha first; equal alpha: higher flat index first.
      std::sort(candidates.begin(), candidates.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first < y.first : x.second > y.second;
      });
      const double targetPairs = rule.targetDensity * causalPairs(n) * static_cast<double>(numHeadsTotal);
      // One pass in this order is "repeatedly remove the smallest removable alpha": a head's
      // count of active masks only falls, so a mask skipped as its head's last stays unremovable.
      for (const auto& [value, flat] : candidates) {
        if (totalPairs <= targetPairs) break;
        const int64_t hd = flat / K, k = flat % K;
        if (activeCount[hd] <= 1) continue;
        keep[hd][k] = false;
        --activeCount[hd];
        const int64_t updated = headPairs(hd);
        totalPairs += static_cast<double>(updated - pairs[hd]);
        pairs[hd] = updated;
      }
      break;
    }
    case PruningRule::Kind::Budget: {
      if (!profile) throw PlanError("the budgeted rule needs the run's pruning profile (attnx-cli profile --run RUN)");
      profile->checkBank(bank);
      if (profile->numLayers != numLayers || profile->numHeads != numHeads)
        throw PlanError("the pruning profile is for " + std::to_string(profile->numLayers) + " layers x " +
                        std::to_string(profile->numHeads) + " heads, the plan for " + std::to_string(numLayers) + " x " +
                        std::to_string(numHeads));
      const auto chosen = allocateBudget(*profile, bank, rule.targetDensity, rule.densityLength);
      for (int64_t hd = 0; hd < numHeadsTotal; ++hd)
        for (int k : chosen[static_cast<size_t>(hd)]) {
          if (!(a(hd, k) > 0))
            throw PlanError("the pruning profile keeps mask \"" + bank.masks[static_cast<size_t>(k)].name + "\" in " +
                            headLabel(hd / numHeads, hd % numHeads) +
                            ", whose alpha is 0: it was measured for other coefficients (measure it again)");
          keep[hd][k] = true;
        }
      break;
    }
  }
  for (int64_t hd = 0; hd < numHeadsTotal; ++hd) {
    std::vector<int> kept;
    for (int64_t k = 0; k < K; ++k)
      if (keep[hd][k]) kept.push_back(static_cast<int>(k));
    const auto w = hardenHead(std::vector<double>(alpha.begin() + hd * K, alpha.begin() + (hd + 1) * K), kept);
    for (int k : kept) plan.heads[hd].push_back(PlanEntry{k, w[static_cast<size_t>(k)]});
  }
  return plan;
}

std::vector<double> hardenHead(const std::vector<double>& headAlpha, const std::vector<int>& kept) {
  double all = 0, sumKept = 0;
  for (double v : headAlpha) all += v;
  for (int k : kept) sumKept += headAlpha.at(static_cast<size_t>(k));
  const double scale = sumKept > 0 ? all / sumKept : 1.0;
  std::vector<double> out(headAlpha.size(), 0.0);
  for (int k : kept) out[static_cast<size_t>(k)] = headAlpha[static_cast<size_t>(k)] * scale;
  return out;
}

const std::vector<PlanEntry>& AttentionPlan::active(int64_t layer, int64_t head) const {
  if (layer < 0 || layer >= numLayers || head < 0 || head >= numHeads)
    throw PlanError(headLabel(layer, head) + " is outside the plan (" + std::to_string(numLayers) + " layers, " +
                    std::to_string(numHeads) + " heads)");
  return heads.at(static_cast<size_t>(layer * numHeads + head));
}

int64_t AttentionPlan::activeCount() const {
  int64_t c = 0;
  for (const auto& h : heads) c += static_cast<int64_t>(h.size());
  return c;
}

std::vector<double> AttentionPlan::alphaTensorValues() const {
  const int64_t K = numMasks();
  std::vector<double> out(static_cast<size_t>(numLayers * numHeads * K), 0.0);
  for (size_t hd = 0; hd < heads.size(); ++hd)
    for (const auto& e : heads[hd]) out[hd * static_cast<size_t>(K) + static_cast<size_t>(e.maskIndex)] = e.weight;
  return out;
}

std::vector<double> AttentionPlan::headCoefficients(int64_t layer, int64_t head) const {
  std::vector<double> c(static_cast<size_t>(numMasks()), 0.0);
  for (const auto& e : active(layer, head)) c[static_cast<size_t>(e.maskIndex)] = 1.0;
  return c;
}

// ---- sparsity and cost ----

int64_t AttentionPlan::attendedPairs(const MaskBank& bank, int64_t layer, int64_t head, int64_t n) const {
  checkBank(bank);
  checkLength(n);
  return bank.attendedPairs(headCoefficients(layer, head), n);
}

std::vector<double> AttentionPlan::headDensities(const MaskBank& bank, int64_t n) const {
  checkBank(bank);
  checkLength(n);
  std::vector<double> out;
  out.reserve(heads.size());
  for (int64_t l = 0; l < numLayers; ++l)
    for (int64_t h = 0; h < numHeads; ++h)
      out.push_back(static_cast<double>(bank.attendedPairs(headCoefficients(l, h), n)) / causalPairs(n));
  return out;
}

std::vector<double> AttentionPlan::layerDensities(const MaskBank& bank, int64_t n) const {
  const auto perHead = headDensities(bank, n);
  std::vector<double> out(static_cast<size_t>(numLayers), 0.0);
  for (int64_t l = 0; l < numLayers; ++l) {
    for (int64_t h = 0; h < numHeads; ++h) out[l] += perHead[static_cast<size_t>(l * numHeads + h)];
    out[l] /= static_cast<double>(numHeads);
  }
  return out;
}

double AttentionPlan::meanDensity(const MaskBank& bank, int64_t n) const {
  const auto perHead = headDensities(bank, n);
  return std::accumulate(perHead.begin(), perHead.end(), 0.0) / static_cast<double>(perHead.size());
}

std::optional<KeyReach> AttentionPlan::keyReach(const MaskBank& bank) const {
  checkBank(bank);
  KeyReach reach;
  for (const auto& head : heads)
    for (const auto& e : head) {
      const auto r = bank.masks[static_cast<size_t>(e.maskIndex)].keyReach();
      if (!r) return std::nullopt;
      reach = reach.with(*r);
    }
  return reach;
}

double AttentionPlan::denseAttentionFlops(int64_t numLayers, int64_t numHeads, int64_t headDim, int64_t n) {
  return static_cast<double>(numLayers) * static_cast<double>(numHeads) * causalPairs(n) * 4.0 * static_cast<double>(headDim);
}

double AttentionPlan::denseAttentionBytes(int64_t numLayers, int64_t numHeads, int64_t n, int64_t bytesPerElement) {
  return static_cast<double>(numLayers) * static_cast<double>(numHeads) * static_cast<double>(n) * static_cast<double>(n) *
         static_cast<double>(bytesPerElement);
}

namespace {

// Pairs a plan computes: union per head (soft mask) or the sum of each active branch's pairs.
double computedPairs(const AttentionPlan& plan, const MaskBank& bank, PlanCombine combine, int64_t n) {
  double total = 0;
  for (int64_t l = 0; l < plan.numLayers; ++l)
    for (int64_t h = 0; h < plan.numHeads; ++h) {
      if (combine == PlanCombine::SoftMask) {
        total += static_cast<double>(plan.attendedPairs(bank, l, h, n));
      } else {
        for (const auto& e : plan.active(l, h))
          total += static_cast<double>(bank.masks[static_cast<size_t>(e.maskIndex)].allowedPairs(n));
      }
    }
  return total;
}

}  // namespace

double AttentionPlan::attentionFlops(const MaskBank& bank, PlanCombine combine, int64_t headDim, int64_t n) const {
  checkBank(bank);
  checkLength(n);
  return computedPairs(*this, bank, combine, n) * 4.0 * static_cast<double>(headDim);
}

double AttentionPlan::attentionBytes(const MaskBank& bank, PlanCombine combine, int64_t n, int64_t bytesPerElement) const {
  checkBank(bank);
  checkLength(n);
  return computedPairs(*this, bank, combine, n) * static_cast<double>(bytesPerElement);
}

// ---- validation ----

void AttentionPlan::checkBank(const MaskBank& bank) const {
  if (bank.masks.size() != maskNames.size())
    throw PlanError("the plan was made for a bank of " + std::to_string(maskNames.size()) + " masks, this bank (\"" + bank.name +
                    "\") has " + std::to_string(bank.masks.size()));
  for (size_t k = 0; k < maskNames.size(); ++k)
    if (bank.masks[k].name != maskNames[k])
      throw PlanError("mask " + std::to_string(k) + ": the plan has \"" + maskNames[k] + "\", the bank (\"" + bank.name +
                      "\") has \"" + bank.masks[k].name + "\"");
}

void AttentionPlan::validate() const {
  if (numLayers < 1) throw PlanError("layers must be >= 1, got " + std::to_string(numLayers));
  if (numHeads < 1) throw PlanError("heads must be >= 1, got " + std::to_string(numHeads));
  if (maskNames.empty()) throw PlanError("the plan names no masks");
  for (size_t k = 0; k < maskNames.size(); ++k) {
    if (maskNames[k].empty()) throw PlanError("mask " + std::to_string(k) + ": the name is empty");
    for (size_t j = 0; j < k; ++j)
      if (maskNames[j] == maskNames[k])
        throw PlanError("mask " + std::to_string(k) + ": the name \"" + maskNames[k] + "\" is already used by mask " + std::to_string(j));
  }
  if (auto p = rule.problem(); !p.empty()) throw PlanError("rule: " + p);
  if (finetuneSteps < 0) throw PlanError("finetune_steps must be >= 0, got " + std::to_string(finetuneSteps));
  if (static_cast<int64_t>(heads.size()) != numLayers * numHeads)
    throw PlanError("expected " + std::to_string(numLayers * numHeads) + " head lists, got " + std::to_string(heads.size()));
  for (size_t hd = 0; hd < heads.size(); ++hd) {
    const std::string label = headLabel(static_cast<int64_t>(hd) / numHeads, static_cast<int64_t>(hd) % numHeads);
    int previous = -1;
    for (const auto& e : heads[hd]) {
      if (e.maskIndex < 0 || e.maskIndex >= static_cast<int>(maskNames.size()))
        throw PlanError(label + ": mask index " + std::to_string(e.maskIndex) + " is outside 0.." + std::to_string(maskNames.size() - 1));
      if (e.maskIndex <= previous) throw PlanError(label + ": masks must be distinct and in bank order");
      if (!std::isfinite(e.weight) || e.weight <= 0 || e.weight > kMaxWeight)
        throw PlanError(label + ": weight of mask \"" + maskNames[e.maskIndex] + "\" must be in (0, 1e6], got " + numberText(e.weight));
      previous = e.maskIndex;
    }
  }
}

bool AttentionPlan::operator==(const AttentionPlan& o) const {
  return numLayers == o.numLayers && numHeads == o.numHeads && maskNames == o.maskNames && rule == o.rule &&
         finetuneSteps == o.finetuneSteps && heads == o.heads;
}

// ---- the plan file ----

std::string AttentionPlan::toJsonText() const {
  std::ostringstream out;
  out << "{\n  \"format\": " << json(kFormat).dump() << ",\n  \"version\": " << kVersion << ",\n  \"layers\": " << numLayers
      << ",\n  \"heads\": " << numHeads << ",\n  \"masks\": [";
  for (size_t k = 0; k < maskNames.size(); ++k) out << (k ? ", " : "") << json(maskNames[k]).dump();
  out << "],\n  \"rule\": {\"kind\": " << json(PruningRule::kindName(rule.kind)).dump();
  switch (rule.kind) {
    case PruningRule::Kind::Threshold: out << ", \"threshold\": " << numberText(rule.threshold); break;
    case PruningRule::Kind::TopK: out << ", \"k\": " << rule.topK; break;
    case PruningRule::Kind::TargetDensity:
    case PruningRule::Kind::Budget:
      out << ", \"density\": " << numberText(rule.targetDensity) << ", \"n\": " << rule.densityLength;
      break;
  }
  out << "},\n";
  if (finetuneSteps > 0) out << "  \"finetune_steps\": " << finetuneSteps << ",\n";
  out << "  \"plan\": [";
  for (int64_t l = 0; l < numLayers; ++l) {
    out << (l ? "," : "") << "\n    [";
    for (int64_t h = 0; h < numHeads; ++h) {
      out << (h ? "," : "") << "\n      [";
      const auto& list = heads[static_cast<size_t>(l * numHeads + h)];
      for (size_t e = 0; e < list.size(); ++e)
        out << (e ? ", " : "") << "{\"mask\": " << json(maskNames[static_cast<size_t>(list[e].maskIndex)]).dump()
            << ", \"weight\": " << numberText(list[e].weight) << "}";
      out << "]";
    }
    out << "\n    ]";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

AttentionPlan AttentionPlan::fromJsonText(const std::string& text, const std::string& origin) {
  return fromJson(parseJsonDocumentAs<PlanError>(text, origin), origin);
}

AttentionPlan AttentionPlan::fromJson(const json& doc, const std::string& origin) {
  auto fail = [&origin](const std::string& what) { throw PlanError(origin + ": " + what); };
  if (!doc.is_object()) fail("expected a JSON object (an attnx attention plan), got " + gotText(doc));
  auto format = doc.find("format");
  if (format == doc.end()) fail(std::string("not an attnx attention plan: field \"format\" is missing (expected \"") + kFormat + "\")");
  if (*format != kFormat) fail("not an attnx attention plan: field \"format\" is " + gotText(*format) + ", expected \"" + kFormat + "\"");
  auto version = doc.find("version");
  if (version == doc.end()) fail("field \"version\" is missing");
  if (!isInteger(*version) || integerValue(*version) < 1) fail("field \"version\" must be an integer >= 1, got " + gotText(*version));
  if (integerValue(*version) > kVersion)
    fail("plan format version " + std::to_string(integerValue(*version)) + " is newer than this attnx reads (" +
         std::to_string(kVersion) + "): upgrade attnx to open it");
  for (const auto& item : doc.items()) {
    const auto& key = item.key();
    if (key != "format" && key != "version" && key != "layers" && key != "heads" && key != "masks" && key != "rule" &&
        key != "plan" && key != "finetune_steps")
      fail("unknown field \"" + key + "\" (a plan has \"format\", \"version\", \"layers\", \"heads\", \"masks\", \"rule\", \"plan\" "
           "and optionally \"finetune_steps\")");
  }

  AttentionPlan plan;
  auto positive = [&](const char* key) {
    auto it = doc.find(key);
    if (it == doc.end()) fail(std::string("field \"") + key + "\" is missing");
    if (!isInteger(*it) || integerValue(*it) < 1) fail(std::string("field \"") + key + "\" must be an integer >= 1, got " + gotText(*it));
    return integerValue(*it);
  };
  plan.numLayers = positive("layers");
  plan.numHeads = positive("heads");

  if (auto tuned = doc.find("finetune_steps"); tuned != doc.end()) {
    if (!isInteger(*tuned) || integerValue(*tuned) < 0) fail("field \"finetune_steps\" must be an integer >= 0, got " + gotText(*tuned));
    plan.finetuneSteps = integerValue(*tuned);
  }

  auto masks = doc.find("masks");
  if (masks == doc.end()) fail("field \"masks\" is missing (the bank's mask names)");
  if (!masks->is_array() || masks->empty()) fail("field \"masks\" must be a non-empty list of mask names, got " + gotText(*masks));
  for (size_t k = 0; k < masks->size(); ++k) {
    const auto& m = (*masks)[k];
    if (!m.is_string() || m.get<std::string>().empty())
      fail("field \"masks\": entry " + std::to_string(k) + " must be a non-empty name, got " + gotText(m));
    const auto name = m.get<std::string>();
    if (std::find(plan.maskNames.begin(), plan.maskNames.end(), name) != plan.maskNames.end())
      fail("field \"masks\": the name \"" + name + "\" appears twice");
    plan.maskNames.push_back(name);
  }

  auto rule = doc.find("rule");
  if (rule == doc.end()) fail("field \"rule\" is missing");
  if (!rule->is_object()) fail("field \"rule\" must be an object, got " + gotText(*rule));
  auto kind = rule->find("kind");
  if (kind == rule->end()) fail("rule: field \"kind\" is missing (threshold, top-k, target-density or budget)");
  auto ruleNumber = [&](const char* key) {
    auto it = rule->find(key);
    if (it == rule->end()) fail(std::string("rule: field \"") + key + "\" is missing");
    if (!it->is_number()) fail(std::string("rule: field \"") + key + "\" must be a number, got " + gotText(*it));
    return *it;
  };
  auto allowOnly = [&](std::vector<std::string> keys) {
    keys.push_back("kind");
    for (const auto& item : rule->items())
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
        fail("rule: unknown field \"" + item.key() + "\" for kind " + gotText(*kind));
  };
  if (*kind == "threshold") {
    plan.rule.kind = PruningRule::Kind::Threshold;
    plan.rule.threshold = ruleNumber("threshold").get<double>();
    allowOnly({"threshold"});
  } else if (*kind == "top-k") {
    plan.rule.kind = PruningRule::Kind::TopK;
    auto k = ruleNumber("k");
    if (!isInteger(k)) fail("rule: field \"k\" must be an integer >= 1, got " + gotText(k));
    plan.rule.topK = integerValue(k);
    allowOnly({"k"});
  } else if (*kind == "target-density" || *kind == "budget") {
    plan.rule.kind = *kind == "budget" ? PruningRule::Kind::Budget : PruningRule::Kind::TargetDensity;
    plan.rule.targetDensity = ruleNumber("density").get<double>();
    auto n = ruleNumber("n");
    if (!isInteger(n)) fail("rule: field \"n\" must be an integer >= 1, got " + gotText(n));
    plan.rule.densityLength = integerValue(n);
    allowOnly({"density", "n"});
  } else {
    fail("rule: field \"kind\" is " + gotText(*kind) + ", expected \"threshold\", \"top-k\", \"target-density\" or \"budget\"");
  }
  if (auto p = plan.rule.problem(); !p.empty()) fail("rule: " + p);

  auto layers = doc.find("plan");
  if (layers == doc.end()) fail("field \"plan\" is missing (per layer, per head, the active masks)");
  if (!layers->is_array() || static_cast<int64_t>(layers->size()) != plan.numLayers)
    fail("field \"plan\" must be a list of " + std::to_string(plan.numLayers) + " layers, got " +
         (layers->is_array() ? std::to_string(layers->size()) + " entries" : gotText(*layers)));
  for (int64_t l = 0; l < plan.numLayers; ++l) {
    const auto& layer = (*layers)[static_cast<size_t>(l)];
    if (!layer.is_array() || static_cast<int64_t>(layer.size()) != plan.numHeads)
      fail("plan: layer " + std::to_string(l) + " must be a list of " + std::to_string(plan.numHeads) + " heads, got " +
           (layer.is_array() ? std::to_string(layer.size()) + " entries" : gotText(layer)));
    for (int64_t h = 0; h < plan.numHeads; ++h) {
      const auto& list = layer[static_cast<size_t>(h)];
      const std::string label = "plan: " + headLabel(l, h);
      if (!list.is_array()) fail(label + " must be a list of {\"mask\", \"weight\"} entries, got " + gotText(list));
      std::vector<PlanEntry> entries;
      for (size_t e = 0; e < list.size(); ++e) {
        const auto& entry = list[e];
        const std::string at = label + ", entry " + std::to_string(e);
        if (!entry.is_object()) fail(at + " must be an object {\"mask\": name, \"weight\": number}, got " + gotText(entry));
        for (const auto& item : entry.items())
          if (item.key() != "mask" && item.key() != "weight") fail(at + ": unknown field \"" + item.key() + "\"");
        auto mask = entry.find("mask");
        if (mask == entry.end()) fail(at + ": field \"mask\" is missing");
        if (!mask->is_string()) fail(at + ": field \"mask\" must be a mask name, got " + gotText(*mask));
        auto found = std::find(plan.maskNames.begin(), plan.maskNames.end(), mask->get<std::string>());
        if (found == plan.maskNames.end()) fail(at + ": mask " + gotText(*mask) + " is not in field \"masks\"");
        auto weight = entry.find("weight");
        if (weight == entry.end()) fail(at + ": field \"weight\" is missing");
        if (!weight->is_number() || !(weight->get<double>() > 0) || !(weight->get<double>() <= kMaxWeight))
          fail(at + ": field \"weight\" must be a number in (0, 1e6], got " + gotText(*weight));
        const int index = static_cast<int>(found - plan.maskNames.begin());
        for (const auto& prior : entries)
          if (prior.maskIndex == index) fail(at + ": mask " + gotText(*mask) + " is listed twice");
        entries.push_back(PlanEntry{index, weight->get<double>()});
      }
      std::sort(entries.begin(), entries.end(), [](const PlanEntry& x, const PlanEntry& y) { return x.maskIndex < y.maskIndex; });
      plan.heads.push_back(std::move(entries));
    }
  }
  try {
    plan.validate();
  } catch (const PlanError& e) {
    fail(e.what());
  }
  return plan;
}

void AttentionPlan::save(const std::string& path) const {
  try {
    validate();
  } catch (const PlanError& e) {
    throw PlanError(path + ": not saved: " + e.what());
  }
  try {
    writeFileAtomically(path, toJsonText());
  } catch (const std::runtime_error& e) {
    throw PlanError(e.what());  // already "<path>: <what failed>: <OS error>"
  }
}

AttentionPlan AttentionPlan::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PlanError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw PlanError(path + ": cannot read (" + std::strerror(errno) + ")");
  return fromJsonText(ss.str(), path);
}

}  // namespace attnx
