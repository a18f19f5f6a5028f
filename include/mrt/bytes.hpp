// File: mrt/bytes.hpp
//
// Byte strings, the protocol's hex rules, Matrix's unpadded base64 and wiping buffers for
// secrets.
//
// PROTOCOL.md §1: on the wire, hex is lowercase; values shown with `0x` carry it. Uppercase
// digits or a missing prefix are refused (libsodium's own decoder would accept uppercase).
//
//   auto bytes = mrt::parse_hex("0xdeadbeef", mrt::HexPrefix::required);
//   if (!bytes) std::cerr << mrt::to_string(bytes.error());
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mrt/result.hpp>

namespace mrt {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

enum class HexError : int {
  missing_prefix = 1,  // `0x` required but absent (or spelled `0X`)
  unexpected_prefix = 2,
  odd_length = 3,
  not_hex = 4,    // a character outside [0-9a-fA-F]
  uppercase = 5,  // A-F where the protocol wants lowercase
  wrong_length = 6,
};
std::string_view to_string(HexError e);

enum class HexPrefix { required, forbidden };
enum class HexCase { lower_only, any };

// Lowercase hex, no prefix.
std::string to_hex(ByteView bytes);
// `0x` + lowercase hex.
std::string to_0x_hex(ByteView bytes);
[[nodiscard]] Result<Bytes, HexError> parse_hex(std::string_view text, HexPrefix prefix,
                                                HexCase letter_case = HexCase::lower_only);

// Unpadded standard base64, as Matrix writes keys and signatures (constant-time codec).
std::string base64_unpadded(ByteView bytes);
// Accepts complete padding as the spec asks readers to; refuses partial padding, the URL-safe
// alphabet, whitespace and non-zero spare bits in the last digit.
[[nodiscard]] std::optional<Bytes> parse_base64_unpadded(std::string_view text);

// A heap buffer for secret bytes (keys, passwords, derived keys, plaintexts). Move-only; its
// contents are wiped with sodium_memzero when it is destroyed or moved from, and it prints as
// "<redacted>", so a secret can not reach a log or a test failure message by accident.
class SecretBuffer {
 public:
  SecretBuffer() = default;
  explicit SecretBuffer(std::size_t size);
  explicit SecretBuffer(ByteView bytes);
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  SecretBuffer(SecretBuffer&& other) noexcept;
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  ~SecretBuffer();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  ByteView view() const { return {data_, size_}; }

  friend std::ostream& operator<<(std::ostream& os, const SecretBuffer&) {
    return os << "<redacted>";
  }

 private:
  void release() noexcept;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Wipes bytes that held a secret; the compiler may not elide it.
void wipe(std::span<std::uint8_t> bytes) noexcept;
void wipe(std::string& text) noexcept;

}  // namespace mrt
