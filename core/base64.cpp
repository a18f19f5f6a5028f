#include <algorithm>

#include <sodium.h>

#include <mrt/bytes.hpp>

#include "sodium_init.hpp"

namespace mrt {

namespace {
constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
}

std::string base64_unpadded(ByteView bytes) {
  detail::ensure_sodium();
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the encoded length counts the NUL terminator
  return out;
}

std::optional<Bytes> parse_base64_unpadded(std::string_view text) {
  detail::ensure_sodium();
  // libsodium 1.0.18 decodes some bytes outside the alphabet (0xff as '/'): check it first.
  const auto in_alphabet = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
  };
  if (!std::all_of(text.begin(), text.end(), in_alphabet)) return std::nullopt;
  // The spec asks readers to accept padding too ("Unpadded Base64"); only where it is complete.
  if (text.size() % 4 == 0 && text.ends_with('=')) {
    text.remove_suffix(text.ends_with("==") ? 2 : 1);
  }
  Bytes out(text.size() * 3 / 4 + 1);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        kVariant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace mrt
