#include "matrix_response.hpp"

#include <charconv>
#include <cmath>

namespace mrt::transport {

std::string_view to_string(MatrixErrorKind k) {
  switch (k) {
    case MatrixErrorKind::network:
      return "network";
    case MatrixErrorKind::timeout:
      return "timeout";
    case MatrixErrorKind::http:
      return "http";
    case MatrixErrorKind::bad_response:
      return "bad_response";
    case MatrixErrorKind::cancelled:
      return "cancelled";
    case MatrixErrorKind::too_large:
      return "too_large";
  }
  return "unknown";
}

std::string describe(const MatrixError& e) {
  std::string s(to_string(e.kind));
  if (e.http_status) s += " " + std::to_string(e.http_status);
  if (!e.errcode.empty()) s += " " + e.errcode;
  if (!e.error.empty()) s += ": " + e.error;
  if (e.retry_after_ms) s += " (retry after " + std::to_string(*e.retry_after_ms) + " ms)";
  return s;
}

namespace {

using json = nlohmann::json;

// Depth of the deepest nesting, counted on the raw text before nlohmann builds anything, so that
// no recursion (parse, copy, dump) ever sees a deeper value. Stops counting past the limit.
bool depth_within(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::string cut(std::string s) {
  if (s.size() > kMaxErrorText) {
    s.resize(kMaxErrorText);
    // Do not end inside a UTF-8 sequence: drop continuation bytes and their lead byte.
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
    s += "…";
  }
  return s;
}

std::optional<std::int64_t> clamp_ms(double ms) {
  if (!std::isfinite(ms) || ms < 0) return std::nullopt;
  if (ms > static_cast<double>(kMaxRetryAfterMs)) return kMaxRetryAfterMs;
  return static_cast<std::int64_t>(std::ceil(ms));
}

// The body's retry_after_ms (an integer, but a float is not refused), else Retry-After in
// delta-seconds. An HTTP-date Retry-After is ignored: the caller backs off on its own then.
std::optional<std::int64_t> retry_after(const json* body,
                                        const std::vector<std::pair<std::string, std::string>>& h) {
  if (body && body->is_object()) {
    auto it = body->find("retry_after_ms");
    if (it != body->end() && it->is_number()) return clamp_ms(it->get<double>());
  }
  for (const auto& [name, value] : h) {
    if (name != "retry-after") continue;
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0)
      return clamp_ms(static_cast<double>(seconds) * 1000.0);
    if (ec == std::errc::result_out_of_range) return kMaxRetryAfterMs;
  }
  return std::nullopt;
}

MatrixError bad(long status, std::string why) {
  return {MatrixErrorKind::bad_response, status, "", std::move(why), std::nullopt, ""};
}

}  // namespace

std::optional<json> parse_response_json(std::string_view text) {
  if (!depth_within(text, kMaxResponseDepth)) return std::nullopt;
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

MatrixResult parse_matrix_response(long status,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body, bool array_answer) {
  if (status < 100 || status > 599) return fail(bad(status, "no valid HTTP status"));
  std::optional<json> parsed = parse_response_json(body);
  if (status >= 200 && status < 300) {
    if (!parsed) return fail(bad(status, "the answer is not JSON (or nested too deep)"));
    if (array_answer && !parsed->is_array())
      return fail(bad(status, "the answer is not a JSON array"));
    if (!array_answer && !parsed->is_object())
      return fail(bad(status, "the answer is not a JSON object"));
    return std::move(*parsed);
  }
  MatrixError e{MatrixErrorKind::http, status, "", "", std::nullopt, ""};
  if (parsed && parsed->is_object()) {
    auto code = parsed->find("errcode");
    if (code != parsed->end() && code->is_string()) e.errcode = cut(code->get<std::string>());
    auto text = parsed->find("error");
    if (text != parsed->end() && text->is_string()) e.error = cut(text->get<std::string>());
    auto session = parsed->find("session");
    if (status == 401 && session != parsed->end() && session->is_string())
      e.uia_session = cut(session->get<std::string>());
  }
  if (e.error.empty()) e.error = "HTTP " + std::to_string(status);
  if (status == 429) e.retry_after_ms = retry_after(parsed ? &*parsed : nullptr, headers);
  return fail(std::move(e));
}

}  // namespace mrt::transport
