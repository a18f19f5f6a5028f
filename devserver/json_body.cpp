#include "json_body.hpp"

#include <charconv>

#include "api.hpp"

namespace mrt::devserver {

namespace {

// Nesting depth of JSON text, counting brackets outside strings. Malformed text is left for the
// parser to refuse; this only has to bound the parser's recursion.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[')
      deepest = std::max(deepest, ++depth);
    else if (c == '}' || c == ']')
      --depth;
  }
  return deepest;
}

[[noreturn]] void wrong_type(const char* field, const char* type) {
  throw ApiError(400, "M_BAD_JSON", std::string("'") + field + "' must be " + type);
}

}  // namespace

nlohmann::json parse_object_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return nlohmann::json::object();
  if (nesting_depth(body) > kMaxBodyDepth) {
    throw ApiError(400, "M_NOT_JSON", "content nested too deeply");
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw ApiError(400, "M_NOT_JSON", "content not JSON");
  if (!j.is_object()) throw ApiError(400, "M_BAD_JSON", "content must be a JSON object");
  return j;
}

std::optional<std::string> opt_string(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) wrong_type(field, "a string");
  return it->get<std::string>();
}

std::string req_string(const nlohmann::json& object, const char* field) {
  auto v = opt_string(object, field);
  if (!v) throw ApiError(400, "M_MISSING_PARAM", std::string("'") + field + "' is required");
  return *v;
}

std::optional<std::int64_t> opt_int(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) wrong_type(field, "an integer in range");
    return static_cast<std::int64_t>(u);
  }
  wrong_type(field, "an integer");
}

std::optional<bool> opt_bool(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) wrong_type(field, "a boolean");
  return it->get<bool>();
}

const nlohmann::json& opt_object(const nlohmann::json& object, const char* field) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return empty;
  if (!it->is_object()) wrong_type(field, "an object");
  return *it;
}

const nlohmann::json& opt_array(const nlohmann::json& object, const char* field) {
  static const nlohmann::json empty = nlohmann::json::array();
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return empty;
  if (!it->is_array()) wrong_type(field, "an array");
  return *it;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned value = 0;
    const auto* first = text.data() + i + 1;
    auto [end, ec] = std::from_chars(first, first + 2, value, 16);
    if (ec != std::errc() || end != first + 2) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

Query parse_query(std::string_view query) {
  Query result;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      std::string raw_name(pair.substr(0, eq));
      std::string raw_value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      for (auto* s : {&raw_name, &raw_value}) {
        for (char& c : *s) {
          if (c == '+') c = ' ';
        }
      }
      auto name = percent_decode(raw_name);
      auto value = percent_decode(raw_value);
      if (!name || !value) throw ApiError(400, "M_INVALID_PARAM", "bad percent-encoding in query");
      result.emplace(std::move(*name), std::move(*value));
    }
    start = end + 1;
  }
  return result;
}

std::optional<std::int64_t> query_int(const Query& query, const std::string& name) {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    throw ApiError(400, "M_INVALID_PARAM", "'" + name + "' must be an integer");
  }
  return v;
}

}  // namespace mrt::devserver
