// File: mrt/attestation.hpp
//
// Device attestations (PROTOCOL.md §3): the statement, signed with the node's Ethereum key, that
// a Matrix device's Olm keys belong to that address. It travels as the field
// "network.raiden.attestation" of the device's `device_keys`, added before the device's own
// Ed25519 self-signature so that the self-signature covers it.
//
//   json keys = {{"algorithms", …}, {"device_id", id}, {"keys", …}, {"user_id", user}};
//   keys = mrt::attest_device_keys(std::move(keys), eth_key, now_ms).value();
//   keys = mrt::sign_json(std::move(keys), user, "ed25519:" + id, device_key).value();
//   auto who = mrt::verify_device_attestation(keys, now_ms);   // Result<Address, …>
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/result.hpp>

namespace mrt {

inline constexpr const char* kAttestationField = "network.raiden.attestation";
// How far in the future an attestation's issued_at may be (clock skew between nodes).
inline constexpr std::int64_t kAttestationMaxSkewMs = 120'000;

enum class AttestationError : int {
  malformed_device_keys = 1,  // device_id, keys or user_id missing or of the wrong type
  bad_self_signature = 2,     // the device's Ed25519 self-signature is missing or does not verify
  missing_attestation = 3,
  malformed_attestation = 4,      // not exactly {address, issued_at, sig} of the right types
  issued_in_future = 5,           // issued_at more than 120 s ahead of now
  address_mismatch = 6,           // the attested address is not the localpart of user_id
  bad_attestation_signature = 7,  // sig does not recover the attested address
};
std::string_view to_string(AttestationError e);

// The bytes the Ethereum key signs: canonical JSON of {address, device_id, issued_at, keys,
// user_id}, the last three copied from `device_keys`.
[[nodiscard]] Result<std::string, AttestationError> attestation_payload(
    const nlohmann::json& device_keys, const Address& address, std::int64_t issued_at_ms);

// Returns `device_keys` with the attestation field set. The user id's localpart must be the
// key's address (AttestationError::address_mismatch otherwise). Sign the result afterwards.
[[nodiscard]] Result<nlohmann::json, AttestationError> attest_device_keys(
    nlohmann::json device_keys, const PrivateKey& key, std::int64_t issued_at_ms);

// The address the device is attested for, if it is (all of PROTOCOL.md §3's conditions).
[[nodiscard]] Result<Address, AttestationError> verify_device_attestation(
    const nlohmann::json& device_keys, std::int64_t now_ms);

}  // namespace mrt
