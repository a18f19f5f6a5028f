// Reading what a client sent: the JSON body (refused when it is not JSON, not an object or
// nested too deep), typed fields (a wrong type is M_BAD_JSON, never an exception escaping), the
// query string and percent-encoded path segments.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mrt::devserver {

// Deeper nesting than this is refused before parsing, so that no body can exhaust the stack.
inline constexpr int kMaxBodyDepth = 64;

// The body as a JSON object; an empty body is {}. Throws ApiError M_NOT_JSON / M_BAD_JSON.
nlohmann::json parse_object_body(std::string_view body);

// Typed access to a field of an object. Missing: nullopt; present with another type: ApiError
// 400 M_BAD_JSON naming the field.
std::optional<std::string> opt_string(const nlohmann::json& object, const char* field);
std::string req_string(const nlohmann::json& object, const char* field);
std::optional<std::int64_t> opt_int(const nlohmann::json& object, const char* field);
std::optional<bool> opt_bool(const nlohmann::json& object, const char* field);
// Missing: an empty object.
const nlohmann::json& opt_object(const nlohmann::json& object, const char* field);
// Missing: an empty array.
const nlohmann::json& opt_array(const nlohmann::json& object, const char* field);

bool valid_utf8(std::string_view text);
// %XX decoding; nullopt for a broken escape or a result that is not UTF-8.
std::optional<std::string> percent_decode(std::string_view text);

using Query = std::map<std::string, std::string>;
// Throws ApiError M_INVALID_PARAM for a broken escape.
Query parse_query(std::string_view query);
std::optional<std::int64_t> query_int(const Query& query, const std::string& name);

}  // namespace mrt::devserver
