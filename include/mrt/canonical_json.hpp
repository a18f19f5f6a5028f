// File: mrt/canonical_json.hpp
//
// The Matrix specification's canonical JSON (PROTOCOL.md §1): a strict parser that refuses what
// canonical JSON cannot represent, and the canonical serialiser that signatures are made over.
// nlohmann's dump() is not canonical JSON (floats, escapes, big integers): sign only
// canonical_json() output.
//
//   auto value = mrt::parse_json_strict(R"({"b":1,"a":"\u00e9"})");
//   if (!value) std::cerr << value.error().message;          // names what was wrong
//   std::string bytes = mrt::canonical_json(*value).value();  // {"a":"é","b":1}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/result.hpp>

namespace mrt {

// Integers canonical JSON can carry: |n| <= 2^53 - 1.
inline constexpr std::int64_t kMaxJsonInteger = (std::int64_t{1} << 53) - 1;
// Nesting deeper than this is refused, so that neither parsing nor printing can exhaust the stack.
inline constexpr std::size_t kMaxJsonDepth = 128;

enum class JsonError : int {
  syntax = 1,                // not JSON at all (the message has nlohmann's position)
  invalid_utf8 = 2,          // the text, a string or a key is not well-formed UTF-8
  lone_surrogate = 3,        // a \u escape leaves an unpaired UTF-16 surrogate
  fraction = 4,              // 1.5, 1.0
  exponent = 5,              // 1e10, even when integral
  negative_zero = 6,         // -0
  integer_out_of_range = 7,  // beyond ±(2^53 - 1)
  duplicate_key = 8,         // the same key twice in one object
  too_deep = 9,              // nesting beyond kMaxJsonDepth
  byte_order_mark = 10,      // a UTF-8 BOM before the value
  not_representable = 11,    // serialising a float, binary or discarded value
};
std::string_view to_string(JsonError e);

struct JsonFailure {
  JsonError code;
  std::string message;  // names the offending token, key or byte offset
};

// Parses one JSON value (any type) from UTF-8 text and refuses everything PROTOCOL.md §1 lists.
[[nodiscard]] Result<nlohmann::json, JsonFailure> parse_json_strict(std::string_view text);

// Serialises canonically: keys sorted by code point, no whitespace, integers only, shortest
// escapes, every other character as raw UTF-8.
[[nodiscard]] Result<std::string, JsonFailure> canonical_json(const nlohmann::json& value);

}  // namespace mrt
