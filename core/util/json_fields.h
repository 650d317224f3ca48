// Flat, versioned JSON settings files (run.json, pretrain.json): one table of (member, key)
// drives writing and reading, and unknown keys are errors so a typo never passes silently.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/util/json_document.h"

namespace attnx {

// Parses `text` and checks its "format" and "version"; throws std::runtime_error "<origin>: ...".
inline nlohmann::ordered_json parseVersionedJson(const std::string& text, const std::string& origin,
                                                 const std::string& format, int version) {
  const nlohmann::ordered_json j = parseOrderedJsonDocument(text, origin);
  const auto f = j.is_object() ? j.find("format") : j.end();
  if (!j.is_object() || f == j.end() || !f->is_string() || f->get<std::string>() != format)
    throw std::runtime_error(origin + ": not an attnx file of this kind (\"format\" must be \"" + format + "\")");
  const auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != version)
    throw std::runtime_error(origin + ": unsupported version (this attnx reads version " + std::to_string(version) + ")");
  return j;
}

// Reads known fields into members, then rejectUnknown() names any key nobody asked for.
class JsonFieldReader {
 public:
  JsonFieldReader(const nlohmann::ordered_json& j, std::string origin) : j_(j), origin_(std::move(origin)) {}

  // Only a value the member can hold exactly is read: nlohmann's own conversion would turn 1e300
  // or 2^64 into an int64 with undefined behaviour, and -1.5 into a seed.
  template <class T>
  void operator()(T& member, const char* key) {
    known_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    const auto& v = *it;
    bool fits = false;
    if constexpr (std::is_same_v<T, bool>) {
      fits = v.is_boolean();
    } else if constexpr (std::is_integral_v<T>) {
      if (v.is_number_unsigned()) fits = v.template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
      else if (v.is_number_integer()) fits = v.template get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                            (std::is_unsigned_v<T> || v.template get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max()));
    } else if constexpr (std::is_floating_point_v<T>) {
      fits = v.is_number() && std::isfinite(v.template get<double>());
    } else {
      fits = v.is_string();
    }
    if (!fits) throw std::runtime_error(origin_ + ": field \"" + key + "\" has the wrong type or is out of range (" + jsonBrief(v) + ")");
    v.get_to(member);
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
