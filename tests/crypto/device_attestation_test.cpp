#include <gtest/gtest.h>

#include <mrt/attestation.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kNow = 1732528800000;

class DeviceAttestation : public ::testing::Test {
 protected:
  PrivateKey eth = PrivateKey::generate();
  Ed25519Key device = Ed25519Key::generate();
  std::string user_id = matrix_user_id(eth.address(), "localhost");

  json unsigned_keys() const {
    return {{"algorithms", {"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
            {"device_id", "DEVICEID"},
            {"keys",
             {{"curve25519:DEVICEID", base64_unpadded(Bytes(32, 7))},
              {"ed25519:DEVICEID", base64_unpadded(device.public_key())}}},
            {"user_id", user_id}};
  }
  json self_sign(json keys) const {
    return sign_json(std::move(keys), user_id, "ed25519:DEVICEID", device).value();
  }
  json attested(std::int64_t issued_at = kNow) const {
    return self_sign(attest_device_keys(unsigned_keys(), eth, issued_at).value());
  }
  AttestationError refusal(const json& keys) const {
    auto r = verify_device_attestation(keys, kNow);
    EXPECT_FALSE(r);
    return r ? AttestationError{} : r.error();
  }
};

TEST_F(DeviceAttestation, AttestedDeviceVerifiesForItsAddress) {
  auto who = verify_device_attestation(attested(), kNow);
  ASSERT_TRUE(who) << to_string(who.error());
  EXPECT_EQ(*who, eth.address());
}

TEST_F(DeviceAttestation, AttestationHasExactlyAddressIssuedAtAndSig) {
  const json att = attested()[kAttestationField];
  EXPECT_EQ(att.size(), 3u);
  EXPECT_EQ(att["address"], eth.address().to_hex());
  EXPECT_EQ(att["issued_at"], kNow);
}

TEST_F(DeviceAttestation, SignsTheCanonicalPayload) {
  const json keys = attested();
  const std::string payload = attestation_payload(keys, eth.address(), kNow).value();
  EXPECT_EQ(payload.rfind("{\"address\":\"" + eth.address().to_hex() + "\",\"device_id\"", 0), 0u);
  EXPECT_EQ(*ecrecover(as_bytes(payload), keys[kAttestationField]["sig"].get<std::string>()),
            eth.address());
}

TEST_F(DeviceAttestation, AttestationAddedAfterTheSelfSignatureIsRefused) {
  json keys = attest_device_keys(self_sign(unsigned_keys()), eth, kNow).value();
  EXPECT_EQ(refusal(keys), AttestationError::bad_self_signature);
}

TEST_F(DeviceAttestation, UnsignedMayChange) {
  json keys = attested();
  keys["unsigned"] = {{"device_display_name", "x"}};
  EXPECT_TRUE(verify_device_attestation(keys, kNow));
}

TEST_F(DeviceAttestation, ChangedKeysBreakTheSelfSignature) {
  json keys = attested();
  keys["keys"]["curve25519:DEVICEID"] = base64_unpadded(Bytes(32, 8));
  EXPECT_EQ(refusal(keys), AttestationError::bad_self_signature);
}

TEST_F(DeviceAttestation, MissingAttestationIsReported) {
  EXPECT_EQ(refusal(self_sign(unsigned_keys())), AttestationError::missing_attestation);
}

TEST_F(DeviceAttestation, ExtraAttestationFieldIsMalformed) {
  json keys = attest_device_keys(unsigned_keys(), eth, kNow).value();
  keys[kAttestationField]["extra"] = 1;
  EXPECT_EQ(refusal(self_sign(keys)), AttestationError::malformed_attestation);
}

TEST_F(DeviceAttestation, IssuedMoreThan120SecondsAheadIsRefused) {
  EXPECT_TRUE(verify_device_attestation(attested(kNow + 120'000), kNow));
  EXPECT_EQ(refusal(attested(kNow + 120'001)), AttestationError::issued_in_future);
}

TEST_F(DeviceAttestation, OldAttestationsDoNotExpire) {
  EXPECT_TRUE(verify_device_attestation(attested(1), kNow));
}

TEST_F(DeviceAttestation, AnotherAddressThanTheLocalpartIsRefused) {
  const PrivateKey other = PrivateKey::generate();
  json keys = unsigned_keys();
  keys[kAttestationField] = attest_device_keys(
                                [&] {
                                  json k = unsigned_keys();
                                  k["user_id"] = matrix_user_id(other.address(), "localhost");
                                  return k;
                                }(),
                                other, kNow)
                                .value()[kAttestationField];
  EXPECT_EQ(refusal(self_sign(keys)), AttestationError::address_mismatch);
}

TEST_F(DeviceAttestation, ASignatureOverAnotherUserIdIsRefused) {
  json elsewhere = unsigned_keys();
  elsewhere["user_id"] = matrix_user_id(eth.address(), "rogue.example.org");
  json keys = unsigned_keys();
  keys[kAttestationField] = attest_device_keys(elsewhere, eth, kNow).value()[kAttestationField];
  EXPECT_EQ(refusal(self_sign(keys)), AttestationError::bad_attestation_signature);
}

TEST_F(DeviceAttestation, AttestingForAnotherUsersDeviceIsRefused) {
  EXPECT_EQ(attest_device_keys(unsigned_keys(), PrivateKey::generate(), kNow).error(),
            AttestationError::address_mismatch);
}

TEST_F(DeviceAttestation, MalformedDeviceKeysAreReported) {
  EXPECT_EQ(refusal(json::array()), AttestationError::malformed_device_keys);
  json keys = attested();
  keys.erase("device_id");
  EXPECT_EQ(refusal(keys), AttestationError::malformed_device_keys);
}

}  // namespace
}  // namespace mrt
