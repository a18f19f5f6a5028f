// File: mrt/matrix_signing.hpp
//
// Matrix JSON signing (spec appendix "Signing JSON"): an Ed25519 signature over the canonical
// JSON of an object without its `signatures` and `unsigned` members, stored under
// `signatures[user_id][key_id]` as unpadded base64. Verification uses libsodium's
// crypto_sign_verify_detached (not libolm's malleable olm_ed25519_verify).
//
//   mrt::Ed25519Key device = mrt::Ed25519Key::generate();
//   auto signed_keys = mrt::sign_json(keys, "@0xab…:server", "ed25519:DEVICE", device);
//   auto ok = mrt::verify_json(*signed_keys, "@0xab…:server", "ed25519:DEVICE",
//                              device.public_key());
#pragma once

#include <array>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/result.hpp>

namespace mrt {

class Ed25519Key {
 public:
  static constexpr std::size_t kSeedSize = 32;
  static constexpr std::size_t kPublicKeySize = 32;
  static constexpr std::size_t kSignatureSize = 64;
  using PublicKey = std::array<std::uint8_t, kPublicKeySize>;
  using Sig = std::array<std::uint8_t, kSignatureSize>;

  static Ed25519Key generate();
  // Precondition: seed.size() == kSeedSize (std::invalid_argument otherwise).
  static Ed25519Key from_seed(ByteView seed);

  const PublicKey& public_key() const { return public_key_; }
  Sig sign(ByteView message) const;

 private:
  Ed25519Key() : secret_(64) {}
  SecretBuffer secret_;  // libsodium's 64-byte secret key (seed || public key)
  PublicKey public_key_{};
};

[[nodiscard]] bool ed25519_verify(ByteView message, ByteView signature, ByteView public_key);

// Returns `object` with the signature added (other signatures are kept). Fails if the object
// has no canonical form (a float, an integer out of range).
[[nodiscard]] Result<nlohmann::json, JsonFailure> sign_json(nlohmann::json object,
                                                            std::string_view user_id,
                                                            std::string_view key_id,
                                                            const Ed25519Key& key);

enum class JsonSignatureError : int {
  not_object = 1,
  not_canonical = 2,        // a float or out-of-range integer: nothing can be signed over it
  missing = 3,              // no signatures[user_id][key_id] string
  malformed_signature = 4,  // not 64 bytes of unpadded base64
  bad_signature = 5,        // does not verify
  malformed_public_key = 6,
};
std::string_view to_string(JsonSignatureError e);

[[nodiscard]] Result<Unit, JsonSignatureError> verify_json(const nlohmann::json& object,
                                                           std::string_view user_id,
                                                           std::string_view key_id,
                                                           ByteView public_key);

// The bytes that are signed: canonical JSON of `object` less `signatures` and `unsigned`.
[[nodiscard]] Result<std::string, JsonFailure> signing_payload(const nlohmann::json& object);

}  // namespace mrt
