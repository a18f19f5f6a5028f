#include <mrt/bytes.hpp>

namespace mrt {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

int nibble(char c, HexCase letter_case, HexError& error) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') {
    if (letter_case == HexCase::any) return c - 'A' + 10;
    error = HexError::uppercase;
    return -1;
  }
  error = HexError::not_hex;
  return -1;
}

}  // namespace

std::string_view to_string(HexError e) {
  switch (e) {
    case HexError::missing_prefix:
      return "hex is missing its 0x prefix";
    case HexError::unexpected_prefix:
      return "hex has a 0x prefix where none is allowed";
    case HexError::odd_length:
      return "hex has an odd number of digits";
    case HexError::not_hex:
      return "hex contains a character that is not a hex digit";
    case HexError::uppercase:
      return "hex contains uppercase digits (lowercase required)";
    case HexError::wrong_length:
      return "hex decodes to the wrong number of bytes";
  }
  return "unknown hex error";
}

std::string to_hex(ByteView bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::string to_0x_hex(ByteView bytes) {
  return "0x" + to_hex(bytes);
}

Result<Bytes, HexError> parse_hex(std::string_view text, HexPrefix prefix, HexCase letter_case) {
  const bool has_prefix = text.size() >= 2 && text[0] == '0' && text[1] == 'x';
  if (prefix == HexPrefix::required) {
    if (!has_prefix) return fail(HexError::missing_prefix);
    text.remove_prefix(2);
  } else if (has_prefix || (text.size() >= 2 && text[0] == '0' && text[1] == 'X')) {
    return fail(HexError::unexpected_prefix);
  }
  if (text.size() % 2 != 0) return fail(HexError::odd_length);
  Bytes out(text.size() / 2);
  HexError error{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(text[2 * i], letter_case, error);
    const int lo = hi < 0 ? -1 : nibble(text[2 * i + 1], letter_case, error);
    if (lo < 0) return fail(error);
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace mrt
