#include <sodium.h>

#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

#include "core/sodium_init.hpp"
#include "olm_handle.hpp"

namespace mrt::detail {

void check_pickle_key(ByteView key) {
  if (key.size() != kPickleKeySize) throw std::invalid_argument("pickle key must be 32 bytes");
}

SecretBuffer olm_random(std::size_t n) {
  ensure_sodium();
  SecretBuffer out(n);
  if (n) randombytes_buf(out.data(), n);
  return out;
}

std::optional<SecretBuffer> canonical_base64(std::string_view text, Base64Padding padding) {
  if (padding == Base64Padding::refused && text.find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  auto bytes = parse_base64_unpadded(text);
  if (!bytes) return std::nullopt;
  std::string again = base64_unpadded(*bytes);
  wipe(*bytes);
  SecretBuffer out(as_bytes(again));
  wipe(again);
  return out;
}

}  // namespace mrt::detail
