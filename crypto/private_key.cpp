#include <cstring>
#include <stdexcept>

#include <secp256k1.h>
#include <sodium.h>

#include <mrt/eth.hpp>

#include "secp256k1_context.hpp"

namespace mrt {

std::string_view to_string(KeyError e) {
  switch (e) {
    case KeyError::wrong_length:
      return "private key is not 32 bytes";
    case KeyError::out_of_range:
      return "private key is zero or not below the secp256k1 order";
    case KeyError::bad_hex:
      return "private key is not hex";
  }
  return "unknown key error";
}

PrivateKey::PrivateKey(const std::uint8_t* secret32) {
  std::memcpy(secret_.data(), secret32, kSize);
  const secp256k1_context* ctx = detail::secp256k1_ctx();
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(ctx, &pub, secret_.data())) {
    throw std::logic_error("PrivateKey built from an unchecked secret");
  }
  std::size_t len = public_key_.size();
  secp256k1_ec_pubkey_serialize(ctx, public_key_.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  address_ = Address::from_public_key(public_key_);
}

PrivateKey PrivateKey::generate() {
  const secp256k1_context* ctx = detail::secp256k1_ctx();  // also initialises libsodium
  std::array<std::uint8_t, kSize> candidate;
  do {
    randombytes_buf(candidate.data(), candidate.size());
  } while (!secp256k1_ec_seckey_verify(ctx, candidate.data()));  // fails with p ~ 2^-128
  PrivateKey key(candidate.data());
  sodium_memzero(candidate.data(), candidate.size());
  return key;
}

Result<PrivateKey, KeyError> PrivateKey::from_bytes(ByteView bytes) {
  if (bytes.size() != kSize) return fail(KeyError::wrong_length);
  if (!secp256k1_ec_seckey_verify(detail::secp256k1_ctx(), bytes.data())) {
    return fail(KeyError::out_of_range);
  }
  return PrivateKey(bytes.data());
}

Result<PrivateKey, KeyError> PrivateKey::from_hex(std::string_view text) {
  const bool prefixed = text.size() >= 2 && text[0] == '0' && text[1] == 'x';
  auto bytes = parse_hex(text, prefixed ? HexPrefix::required : HexPrefix::forbidden, HexCase::any);
  if (!bytes) return fail(KeyError::bad_hex);
  auto key = from_bytes(*bytes);
  wipe(*bytes);
  return key;
}

PrivateKey::PrivateKey(PrivateKey&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_), address_(other.address_) {
  sodium_memzero(other.secret_.data(), kSize);
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    address_ = other.address_;
    sodium_memzero(other.secret_.data(), kSize);
  }
  return *this;
}

PrivateKey::~PrivateKey() {
  sodium_memzero(secret_.data(), kSize);
}

PrivateKey PrivateKey::clone() const {
  return PrivateKey(secret_.data());
}

}  // namespace mrt
