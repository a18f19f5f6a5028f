// Fuzz target: Matrix JSON signature verification (spec appendix "Signing JSON"; the check that
// PROTOCOL.md §3 device self-signatures rely on), with a fixed Ed25519 key.
//
// Input: JSON text, parsed by parse_json_strict and, independently, by nlohmann's lenient
// parser (which lets floats, big integers, -0 and duplicate keys through, as a value built by
// other code could hold them). The key is Ed25519Key::from_seed(0x00 0x01 … 0x1f) for user
// kUserId and key id kKeyId (fuzz/seeds.mjs signs its seeds with the same key). Properties:
// - verify_json never crashes or throws, whatever the value;
// - a value that verifies is an object with a canonical signing payload, and its signature is
//   the one the key makes over that payload (Ed25519 here is deterministic: a verifying
//   signature that differs would be a forgery or a malleability bug);
// - sign_json then verify_json succeeds for every object that has a canonical form, the
//   signature lands at signatures[user][key id], and the same signature does not verify for
//   another public key;
// - verify_json refuses non-objects as not_object, and objects with no canonical form as
//   not_canonical (never as a verified signature).
#include <array>
#include <cstdint>

#include <mrt/canonical_json.hpp>
#include <mrt/matrix_signing.hpp>

#include "fuzz_common.hpp"

namespace {

constexpr std::string_view kUserId = "@0x00000000000000000000000000000000000000aa:fuzz.example";
constexpr std::string_view kKeyId = "ed25519:FUZZDEV";

const mrt::Ed25519Key& fuzz_key() {
  static const mrt::Ed25519Key key = [] {
    std::array<std::uint8_t, mrt::Ed25519Key::kSeedSize> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
    return mrt::Ed25519Key::from_seed(seed);
  }();
  return key;
}

const mrt::Ed25519Key& other_key() {
  static const mrt::Ed25519Key key = [] {
    std::array<std::uint8_t, mrt::Ed25519Key::kSeedSize> seed{};
    seed.fill(0x42);
    return mrt::Ed25519Key::from_seed(seed);
  }();
  return key;
}

void check_value(const nlohmann::json& value) {
  const auto& key = fuzz_key();
  auto verified = mrt::verify_json(value, kUserId, kKeyId, key.public_key());
  auto payload = mrt::signing_payload(value);
  if (!value.is_object()) {
    FUZZ_CHECK(!verified && verified.error() == mrt::JsonSignatureError::not_object);
    FUZZ_CHECK(!payload);
    return;
  }
  if (verified) {
    FUZZ_CHECK(payload.ok());
    const auto& text = value["signatures"][std::string(kUserId)][std::string(kKeyId)];
    auto sig = mrt::parse_base64_unpadded(text.get<std::string>());
    FUZZ_CHECK(sig && sig->size() == mrt::Ed25519Key::kSignatureSize);
    const auto expected = key.sign(mrt::as_bytes(*payload));
    FUZZ_CHECK(std::equal(sig->begin(), sig->end(), expected.begin(), expected.end()));
  } else if (!payload) {
    // Signing-payload failures are reported as not_canonical once a signature is present.
    FUZZ_CHECK(verified.error() != mrt::JsonSignatureError::bad_signature);
  }
  // Nothing verifies under another public key (no seed carries a signature by that key).
  auto other = mrt::verify_json(value, kUserId, kKeyId, other_key().public_key());
  FUZZ_CHECK(!other);

  // A "signatures" member (or its entry for kUserId) that is not an object is refused, not
  // overwritten (it threw nlohmann::type_error before c4b2cf7; tests/fuzz_regressions/).
  const auto sigs = value.find("signatures");
  const bool bad_shape = sigs != value.end() && !sigs->is_null() &&
                         (!sigs->is_object() || (sigs->contains(std::string(kUserId)) &&
                                                 !(*sigs)[std::string(kUserId)].is_object() &&
                                                 !(*sigs)[std::string(kUserId)].is_null()));
  auto signed_value = mrt::sign_json(value, kUserId, kKeyId, key);
  if (bad_shape) {
    FUZZ_CHECK(!signed_value);
    return;
  }
  FUZZ_CHECK(signed_value.ok() == payload.ok());
  if (!signed_value) return;
  auto payload_after = mrt::signing_payload(*signed_value);
  FUZZ_CHECK(payload_after.ok() && *payload_after == *payload);
  FUZZ_CHECK(mrt::verify_json(*signed_value, kUserId, kKeyId, key.public_key()).ok());
  auto by_other = mrt::verify_json(*signed_value, kUserId, kKeyId, other_key().public_key());
  FUZZ_CHECK(!by_other && by_other.error() == mrt::JsonSignatureError::bad_signature);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = mrt::fuzz::as_text(data, size);
  auto strict = mrt::parse_json_strict(text);
  if (strict) check_value(*strict);
  const nlohmann::json lenient = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!lenient.is_discarded() && (!strict || lenient != *strict)) check_value(lenient);
  return 0;
}
