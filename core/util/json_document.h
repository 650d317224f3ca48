// One way to read a JSON file a user (or a hostile file) hands attnx.
//
// nlohmann's plain parse accepts any nesting (and later recursion over a 70,000-deep value
// overflows the stack) and silently keeps the last of two equal keys; its callback parser
// rejects those but rescans a parent's members whenever a child closes, which is quadratic in
// the number of entries. The checked SAX builder here is linear: it counts depth and keys as
// they are read and builds the value with nlohmann's own DOM builder.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

namespace attnx {

// Deeper than any attnx file (a bank or plan is 4-5 levels): refused before anything recurses.
constexpr int kMaxJsonDepth = 64;

// Thrown by the checked builder for a structural refusal (too deep, a duplicate key); syntax
// errors stay nlohmann's parse_error so callers can point at the byte.
struct JsonRejected {
  std::string message;
  std::string duplicateKey;  // the repeated key, or "" when the refusal is the depth
  int depth = 0;             // 1 = the top-level object
  std::string topKey;        // the top-level key being read ("" before the first)
};

template <class Json>
class CheckedJsonBuilder {
 public:
  using number_integer_t = typename Json::number_integer_t;
  using number_unsigned_t = typename Json::number_unsigned_t;
  using number_float_t = typename Json::number_float_t;
  using string_t = typename Json::string_t;
  using binary_t = typename Json::binary_t;

  explicit CheckedJsonBuilder(Json& result) : dom_(result, true) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) { return dom_.number_float(v, s); }
  bool string(string_t& v) { return dom_.string(v); }
  bool binary(binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) {
    enter();
    keys_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(string_t& k) {
    if (!keys_.back().insert(k).second) {
      throw JsonRejected{"the key " + Json(k).dump(-1, ' ', false, Json::error_handler_t::replace) +
                             " appears twice in one object",
                         k, depth_, topKey_};
    }
    if (depth_ == 1) topKey_ = k;
    return dom_.key(k);
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    enter();
    return dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& e) {
    return dom_.parse_error(position, token, e);
  }
 private:
  void enter() {
    if (++depth_ > kMaxJsonDepth)
      throw JsonRejected{"JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep", "", depth_, topKey_};
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  std::vector<std::unordered_set<string_t>> keys_;
  std::string topKey_;
  int depth_ = 0;
};

// Parses [begin, end) with the checks above. Throws JsonRejected, or nlohmann's parse_error /
// out_of_range (a number no double holds) for bad syntax.
template <class Json>
Json parseCheckedJson(const char* begin, const char* end) {
  Json result;
  CheckedJsonBuilder<Json> builder(result);
  Json::sax_parse(begin, end, &builder);
  return result;
}

// A file's JSON text parsed with the checks above; every failure is a std::runtime_error
// "<origin>: not valid JSON (line L, column C)" or "<origin>: <refusal>".
nlohmann::json parseJsonDocument(std::string_view text, const std::string& origin);
nlohmann::ordered_json parseOrderedJsonDocument(std::string_view text, const std::string& origin);

// The same, throwing Error (a std::runtime_error with a string constructor) instead.
template <class Error>
nlohmann::json parseJsonDocumentAs(std::string_view text, const std::string& origin) {
  try {
    return parseJsonDocument(text, origin);
  } catch (const std::runtime_error& e) {
    throw Error(e.what());
  }
}

// A JSON value as a user would quote it in a message: escaped, cut short (UTF-8 safe) at maxChars.
std::string jsonBrief(const nlohmann::json& value, std::size_t maxChars = 40);
std::string jsonBrief(const nlohmann::ordered_json& value, std::size_t maxChars = 40);

}  // namespace attnx
