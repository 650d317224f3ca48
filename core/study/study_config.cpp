// Reading and checking a study config; see study_config.h.
#include "core/study/study_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/util/json_document.h"

namespace attnx {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const char* baselineKindName(BaselineSpec::Kind kind) {
  switch (kind) {
    case BaselineSpec::Kind::WindowSinks: return "window-sinks";
    case BaselineSpec::Kind::BlockSinks: return "block-sinks";
    case BaselineSpec::Kind::Duo: return "duo";
    case BaselineSpec::Kind::Random: return "random";
  }
  return "?";
}

namespace {

// Reads one object's fields, naming each by its path ("baselines[2].windows") in errors, and
// refuses keys nobody read.
class Fields {
 public:
  Fields(const json& j, std::string where, std::string origin) : j_(j), where_(std::move(where)), origin_(std::move(origin)) {
    if (!j_.is_object()) fail(where_.empty() ? "the study config must be a JSON object" : "must be an object");
  }

  [[noreturn]] void fail(const std::string& what, const std::string& key = "") const {
    std::string at = where_;
    if (!key.empty()) at += (at.empty() ? "" : ".") + key;
    throw StudyError(origin_ + ": " + (at.empty() ? "" : at + ": ") + what);
  }
  std::string at(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }

  bool has(const char* key) {
    known_.insert(key);
    return j_.contains(key);
  }
  const json& raw(const char* key) {
    known_.insert(key);
    if (!j_.contains(key)) fail("is missing", key);
    return j_.at(key);
  }
  std::string text(const char* key) {
    const auto& v = raw(key);
    if (!v.is_string() || v.get<std::string>().empty()) fail("must be a non-empty string", key);
    return v.get<std::string>();
  }
  int64_t integer(const char* key, int64_t min, int64_t max) {
    const auto& v = raw(key);
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
      fail("must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]", key);
    return v.get<int64_t>();
  }
  double number(const char* key, double min, double max) {
    const auto& v = raw(key);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min || v.get<double>() > max)
      fail("must be a number in [" + json(min).dump() + ", " + json(max).dump() + "]", key);
    return v.get<double>();
  }
  std::vector<int64_t> integers(const char* key, int64_t min, int64_t max) {
    const auto& v = raw(key);
    if (!v.is_array() || v.empty()) fail("must be a non-empty list of integers", key);
    std::vector<int64_t> out;
    for (const auto& x : v) {
      if (!x.is_number_integer() || x.get<int64_t>() < min || x.get<int64_t>() > max)
        fail("every entry must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + x.dump(), key);
      out.push_back(x.get<int64_t>());
    }
    return out;
  }
  std::vector<uint64_t> seeds(const char* key) {
    std::vector<uint64_t> out;
    for (auto s : integers(key, 0, int64_t{1} << 53)) out.push_back(static_cast<uint64_t>(s));
    if (std::set<uint64_t>(out.begin(), out.end()).size() != out.size()) fail("seeds must be distinct", key);
    return out;
  }
  void rejectUnknown() const {
    for (const auto& item : j_.items())
      if (!known_.count(item.key())) fail("unknown field", item.key());
  }

 private:
  const json& j_;
  std::string where_, origin_;
  std::set<std::string> known_;
};

std::string existingPath(Fields& f, const char* key, const fs::path& base) {
  const auto value = f.text(key);
  const auto p = fs::absolute(base / value).lexically_normal();
  if (!fs::exists(p)) f.fail("\"" + value + "\" does not exist (paths are relative to the config file)", key);
  return p.string();
}

MaskBank loadBank(Fields& f, const std::string& path, const char* key) {
  try {
    return MaskBank::load(path);
  } catch (const std::exception& e) {
    f.fail(std::string("not a usable mask bank: ") + e.what(), key);
  }
}

DistillConfig distillWith(const DistillConfig& base, Fields& f, const std::string& where, const std::string& origin) {
  DistillConfig c = base;
  if (f.has("distill")) {
    try {
      c.applyFields(f.raw("distill"), origin + ": " + f.at("distill"));
    } catch (const std::runtime_error& e) {
      throw StudyError(e.what());
    }
  }
  if (c.trainAllWeights)
    throw StudyError(origin + ": " + where + "distill: train_all_weights: not in a study (every run shares one teacher, "
                     "whose weights must stay as they are)");
  c.bankPath = "-";  // set per run; validate() does not read paths
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw StudyError(origin + ": " + where + "distill: " + e.what());
  }
  return c;
}

double cheapestDensity(const MaskBank& bank, int64_t n) {
  double best = 1.0;
  for (const auto& m : bank.masks) best = std::min(best, m.density(n));
  return best;
}

}  // namespace

