// Flat, versioned JSON settings files (run.json, pretrain.json): one table of (member, key)
// drives writing and reading, and unknown keys are errors so a typo never passes silently.
#pragma once

#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace attnx {

// Parses `text` and checks its "format" and "version"; throws std::runtime_error "<origin>: ...".
inline nlohmann::ordered_json parseVersionedJson(const std::string& text, const std::string& origin,
                                                 const std::string& format, int version) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::ordered_json::exception& e) {
    throw std::runtime_error(origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || j.value("format", "") != format)
    throw std::runtime_error(origin + ": not an attnx file of this kind (\"format\" must be \"" + format + "\")");
  if (j.value("version", 0) != version)
    throw std::runtime_error(origin + ": unsupported version (this attnx reads version " + std::to_string(version) + ")");
  return j;
}

// Reads known fields into members, then rejectUnknown() names any key nobody asked for.
class JsonFieldReader {
 public:
  JsonFieldReader(const nlohmann::ordered_json& j, std::string origin) : j_(j), origin_(std::move(origin)) {}

  template <class T>
  void operator()(T& member, const char* key) {
    known_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    try {
      it->get_to(member);
    } catch (const nlohmann::ordered_json::exception&) {
      throw std::runtime_error(origin_ + ": field \"" + key + "\" has the wrong type (" + it->dump() + ")");
    }
  }

  void rejectUnknown() const {
    for (const auto& item : j_.items())
      if (!known_.count(item.key())) throw std::runtime_error(origin_ + ": unknown field \"" + item.key() + "\"");
  }

 private:
  const nlohmann::ordered_json& j_;
  std::string origin_;
  std::set<std::string> known_{"format", "version"};
};

}  // namespace attnx
