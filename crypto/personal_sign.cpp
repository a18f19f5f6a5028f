// EIP-191 version 0x45 signing and recovery (PROTOCOL.md §1).
#include <string>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <mrt/eth.hpp>

#include "secp256k1_context.hpp"

namespace mrt {

std::string_view to_string(SignatureError e) {
  switch (e) {
    case SignatureError::malformed:
      return "signature is not 0x followed by 130 lowercase hex digits";
    case SignatureError::bad_v:
      return "signature v is not 0, 1, 27 or 28";
    case SignatureError::high_s:
      return "signature s is in the upper half of the order (high-S)";
    case SignatureError::r_or_s_out_of_range:
      return "signature r or s is zero or not below the order";
    case SignatureError::no_key:
      return "signature recovers no public key";
  }
  return "unknown signature error";
}

Result<Signature, SignatureError> Signature::parse(std::string_view text) {
  if (text.size() != 2 + 2 * 65) return fail(SignatureError::malformed);
  auto bytes = parse_hex(text, HexPrefix::required, HexCase::lower_only);
  if (!bytes) return fail(SignatureError::malformed);
  Signature sig;
  std::copy(bytes->begin(), bytes->end(), sig.bytes.begin());
  return sig;
}

Hash256 personal_message_hash(ByteView data) {
  const std::string prefix =
      "\x19"
      "Ethereum Signed Message:\n" +
      std::to_string(data.size());
  Keccak256 k;
  k.update(as_bytes(prefix));
  k.update(data);
  return k.finish();
}

Signature personal_sign(const PrivateKey& key, ByteView data) {
  const Hash256 digest = personal_message_hash(data);
  const secp256k1_context* ctx = detail::secp256k1_ctx();
  secp256k1_ecdsa_recoverable_signature raw;
  // nullptr nonce function = RFC 6979; libsecp256k1 always produces low-S.
  if (!secp256k1_ecdsa_sign_recoverable(ctx, &raw, digest.data(), key.secret().data(), nullptr,
                                        nullptr)) {
    throw std::logic_error("secp256k1_ecdsa_sign_recoverable failed on a valid key");
  }
  Signature sig;
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig.bytes.data(), &recid, &raw);
  sig.bytes[64] = static_cast<std::uint8_t>(27 + recid);
  return sig;
}

Result<Address, SignatureError> ecrecover_digest(const Hash256& digest, const Signature& sig) {
  const std::uint8_t v = sig.bytes[64];
  int recid;
  if (v == 0 || v == 1) {
    recid = v;
  } else if (v == 27 || v == 28) {
    recid = v - 27;
  } else {
    return fail(SignatureError::bad_v);
  }
  const secp256k1_context* ctx = detail::secp256k1_ctx();
  // r or s equal to zero parse fine but can never verify; r or s >= n fail to parse.
  static constexpr std::array<std::uint8_t, 32> kZero{};
  if (std::equal(kZero.begin(), kZero.end(), sig.bytes.begin()) ||
      std::equal(kZero.begin(), kZero.end(), sig.bytes.begin() + 32)) {
    return fail(SignatureError::r_or_s_out_of_range);
  }
  secp256k1_ecdsa_recoverable_signature raw;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &raw, sig.bytes.data(), recid)) {
    return fail(SignatureError::r_or_s_out_of_range);
  }
  // secp256k1_ecdsa_recover accepts high-S; normalize() reports whether s was high.
  secp256k1_ecdsa_signature plain;
  secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &raw);
  if (secp256k1_ecdsa_signature_normalize(ctx, nullptr, &plain)) {
    return fail(SignatureError::high_s);
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(ctx, &pub, &raw, digest.data())) {
    return fail(SignatureError::no_key);
  }
  std::array<std::uint8_t, 65> uncompressed;
  std::size_t len = uncompressed.size();
  secp256k1_ec_pubkey_serialize(ctx, uncompressed.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return Address::from_public_key(uncompressed);
}

Result<Address, SignatureError> ecrecover(ByteView data, const Signature& sig) {
  return ecrecover_digest(personal_message_hash(data), sig);
}

Result<Address, SignatureError> ecrecover(ByteView data, std::string_view sig_hex) {
  auto sig = Signature::parse(sig_hex);
  if (!sig) return fail(sig.error());
  return ecrecover(data, *sig);
}

}  // namespace mrt