StudyConfig StudyConfig::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StudyError(path + ": cannot open the study config");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromJson(parseJsonDocumentAs<StudyError>(ss.str(), path), path);
}

StudyConfig StudyConfig::fromJson(const json& doc, const std::string& path) {
  StudyConfig c;
  c.path = fs::absolute(path).string();
  c.document = doc;
  const fs::path base = fs::path(c.path).parent_path();
  Fields top(doc, "", path);
  if (top.raw("format") != kFormat) top.fail(std::string("must be \"") + kFormat + "\"", "format");
  if (top.raw("version") != kVersion) top.fail("must be " + std::to_string(kVersion), "version");
  c.name = top.text("name");
  if (top.has("description")) c.description = top.text("description");
  if (top.has("teacher")) c.teacherDir = existingPath(top, "teacher", base);

  {
    Fields data(top.raw("data"), "data", path);
    c.trainData = existingPath(data, "train", base);
    c.profileData = existingPath(data, "profile", base);
    c.testData = existingPath(data, "test", base);
    data.rejectUnknown();
  }
  if (top.has("eval")) {
    Fields e(top.raw("eval"), "eval", path);
    if (e.has("windows")) c.evalWindows = e.integer("windows", 1, 100000);
    if (e.has("lengths")) c.evalLengths = e.integers("lengths", 2, 1 << 20);
    if (e.has("profile_windows")) c.profileWindows = e.integer("profile_windows", 1, 100000);
    if (e.has("finetune_steps")) c.finetuneSteps = e.integer("finetune_steps", 0, 1000000);
    if (e.has("finetune_lr")) c.finetuneLr = e.number("finetune_lr", 1e-9, 100);
    e.rejectUnknown();
  }
  {
    const auto& t = top.raw("targets");
    if (!t.is_array() || t.empty()) top.fail("must be a non-empty list of densities in (0, 1]", "targets");
    for (const auto& x : t) {
      if (!x.is_number() || !(x.get<double>() > 0 && x.get<double>() <= 1))
        top.fail("every target density must be a number in (0, 1], got " + x.dump(), "targets");
      c.targets.push_back(x.get<double>());
    }
    std::sort(c.targets.begin(), c.targets.end());
    if (std::adjacent_find(c.targets.begin(), c.targets.end()) != c.targets.end()) top.fail("targets must be distinct", "targets");
  }
  DistillConfig common;
  if (top.has("distill")) {
    try {
      common.applyFields(top.raw("distill"), path + ": distill");
    } catch (const std::runtime_error& e) {
      throw StudyError(e.what());
    }
  }
  const int64_t shortest = c.evalLengths.empty() ? 512 : *std::min_element(c.evalLengths.begin(), c.evalLengths.end());
  std::set<std::string> names;
  auto claim = [&](Fields& f, const std::string& name) {
    if (name.find_first_of("/\\:") != std::string::npos || name == "." || name == "..")
      f.fail("\"" + name + "\" cannot be a folder name", "name");
    if (!names.insert(name).second) f.fail("\"" + name + "\" is used twice (learned and baseline names must differ)", "name");
  };
  auto reachable = [&](Fields& f, const MaskBank& bank, const char* key) {
    const double floor = cheapestDensity(bank, shortest);
    if (c.targets.front() < floor)
      f.fail("target density " + json(c.targets.front()).dump() + " is below what this bank can reach (its cheapest mask has density " +
                 json(floor).dump() + " at n=" + std::to_string(shortest) + ")", key);
  };

  const auto& learned = top.raw("learned");
  if (!learned.is_array()) top.fail("must be a list", "learned");
  for (size_t i = 0; i < learned.size(); ++i) {
    const auto where = "learned[" + std::to_string(i) + "]";
    Fields f(learned[i], where, path);
    LearnedSpec s;
    s.name = f.text("name");
    claim(f, s.name);
    s.bankPath = existingPath(f, "bank", base);
    s.bank = loadBank(f, s.bankPath, "bank");
    s.seeds = f.seeds("seeds");
    s.distill = distillWith(common, f, where + ".", path);
    reachable(f, s.bank, "bank");
    f.rejectUnknown();
    c.learned.push_back(std::move(s));
  }

  if (top.has("baselines")) {
    const auto& list = top.raw("baselines");
    if (!list.is_array()) top.fail("must be a list", "baselines");
    for (size_t i = 0; i < list.size(); ++i) {
      const auto where = "baselines[" + std::to_string(i) + "]";
      Fields f(list[i], where, path);
      BaselineSpec b;
      const auto kind = f.text("kind");
      if (kind == "window-sinks") b.kind = BaselineSpec::Kind::WindowSinks;
      else if (kind == "block-sinks") b.kind = BaselineSpec::Kind::BlockSinks;
      else if (kind == "duo") b.kind = BaselineSpec::Kind::Duo;
      else if (kind == "random") b.kind = BaselineSpec::Kind::Random;
      else f.fail("\"" + kind + "\" is not a baseline (window-sinks, block-sinks, duo, random)", "kind");
      b.name = f.has("name") ? f.text("name") : kind;
      claim(f, b.name);
      switch (b.kind) {
        case BaselineSpec::Kind::WindowSinks:
        case BaselineSpec::Kind::BlockSinks:
          b.sizes = f.integers(b.kind == BaselineSpec::Kind::WindowSinks ? "windows" : "blocks", 1, 1 << 24);
          b.sinks = f.has("sinks") ? f.integer("sinks", 0, 1 << 20) : 4;
          break;
        case BaselineSpec::Kind::Duo: {
          b.window = f.has("window") ? f.integer("window", 1, 1 << 24) : 64;
          b.sinks = f.has("sinks") ? f.integer("sinks", 1, 1 << 20) : 4;
          b.seeds = f.seeds("seeds");
          b.distill = distillWith(common, f, where + ".", path);
          b.bank.name = "duo-full-or-streaming";
          b.bank.description = "DuoAttention-style: per head, full attention or a window of " + std::to_string(b.window) +
                               " and " + std::to_string(b.sinks) + " sinks";
          b.bank.masks = {MaskSpec::causal("full"), MaskSpec::window("win-" + std::to_string(b.window), b.window),
                          MaskSpec::sinks("sinks-" + std::to_string(b.sinks), b.sinks)};
          break;
        }
        case BaselineSpec::Kind::Random:
          b.bankPath = existingPath(f, "bank", base);
          b.bank = loadBank(f, b.bankPath, "bank");
          b.seeds = f.seeds("seeds");
          reachable(f, b.bank, "bank");
          break;
      }
      f.rejectUnknown();
      c.baselines.push_back(std::move(b));
    }
  }
  if (top.has("timing")) {
    Fields t(top.raw("timing"), "timing", path);
    if (t.has("lengths")) c.timingLengths = t.integers("lengths", 2, 1 << 20);
    if (t.has("repeats")) c.timingRepeats = static_cast<int>(t.integer("repeats", 1, 1000));
    t.rejectUnknown();
  }
  top.rejectUnknown();
  if (c.learned.empty() && c.baselines.empty()) top.fail("names no learned plans and no baselines: nothing to run");
  return c;
}

}  // namespace attnx
