// Fuzz target: device attestations (PROTOCOL.md §3), verify_device_attestation on device_keys
// objects a homeserver hands out for any user.
//
// Input: JSON text, parsed by parse_json_strict and, independently, by nlohmann's lenient parser
// (floats, big integers, duplicate keys let through). Properties:
// - verify_device_attestation and attestation_payload never crash or throw;
// - a device that verifies meets every condition of §3, re-checked here step by step: its
//   Ed25519 self-signature verifies under keys["ed25519:<device_id>"], the attestation is
//   exactly {address, issued_at, sig}, address is the user id's localpart, issued_at is at most
//   120 s ahead, and ecrecover of sig over attestation_payload is that address; the same object
//   checked earlier than issued_at - 120 s is issued_in_future;
// - round trip with the harness's own keys: the input with its user id and Ed25519 key replaced
//   by ours, attested (attest_device_keys) and self-signed (sign_json), verifies for our address;
//   touching the attestation afterwards breaks the self-signature (bad_self_signature), and the
//   attestation is refused under a clock 121 s earlier (issued_in_future).
#include <array>
#include <cstdint>

#include <mrt/attestation.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>

#include "fuzz_common.hpp"

namespace {

using mrt::AttestationError;
using nlohmann::json;

constexpr std::int64_t kNow = 1732528800000 + 60'000;  // the vectors' issued_at + 1 min

const mrt::PrivateKey& eth_key() {
  static const mrt::PrivateKey key = [] {
    std::array<std::uint8_t, 32> secret;
    secret.fill(0x46);
    return mrt::PrivateKey::from_bytes(secret).value();
  }();
  return key;
}

const mrt::Ed25519Key& device_key() {
  static const mrt::Ed25519Key key = [] {
    std::array<std::uint8_t, mrt::Ed25519Key::kSeedSize> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
    return mrt::Ed25519Key::from_seed(seed);
  }();
  return key;
}

// Re-checks an accepted device independently of verify_device_attestation's own code path.
void check_accepted(const json& v, const mrt::Address& who) {
  FUZZ_CHECK(v.is_object());
  const std::string& user_id = v.at("user_id").get_ref<const std::string&>();
  const std::string& device_id = v.at("device_id").get_ref<const std::string&>();
  auto owner = mrt::address_of_user_id(user_id);
  FUZZ_CHECK(owner.ok() && *owner == who);

  const std::string key_id = "ed25519:" + device_id;
  auto public_key = mrt::parse_base64_unpadded(v.at("keys").at(key_id).get<std::string>());
  FUZZ_CHECK(public_key && public_key->size() == mrt::Ed25519Key::kPublicKeySize);
  FUZZ_CHECK(mrt::verify_json(v, user_id, key_id, *public_key).ok());

  const json& att = v.at(mrt::kAttestationField);
  FUZZ_CHECK(att.is_object() && att.size() == 3);
  FUZZ_CHECK(att.at("address").get<std::string>() == who.to_hex());
  const auto issued_at = att.at("issued_at").get<std::int64_t>();
  FUZZ_CHECK(issued_at >= 0 && issued_at <= kNow + mrt::kAttestationMaxSkewMs);
  auto payload = mrt::attestation_payload(v, who, issued_at);
  FUZZ_CHECK(payload.ok());
  auto signer = mrt::ecrecover(mrt::as_bytes(*payload), att.at("sig").get<std::string>());
  FUZZ_CHECK(signer.ok() && *signer == who);

  auto early = mrt::verify_device_attestation(v, issued_at - mrt::kAttestationMaxSkewMs - 1);
  FUZZ_CHECK(!early && early.error() == AttestationError::issued_in_future);
}

// The input made into one of our own devices, attested and signed: it must verify.
void check_round_trip(json v) {
  if (!v.is_object()) return;
  const auto id = v.find("device_id");
  if (id == v.end() || !id->is_string()) return;
  const std::string key_id = "ed25519:" + id->get<std::string>();
  const std::string user_id = mrt::matrix_user_id(eth_key().address(), "fuzz.example");
  v["user_id"] = user_id;
  if (!v["keys"].is_object()) v["keys"] = json::object();
  v["keys"][key_id] = mrt::base64_unpadded(device_key().public_key());
  v.erase(mrt::kAttestationField);
  v.erase("signatures");

  const std::int64_t issued_at = kNow - 1000;
  auto attested = mrt::attest_device_keys(v, eth_key(), issued_at);
  if (!attested) {
    // Only an object with no canonical form (a float or a big integer in "keys") can fail here.
    FUZZ_CHECK(attested.error() == AttestationError::malformed_device_keys);
    FUZZ_CHECK(!mrt::canonical_json(v["keys"]).ok());
    return;
  }
  auto signed_keys = mrt::sign_json(*attested, user_id, key_id, device_key());
  if (!signed_keys) {
    FUZZ_CHECK(!mrt::signing_payload(*attested).ok());
    return;
  }
  auto who = mrt::verify_device_attestation(*signed_keys, kNow);
  FUZZ_CHECK(who.ok() && *who == eth_key().address());
  check_accepted(*signed_keys, *who);

  json touched = *signed_keys;
  touched[mrt::kAttestationField]["issued_at"] = issued_at - 1;
  auto broken = mrt::verify_device_attestation(touched, kNow);
  FUZZ_CHECK(!broken && broken.error() == AttestationError::bad_self_signature);
}

void check_value(const json& v) {
  auto result = mrt::verify_device_attestation(v, kNow);
  if (result) check_accepted(v, *result);
  for (const mrt::Address& a : {eth_key().address(), mrt::Address{}}) {
    auto payload = mrt::attestation_payload(v, a, kNow);
    if (payload) FUZZ_CHECK(mrt::parse_json_strict(*payload).ok());
  }
  check_round_trip(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = mrt::fuzz::as_text(data, size);
  auto strict = mrt::parse_json_strict(text);
  if (strict) check_value(*strict);
  const json lenient = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!lenient.is_discarded() && (!strict || lenient != *strict)) check_value(lenient);
  return 0;
}
