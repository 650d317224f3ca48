#include "core/util/json_document.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace attnx {
namespace {

// "line L, column C" of a 0-based byte offset, as an editor would show it.
std::string lineColumn(std::string_view text, std::size_t at) {
  at = std::min(at, text.size());
  const auto before = text.substr(0, at);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t lineStart = before.rfind('\n');
  const std::size_t column = at - (lineStart == std::string_view::npos ? 0 : lineStart + 1) + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

template <class Json>
Json parseDocument(std::string_view text, const std::string& origin) {
  auto fail = [&origin](const std::string& what) -> void { throw std::runtime_error(origin + ": " + what); };
  // nlohmann's lexer would read a NUL as the end of input and ignore what follows it.
  if (const void* nul = std::memchr(text.data(), '\0', text.size()))
    fail("not valid JSON (a NUL byte at " + lineColumn(text, static_cast<std::size_t>(static_cast<const char*>(nul) - text.data())) + ")");
  try {
    return parseCheckedJson<Json>(text.data(), text.data() + text.size());
  } catch (const JsonRejected& r) {
    fail(r.message);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and one past the end when the text stops early; nlohmann's wording
    // changes between versions, so point at the place instead.
    fail("not valid JSON (" + lineColumn(text, e.byte > 0 ? e.byte - 1 : 0) + ")");
  } catch (const nlohmann::json::out_of_range&) {
    fail("not valid JSON (a number too large to represent)");
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("not valid JSON (") + e.what() + ")");
  }
  return Json();  // not reached
}

template <class Json>
std::string brief(const Json& value, std::size_t maxChars) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > maxChars) {
    std::size_t cut = maxChars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    text = text.substr(0, cut) + "…";
  }
  return text;
}

}  // namespace

nlohmann::json parseJsonDocument(std::string_view text, const std::string& origin) {
  return parseDocument<nlohmann::json>(text, origin);
}

nlohmann::ordered_json parseOrderedJsonDocument(std::string_view text, const std::string& origin) {
  return parseDocument<nlohmann::ordered_json>(text, origin);
}

std::string jsonBrief(const nlohmann::json& value, std::size_t maxChars) { return brief(value, maxChars); }
std::string jsonBrief(const nlohmann::ordered_json& value, std::size_t maxChars) { return brief(value, maxChars); }

}  // namespace attnx
