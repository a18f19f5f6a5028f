// File: mrt/eth.hpp
//
// Ethereum identity (PROTOCOL.md §1): secp256k1 private keys, addresses (lowercase wire form and
// EIP-55 for people), EIP-191 `personal_sign` and `ecrecover`.
//
//   mrt::PrivateKey key = mrt::PrivateKey::generate();
//   mrt::Signature sig = mrt::personal_sign(key, mrt::as_bytes("localhost"));
//   auto who = mrt::ecrecover(mrt::as_bytes("localhost"), sig.to_hex());
//   assert(who && *who == key.address());
//
// Conventions: functions that decide (parse, recover) return a Result whose error says why;
// spans of the wrong size are programming errors (std::invalid_argument). All functions are
// safe to call from several threads at once.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include <mrt/bytes.hpp>
#include <mrt/keccak.hpp>
#include <mrt/result.hpp>

namespace mrt {

enum class AddressError : int {
  malformed = 1,      // not `0x` + 40 hex digits
  not_lowercase = 2,  // the wire form must be lowercase
  bad_checksum = 3,   // mixed case that is not the EIP-55 checksum
};
std::string_view to_string(AddressError e);

class Address {
 public:
  static constexpr std::size_t kSize = 20;
  Address() = default;  // the zero address
  explicit Address(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // The wire form: `0x` + 40 lowercase hex digits, nothing else.
  static Result<Address, AddressError> parse(std::string_view text);
  // What a person may type: all lowercase, all uppercase digits, or a valid EIP-55 checksum.
  static Result<Address, AddressError> parse_checksummed(std::string_view text);
  // Last 20 bytes of keccak256(X || Y) of a 65-byte uncompressed key (0x04 || X || Y).
  static Address from_public_key(ByteView uncompressed65);

  std::string to_hex() const;          // `0x` + lowercase: the wire form
  std::string to_checksummed() const;  // EIP-55: for people
  const std::array<std::uint8_t, kSize>& bytes() const { return bytes_; }

  friend auto operator<=>(const Address&, const Address&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Address& a) { return os << a.to_hex(); }

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

enum class KeyError : int {
  wrong_length = 1,  // a secp256k1 secret key is 32 bytes
  out_of_range = 2,  // zero, or not below the group order n
  bad_hex = 3,
};
std::string_view to_string(KeyError e);

// A secp256k1 secret key. Wiped on destruction, never printed, copied only explicitly.
class PrivateKey {
 public:
  static constexpr std::size_t kSize = 32;

  static PrivateKey generate();
  static Result<PrivateKey, KeyError> from_bytes(ByteView bytes);
  // Accepts an optional `0x` and hex digits of either case: key files are typed by people.
  static Result<PrivateKey, KeyError> from_hex(std::string_view text);

  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  PrivateKey clone() const;
  const Address& address() const { return address_; }
  // 0x04 || X || Y
  const std::array<std::uint8_t, 65>& public_key() const { return public_key_; }
  // The raw secret, for sealing it (keystore). Do not copy it anywhere unwiped.
  ByteView secret() const { return {secret_.data(), secret_.size()}; }

  friend std::ostream& operator<<(std::ostream& os, const PrivateKey& k) {
    return os << "PrivateKey(" << k.address_ << ", <redacted>)";
  }

 private:
  explicit PrivateKey(const std::uint8_t* secret32);
  std::array<std::uint8_t, kSize> secret_{};
  std::array<std::uint8_t, 65> public_key_{};
  Address address_;
};

enum class SignatureError : int {
  // The text is not `0x` + 130 lowercase hex digits: a malformed signature.
  malformed = 1,
  // Well-formed, but not a valid signature (PROTOCOL.md §1 calls all of these "bad"):
  bad_v = 2,                // v not in {0, 1, 27, 28}
  high_s = 3,               // s > n/2: malleable, refused
  r_or_s_out_of_range = 4,  // r or s is zero or not below n
  no_key = 5,               // no public key recovers from it
};
std::string_view to_string(SignatureError e);
inline bool is_malformed(SignatureError e) {
  return e == SignatureError::malformed;
}

// r(32) || s(32) || v(1), as personal_sign writes it.
struct Signature {
  std::array<std::uint8_t, 65> bytes{};
  std::string to_hex() const { return to_0x_hex(bytes); }
  // Encoding only: `0x` + 130 lowercase hex digits. Any r, s, v pass; ecrecover judges them.
  static Result<Signature, SignatureError> parse(std::string_view text);
  friend bool operator==(const Signature&, const Signature&) = default;
};

// keccak256("\x19Ethereum Signed Message:\n" + decimal(len(data)) + data)
Hash256 personal_message_hash(ByteView data);

// ECDSA over personal_message_hash(data), RFC 6979 nonce, low S, v in {27, 28}.
Signature personal_sign(const PrivateKey& key, ByteView data);

// The address whose key made `sig` over `data` (personal_sign's hashing). Accepts v in
// {0, 1, 27, 28}; refuses high-S, r or s zero or >= n, and signatures recovering no key.
[[nodiscard]] Result<Address, SignatureError> ecrecover(ByteView data, const Signature& sig);
[[nodiscard]] Result<Address, SignatureError> ecrecover(ByteView data, std::string_view sig_hex);
// Same, over a 32-byte digest that the caller already hashed.
[[nodiscard]] Result<Address, SignatureError> ecrecover_digest(const Hash256& digest,
                                                               const Signature& sig);

}  // namespace mrt
