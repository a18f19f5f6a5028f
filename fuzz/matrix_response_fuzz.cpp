// Fuzz target: parse_matrix_response, what the Matrix client makes of any answer a homeserver
// (or something posing as one) sends: status, a Retry-After header and the body.
//
// Input: 2 bytes of status (mapped onto 0..699, so that invalid statuses occur too; the first
// byte's top bit asks for an array answer instead of an object), a Retry-After value up to the
// first NUL, then the body. Properties:
// - never crashes or throws, whatever the bytes;
// - a success only for a 2xx status, and it is a JSON object (an array when asked for one)
//   that dump() prints (valid UTF-8,
//   nesting within kMaxResponseDepth, so printing cannot exhaust the stack);
// - an error is `http` (with the input's status) for a valid non-2xx status, else
//   `bad_response`; retry_after_ms only for 429, within [0, kMaxRetryAfterMs]; server texts are
//   capped; describe() works on it.
#include <algorithm>

#include "fuzz_common.hpp"
#include "transport/matrix_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mrt::transport;
  if (size < 2) return 0;
  const long status = static_cast<long>((data[0] << 8 | data[1]) % 700);
  const bool array_answer = (data[0] & 0x80) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto nul = rest.find('\0');
  std::vector<std::pair<std::string, std::string>> headers;
  if (nul != std::string_view::npos) {
    headers.emplace_back("retry-after", std::string(rest.substr(0, nul)));
    rest.remove_prefix(nul + 1);
  }

  MatrixResult r = parse_matrix_response(status, headers, rest, array_answer);
  if (r) {
    FUZZ_CHECK(status >= 200 && status < 300);
    FUZZ_CHECK(array_answer ? r->is_array() : r->is_object());
    bool prints = true;
    try {
      (void)r->dump();
    } catch (...) {
      prints = false;
    }
    FUZZ_CHECK(prints);
    return 0;
  }
  const MatrixError& e = r.error();
  const bool valid = status >= 100 && status <= 599;
  const bool success = status >= 200 && status < 300;
  FUZZ_CHECK(e.kind == (valid && !success ? MatrixErrorKind::http : MatrixErrorKind::bad_response));
  if (e.kind == MatrixErrorKind::http) FUZZ_CHECK(e.http_status == status);
  if (e.retry_after_ms) {
    FUZZ_CHECK(status == 429);
    FUZZ_CHECK(*e.retry_after_ms >= 0 && *e.retry_after_ms <= kMaxRetryAfterMs);
  }
  // Capped to kMaxErrorText plus the ellipsis.
  FUZZ_CHECK(e.errcode.size() <= kMaxErrorText + 3 && e.error.size() <= kMaxErrorText + 3);
  FUZZ_CHECK(!describe(e).empty());
  return 0;
}
