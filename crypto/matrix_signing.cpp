#include <stdexcept>

#include <sodium.h>

#include <mrt/matrix_signing.hpp>

#include "core/sodium_init.hpp"

namespace mrt {

using json = nlohmann::json;

Ed25519Key Ed25519Key::generate() {
  detail::ensure_sodium();
  SecretBuffer seed(kSeedSize);
  randombytes_buf(seed.data(), seed.size());
  return from_seed(seed.view());
}

Ed25519Key Ed25519Key::from_seed(ByteView seed) {
  if (seed.size() != kSeedSize) throw std::invalid_argument("Ed25519 seed must be 32 bytes");
  detail::ensure_sodium();
  Ed25519Key key;
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_.data(), seed.data());
  return key;
}

Ed25519Key::Sig Ed25519Key::sign(ByteView message) const {
  Sig sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool ed25519_verify(ByteView message, ByteView signature, ByteView public_key) {
  if (signature.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  detail::ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

Result<std::string, JsonFailure> signing_payload(const json& object) {
  if (!object.is_object()) {
    return fail(JsonFailure{JsonError::not_representable, "only a JSON object can be signed"});
  }
  json stripped = object;
  stripped.erase("signatures");
  stripped.erase("unsigned");
  return canonical_json(stripped);
}

Result<json, JsonFailure> sign_json(json object, std::string_view user_id, std::string_view key_id,
                                    const Ed25519Key& key) {
  auto payload = signing_payload(object);
  if (!payload) return fail(payload.error());
  json& sigs = object["signatures"];
  if (sigs.is_null()) sigs = json::object();
  json& by_user = sigs.is_object() ? sigs[std::string(user_id)] : sigs;
  if (by_user.is_null()) by_user = json::object();
  if (!sigs.is_object() || !by_user.is_object()) {
    return fail(JsonFailure{JsonError::not_representable,
                            "\"signatures\" (or its entry for the user) is not an object"});
  }
  by_user[std::string(key_id)] = base64_unpadded(key.sign(as_bytes(*payload)));
  return object;
}

std::string_view to_string(JsonSignatureError e) {
  switch (e) {
    case JsonSignatureError::not_object:
      return "signed value is not a JSON object";
    case JsonSignatureError::not_canonical:
      return "signed object has no canonical JSON form";
    case JsonSignatureError::missing:
      return "no signature for that user and key id";
    case JsonSignatureError::malformed_signature:
      return "signature is not 64 bytes of unpadded base64";
    case JsonSignatureError::bad_signature:
      return "signature does not verify";
    case JsonSignatureError::malformed_public_key:
      return "public key is not 32 bytes";
  }
  return "unknown JSON signature error";
}

Result<Unit, JsonSignatureError> verify_json(const json& object, std::string_view user_id,
                                             std::string_view key_id, ByteView public_key) {
  if (!object.is_object()) return fail(JsonSignatureError::not_object);
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return fail(JsonSignatureError::malformed_public_key);
  }
  const auto sigs = object.find("signatures");
  if (sigs == object.end() || !sigs->is_object()) return fail(JsonSignatureError::missing);
  const auto by_user = sigs->find(std::string(user_id));
  if (by_user == sigs->end() || !by_user->is_object()) return fail(JsonSignatureError::missing);
  const auto sig_text = by_user->find(std::string(key_id));
  if (sig_text == by_user->end() || !sig_text->is_string()) {
    return fail(JsonSignatureError::missing);
  }
  const auto sig = parse_base64_unpadded(sig_text->get_ref<const std::string&>());
  if (!sig || sig->size() != crypto_sign_BYTES) {
    return fail(JsonSignatureError::malformed_signature);
  }
  auto payload = signing_payload(object);
  if (!payload) return fail(JsonSignatureError::not_canonical);
  if (!ed25519_verify(as_bytes(*payload), *sig, public_key)) {
    return fail(JsonSignatureError::bad_signature);
  }
  return Unit{};
}

}  // namespace mrt
