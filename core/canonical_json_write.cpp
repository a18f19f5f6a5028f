#include <mrt/canonical_json.hpp>

#include "utf8.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

class Writer {
 public:
  std::optional<JsonFailure> failure;
  std::string out;

  bool value(const json& v, std::size_t depth) {
    switch (v.type()) {
      case json::value_t::null:
        out += "null";
        return true;
      case json::value_t::boolean:
        out += v.get<bool>() ? "true" : "false";
        return true;
      case json::value_t::number_integer:
        return integer(v.get<std::int64_t>());
      case json::value_t::number_unsigned: {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(kMaxJsonInteger)) {
          return refuse(JsonError::integer_out_of_range,
                        "integer " + std::to_string(u) + " is outside the range ±(2^53-1)");
        }
        return integer(static_cast<std::int64_t>(u));
      }
      case json::value_t::number_float:
        return refuse(JsonError::not_representable,
                      "canonical JSON has no floating-point numbers (" + v.dump() + ")");
      case json::value_t::string:
        return string(v.get_ref<const std::string&>());
      case json::value_t::array: {
        if (!deeper(depth)) return false;
        out += '[';
        bool first = true;
        for (const json& item : v) {
          if (!first) out += ',';
          first = false;
          if (!value(item, depth + 1)) return false;
        }
        out += ']';
        return true;
      }
      case json::value_t::object: {
        if (!deeper(depth)) return false;
        // object_t is a std::map<std::string, json>: std::less<std::string> compares chars as
        // unsigned char ([char.traits.specializations.char]), i.e. UTF-8 byte order, which is
        // code point order.
        out += '{';
        bool first = true;
        for (const auto& [key, item] : v.get_ref<const json::object_t&>()) {
          if (!first) out += ',';
          first = false;
          if (!string(key) || (out += ':', !value(item, depth + 1))) return false;
        }
        out += '}';
        return true;
      }
      case json::value_t::binary:
      case json::value_t::discarded:
        return refuse(JsonError::not_representable, "binary and discarded values are not JSON");
    }
    return refuse(JsonError::not_representable, "unknown JSON value type");
  }

 private:
  bool refuse(JsonError code, std::string message) {
    failure = JsonFailure{code, std::move(message)};
    return false;
  }
  bool deeper(std::size_t depth) {
    if (depth < kMaxJsonDepth) return true;
    return refuse(JsonError::too_deep,
                  "nesting is deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  bool integer(std::int64_t n) {
    if (n < -kMaxJsonInteger || n > kMaxJsonInteger) {
      return refuse(JsonError::integer_out_of_range,
                    "integer " + std::to_string(n) + " is outside the range ±(2^53-1)");
    }
    out += std::to_string(n);
    return true;
  }
  bool string(std::string_view s) {
    if (auto bad = detail::first_invalid_utf8(s)) {
      return refuse(JsonError::invalid_utf8,
                    "string has invalid UTF-8 at byte offset " + std::to_string(*bad));
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
          } else {
            out += c;
          }
      }
    }
    out += '"';
    return true;
  }
};

}  // namespace

std::string_view to_string(JsonError e) {
  switch (e) {
    case JsonError::syntax:
      return "syntax";
    case JsonError::invalid_utf8:
      return "invalid_utf8";
    case JsonError::lone_surrogate:
      return "lone_surrogate";
    case JsonError::fraction:
      return "fraction";
    case JsonError::exponent:
      return "exponent";
    case JsonError::negative_zero:
      return "negative_zero";
    case JsonError::integer_out_of_range:
      return "integer_out_of_range";
    case JsonError::duplicate_key:
      return "duplicate_key";
    case JsonError::too_deep:
      return "too_deep";
    case JsonError::byte_order_mark:
      return "byte_order_mark";
    case JsonError::not_representable:
      return "not_representable";
  }
  return "unknown";
}

Result<std::string, JsonFailure> canonical_json(const json& value) {
  Writer w;
  if (!w.value(value, 0)) return fail(std::move(*w.failure));
  return std::move(w.out);
}

}  // namespace mrt
