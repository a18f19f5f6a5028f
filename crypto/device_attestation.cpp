#include <mrt/attestation.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

struct DeviceFields {
  const std::string* device_id;
  const json* keys;
  const std::string* user_id;
};

Result<DeviceFields, AttestationError> device_fields(const json& device_keys) {
  if (!device_keys.is_object()) return fail(AttestationError::malformed_device_keys);
  const auto id = device_keys.find("device_id");
  const auto keys = device_keys.find("keys");
  const auto user = device_keys.find("user_id");
  if (id == device_keys.end() || !id->is_string() || keys == device_keys.end() ||
      !keys->is_object() || user == device_keys.end() || !user->is_string()) {
    return fail(AttestationError::malformed_device_keys);
  }
  return DeviceFields{&id->get_ref<const std::string&>(), &*keys,
                      &user->get_ref<const std::string&>()};
}

bool self_signature_verifies(const json& device_keys, const DeviceFields& f) {
  const std::string key_id = "ed25519:" + *f.device_id;
  const auto key_text = f.keys->find(key_id);
  if (key_text == f.keys->end() || !key_text->is_string()) return false;
  const auto public_key = parse_base64_unpadded(key_text->get_ref<const std::string&>());
  if (!public_key || public_key->size() != Ed25519Key::kPublicKeySize) return false;
  return verify_json(device_keys, *f.user_id, key_id, *public_key).ok();
}

}  // namespace

std::string_view to_string(AttestationError e) {
  switch (e) {
    case AttestationError::malformed_device_keys:
      return "malformed_device_keys";
    case AttestationError::bad_self_signature:
      return "bad_self_signature";
    case AttestationError::missing_attestation:
      return "missing_attestation";
    case AttestationError::malformed_attestation:
      return "malformed_attestation";
    case AttestationError::issued_in_future:
      return "issued_in_future";
    case AttestationError::address_mismatch:
      return "address_mismatch";
    case AttestationError::bad_attestation_signature:
      return "bad_attestation_signature";
  }
  return "unknown";
}

Result<std::string, AttestationError> attestation_payload(const json& device_keys,
                                                          const Address& address,
                                                          std::int64_t issued_at_ms) {
  auto f = device_fields(device_keys);
  if (!f) return fail(f.error());
  auto text = canonical_json(json{{"address", address.to_hex()},
                                  {"device_id", *f->device_id},
                                  {"issued_at", issued_at_ms},
                                  {"keys", *f->keys},
                                  {"user_id", *f->user_id}});
  if (!text) return fail(AttestationError::malformed_device_keys);
  return std::move(*text);
}

Result<json, AttestationError> attest_device_keys(json device_keys, const PrivateKey& key,
                                                  std::int64_t issued_at_ms) {
  auto f = device_fields(device_keys);
  if (!f) return fail(f.error());
  auto owner = address_of_user_id(*f->user_id);
  if (!owner || *owner != key.address()) return fail(AttestationError::address_mismatch);
  auto payload = attestation_payload(device_keys, key.address(), issued_at_ms);
  if (!payload) return fail(payload.error());
  device_keys[kAttestationField] = {{"address", key.address().to_hex()},
                                    {"issued_at", issued_at_ms},
                                    {"sig", personal_sign(key, as_bytes(*payload)).to_hex()}};
  return device_keys;
}

Result<Address, AttestationError> verify_device_attestation(const json& device_keys,
                                                            std::int64_t now_ms) {
  auto f = device_fields(device_keys);
  if (!f) return fail(f.error());
  if (!self_signature_verifies(device_keys, *f)) return fail(AttestationError::bad_self_signature);

  const auto att = device_keys.find(kAttestationField);
  if (att == device_keys.end()) return fail(AttestationError::missing_attestation);
  if (!att->is_object() || att->size() != 3 || !att->contains("address") ||
      !att->contains("issued_at") || !att->contains("sig") || !(*att)["address"].is_string() ||
      !(*att)["issued_at"].is_number_integer() || !(*att)["sig"].is_string()) {
    return fail(AttestationError::malformed_attestation);
  }
  const auto address = Address::parse((*att)["address"].get_ref<const std::string&>());
  const auto issued_at = (*att)["issued_at"].get<std::int64_t>();
  const auto sig = Signature::parse((*att)["sig"].get_ref<const std::string&>());
  if (!address || !sig || issued_at < 0 || issued_at > kMaxJsonInteger) {
    return fail(AttestationError::malformed_attestation);
  }
  if (issued_at > now_ms + kAttestationMaxSkewMs) return fail(AttestationError::issued_in_future);

  const auto owner = address_of_user_id(*f->user_id);
  if (!owner || *owner != *address) return fail(AttestationError::address_mismatch);

  auto payload = attestation_payload(device_keys, *address, issued_at);
  if (!payload) return fail(payload.error());
  const auto signer = ecrecover(as_bytes(*payload), *sig);
  if (!signer || *signer != *address) return fail(AttestationError::bad_attestation_signature);
  return *address;
}

}  // namespace mrt
