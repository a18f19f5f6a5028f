// Fuzz target: signature parsing and ecrecover (PROTOCOL.md §1, EIP-191 personal_sign).
//
// Input: byte 0 is the message length L (clipped to what is there), then L message bytes, then
// the rest R. R is tried as signature text (`0x` + 130 lowercase hex) and, when it has at least
// 65 bytes, its first 65 bytes as a raw r || s || v Signature. Properties:
// - Signature::parse accepts exactly the wire form and prints it back byte for byte; ecrecover on
//   text refuses as `malformed` exactly what Signature::parse refuses, and agrees with
//   ecrecover on the parsed struct otherwise;
// - ecrecover on raw bytes fails for the reason an independent model predicts, in the library's
//   order: v not in {0, 1, 27, 28} -> bad_v; r or s zero or >= n -> r_or_s_out_of_range;
//   s > n/2 -> high_s (high-S never succeeds); otherwise an address or no_key;
// - a recovered signature gives the same address with v and v +- 27, another address with the
//   other recovery id, its high-S twin (n - s, other parity) is refused as high_s, and
//   ecrecover_digest over personal_message_hash agrees with ecrecover;
// - with v in {27, 28}, the re-encoded signature parses back identically and recovers the same.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include <mrt/eth.hpp>

#include "fuzz_common.hpp"

namespace {

using Scalar = std::array<std::uint8_t, 32>;

// secp256k1 group order n and n / 2 (rounded down), big-endian.
constexpr Scalar kOrder = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                           0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
constexpr Scalar kHalfOrder = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                               0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

Scalar scalar_at(const mrt::Signature& sig, std::size_t offset) {
  Scalar out;
  std::memcpy(out.data(), sig.bytes.data() + offset, out.size());
  return out;
}
int compare(const Scalar& a, const Scalar& b) {
  return std::memcmp(a.data(), b.data(), a.size());
}
bool is_zero(const Scalar& a) {
  return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; });
}
Scalar order_minus(const Scalar& s) {  // n - s, for 0 < s < n
  Scalar out;
  int borrow = 0;
  for (std::size_t i = out.size(); i-- > 0;) {
    int d = kOrder[i] - s[i] - borrow;
    borrow = d < 0;
    out[i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  return out;
}

using RecoverResult = mrt::Result<mrt::Address, mrt::SignatureError>;

bool same(const RecoverResult& a, const RecoverResult& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.error() == b.error();
}

void check_raw(mrt::ByteView message, const mrt::Signature& sig) {
  const RecoverResult got = mrt::ecrecover(message, sig);
  FUZZ_CHECK(same(got, mrt::ecrecover_digest(mrt::personal_message_hash(message), sig)));

  const std::uint8_t v = sig.bytes[64];
  const Scalar r = scalar_at(sig, 0), s = scalar_at(sig, 32);
  if (v != 0 && v != 1 && v != 27 && v != 28) {
    FUZZ_CHECK(!got && got.error() == mrt::SignatureError::bad_v);
    return;
  }
  if (is_zero(r) || is_zero(s) || compare(r, kOrder) >= 0 || compare(s, kOrder) >= 0) {
    FUZZ_CHECK(!got && got.error() == mrt::SignatureError::r_or_s_out_of_range);
    return;
  }
  if (compare(s, kHalfOrder) > 0) {
    FUZZ_CHECK(!got && got.error() == mrt::SignatureError::high_s);
    return;
  }
  if (!got) {
    FUZZ_CHECK(got.error() == mrt::SignatureError::no_key);
    return;
  }

  // Same recovery id spelled the other way (0/1 <-> 27/28): same signer.
  mrt::Signature respelled = sig;
  respelled.bytes[64] = static_cast<std::uint8_t>(v >= 27 ? v - 27 : v + 27);
  const RecoverResult again = mrt::ecrecover(message, respelled);
  FUZZ_CHECK(again.ok() && *again == *got);

  // The other recovery id is the point -R: another key, never the same address.
  const auto flipped_v = static_cast<std::uint8_t>(v >= 27 ? 27 + ((v - 27) ^ 1) : v ^ 1);
  mrt::Signature other = sig;
  other.bytes[64] = flipped_v;
  const RecoverResult other_key = mrt::ecrecover(message, other);
  FUZZ_CHECK(!other_key || *other_key != *got);

  // The malleable twin (r, n - s, other parity) is a valid ECDSA signature by the same key;
  // PROTOCOL.md §1 refuses it.
  mrt::Signature twin = sig;
  const Scalar high = order_minus(s);
  std::memcpy(twin.bytes.data() + 32, high.data(), high.size());
  twin.bytes[64] = flipped_v;
  const RecoverResult twin_result = mrt::ecrecover(message, twin);
  FUZZ_CHECK(!twin_result && twin_result.error() == mrt::SignatureError::high_s);

  const mrt::Signature& canonical = v >= 27 ? sig : respelled;
  const std::string text = canonical.to_hex();
  auto reparsed = mrt::Signature::parse(text);
  FUZZ_CHECK(reparsed.ok() && *reparsed == canonical);
  const RecoverResult from_text = mrt::ecrecover(message, text);
  FUZZ_CHECK(from_text.ok() && *from_text == *got);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t message_size = std::min<std::size_t>(data[0], size - 1);
  const mrt::ByteView message{data + 1, message_size};
  const std::uint8_t* rest = data + 1 + message_size;
  const std::size_t rest_size = size - 1 - message_size;
  const std::string_view text = mrt::fuzz::as_text(rest, rest_size);

  auto parsed = mrt::Signature::parse(text);
  const RecoverResult from_text = mrt::ecrecover(message, text);
  if (parsed) {
    FUZZ_CHECK(parsed->to_hex() == text);
    FUZZ_CHECK(same(from_text, mrt::ecrecover(message, *parsed)));
    check_raw(message, *parsed);
  } else {
    FUZZ_CHECK(!from_text && from_text.error() == mrt::SignatureError::malformed);
    FUZZ_CHECK(mrt::is_malformed(parsed.error()));
  }

  if (rest_size >= 65) {
    mrt::Signature raw;
    std::memcpy(raw.bytes.data(), rest, raw.bytes.size());
    check_raw(message, raw);
  }
  return 0;
}
