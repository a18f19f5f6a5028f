// transport/matrix_response.hpp (internal): what a Matrix client-server API answer means.
//
// `parse_matrix_response` is a pure function of the HTTP status, headers and body, so that it
// can be fuzzed (fuzz/matrix_response_fuzz.cpp): any bytes a server sends become either the
// JSON object of a success or a MatrixError with a reason, never a crash.
//
//   auto r = parse_matrix_response(429, {{"retry-after", "2"}}, "{}");
//   // !r: r.error().kind == http, http_status 429, retry_after_ms 2000
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/result.hpp>

namespace mrt::transport {

// Numbers never change. Each says what the caller does next.
enum class MatrixErrorKind : int {
  network = 1,       // no answer (refused, reset): retried with backoff, then reported; retry later
  timeout = 2,       // no answer in time: as network
  http = 3,          // the server refused (errcode, http_status): act on the errcode, do not retry
                     // unless it is M_LIMIT_EXCEEDED (retry_after_ms) or a 5xx
  bad_response = 4,  // the answer is not what the API promises (not JSON, too deep, too large, a
                     // missing field): a broken or hostile server; do not trust it, retry later
  cancelled = 5,     // the client shut down first
  too_large = 6,     // the answer exceeds the client's cap (HttpOptions::max_response_body): a
                     // well-formed request may ask for less (a /sync: a smaller timeline)
};
std::string_view to_string(MatrixErrorKind k);

struct MatrixError {
  MatrixErrorKind kind = MatrixErrorKind::network;
  long http_status = 0;  // 0 when there was no answer
  std::string errcode;   // "M_FORBIDDEN", … (empty when the body had none)
  std::string error;     // the server's or libcurl's text, truncated; never an access token
  std::optional<std::int64_t> retry_after_ms;  // 429 only: body field, else Retry-After header
  // 401 asking for user-interactive auth: the session to continue it with (empty otherwise).
  std::string uia_session;
};
// One line for logs: "http 403 M_FORBIDDEN: Invalid password".
std::string describe(const MatrixError& e);

using MatrixResult = Result<nlohmann::json, MatrixError>;

// Answers nested deeper than this are bad_response (nothing the API returns comes close).
inline constexpr std::size_t kMaxResponseDepth = 64;
// Server texts kept in MatrixError::error are cut to this many bytes.
inline constexpr std::size_t kMaxErrorText = 512;
// retry_after_ms beyond this (an hour) is taken as this.
inline constexpr std::int64_t kMaxRetryAfterMs = 3'600'000;

// `headers` names are lowercase (HttpIo gives them so). 2xx: the body must be a JSON object, or
// an array when `array_answer` (the few endpoints that answer one: GET /rooms/{id}/state)
// (floats, duplicate keys and other non-canonical JSON are accepted: servers and other clients
// send them; signatures are checked elsewhere on canonical JSON). Anything else is an error.
[[nodiscard]] MatrixResult parse_matrix_response(
    long status, const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body, bool array_answer = false);

// Lenient JSON with a nesting limit: nullopt when `text` is not one JSON value of at most
// kMaxResponseDepth levels.
std::optional<nlohmann::json> parse_response_json(std::string_view text);

}  // namespace mrt::transport
