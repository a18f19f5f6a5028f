// Fuzz target: hex (PROTOCOL.md §1: `0x` + lowercase on the wire) and Matrix unpadded base64.
//
// Input: arbitrary bytes, used both as text to decode and as bytes to encode. Properties:
// - parse_hex in all four (prefix x case) modes never crashes; what it accepts re-encodes to the
//   same digits (lowercased, prefix removed), and the modes agree with each other;
// - to_hex / to_0x_hex / base64_unpadded of any bytes decode back to the same bytes;
// - parse_base64_unpadded accepts a text only if re-encoding its result gives the same text
//   (less complete `=` padding): the decoder is canonical, no two texts give the same bytes.
#include <algorithm>
#include <cstdint>
#include <string>

#include <mrt/bytes.hpp>
#include <mrt/matrix_signing.hpp>

#include "fuzz_common.hpp"

namespace {

using mrt::HexCase;
using mrt::HexError;
using mrt::HexPrefix;

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void check_hex_text(std::string_view text) {
  for (HexPrefix prefix : {HexPrefix::required, HexPrefix::forbidden}) {
    auto lower = mrt::parse_hex(text, prefix, HexCase::lower_only);
    auto any = mrt::parse_hex(text, prefix, HexCase::any);
    const std::string_view digits =
        prefix == HexPrefix::required && text.size() >= 2 ? text.substr(2) : text;
    if (any) {
      FUZZ_CHECK(any->size() * 2 == digits.size());
      FUZZ_CHECK(mrt::to_hex(*any) == ascii_lower(digits));
      if (prefix == HexPrefix::required) {
        FUZZ_CHECK(text.starts_with("0x"));
      } else {
        FUZZ_CHECK(!text.starts_with("0x") && !text.starts_with("0X"));
      }
    }
    if (lower) {
      // Lowercase-only accepts a subset of `any`, with the same bytes, and exactly the wire form.
      FUZZ_CHECK(any.ok() && *any == *lower);
      FUZZ_CHECK(mrt::to_hex(*lower) == digits);
      if (prefix == HexPrefix::required) FUZZ_CHECK(mrt::to_0x_hex(*lower) == text);
    } else if (any) {
      FUZZ_CHECK(lower.error() == HexError::uppercase);
    } else {
      FUZZ_CHECK(lower.error() == any.error() || lower.error() == HexError::uppercase);
    }
  }
}

void check_bytes_round_trip(mrt::ByteView bytes) {
  const std::string hex = mrt::to_hex(bytes);
  const std::string hex0x = mrt::to_0x_hex(bytes);
  FUZZ_CHECK(hex.size() == bytes.size() * 2 && hex0x == "0x" + hex);
  auto back = mrt::parse_hex(hex, HexPrefix::forbidden);
  FUZZ_CHECK(back.ok() && std::equal(back->begin(), back->end(), bytes.begin(), bytes.end()));
  auto back0x = mrt::parse_hex(hex0x, HexPrefix::required);
  FUZZ_CHECK(back0x.ok() && *back0x == *back);

  const std::string b64 = mrt::base64_unpadded(bytes);
  FUZZ_CHECK(b64.size() == (bytes.size() * 4 + 2) / 3);
  FUZZ_CHECK(
      b64.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
      std::string::npos);
  auto b64_back = mrt::parse_base64_unpadded(b64);
  FUZZ_CHECK(b64_back &&
             std::equal(b64_back->begin(), b64_back->end(), bytes.begin(), bytes.end()));
  // The spec asks readers to accept the padded form too.
  std::string padded = b64;
  while (padded.size() % 4 != 0) padded += '=';
  auto padded_back = mrt::parse_base64_unpadded(padded);
  FUZZ_CHECK(padded_back && *padded_back == *b64_back);
}

void check_base64_text(std::string_view text) {
  auto decoded = mrt::parse_base64_unpadded(text);
  if (!decoded) return;
  // Only the standard alphabet and complete padding may be accepted. libsodium 1.0.18 (Debian 12)
  // decodes every byte >= 0x80 as '/' (a signed-char bug in its constant-time decoder), so
  // "\xffw" and "/w" gave the same byte until c4b2cf7; tests/fuzz_regressions/hex_base64/.
  FUZZ_CHECK(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
      std::string_view::npos);
  std::string_view unpadded = text;
  std::size_t pad = 0;
  while (unpadded.ends_with('=')) {
    unpadded.remove_suffix(1);
    ++pad;
  }
  FUZZ_CHECK(pad == 0 || (text.size() % 4 == 0 && pad <= 2 && unpadded.size() % 4 == 4 - pad));
  FUZZ_CHECK(mrt::base64_unpadded(*decoded) == unpadded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = mrt::fuzz::as_text(data, size);
  check_hex_text(text);
  check_base64_text(text);
  check_bytes_round_trip({data, size});
  return 0;
}
