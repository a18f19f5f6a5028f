#include <mrt/attestation.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_signing.hpp>

#include "testing/machine_fixture.hpp"

namespace mrt::testing {
namespace {

// Device keys made by hand, for the devices a real machine would never publish.
json device_keys_of(const std::string& user, const std::string& device, const Ed25519Key& ed) {
  const auto curve = Ed25519Key::generate();  // any 32 bytes serve as a Curve25519 key here
  return {{"algorithms", {kOlmAlgorithm, kMegolmAlgorithm}},
          {"device_id", device},
          {"keys",
           {{"curve25519:" + device, base64_unpadded(curve.public_key())},
            {"ed25519:" + device, base64_unpadded(ed.public_key())}}},
          {"user_id", user}};
}

json self_signed(json keys, const Ed25519Key& ed) {
  const std::string user = keys["user_id"], device = keys["device_id"];
  return sign_json(std::move(keys), user, "ed25519:" + device, ed).value();
}

class DeviceTracking : public ::testing::Test {
 protected:
  // Publishes `keys` as bob's device and returns what alice's machine makes of it.
  DeviceInfo classified(const json& keys) {
    const std::string device = keys["device_id"];
    hub.device_keys[bob_user][device] = keys;
    alice.machine->update_tracked_users({bob_user});
    alice.sync({bob_user});
    alice.flush();
    for (auto& info : alice.machine->devices_of(bob_user)) {
      if (info.device_id == device) return info;
    }
    ADD_FAILURE() << "device not listed";
    return {};
  }

  KeyHub hub;
  Clock clock;
  Peer alice{"ALICE", hub, clock};
  PrivateKey bob_key = PrivateKey::generate();
  std::string bob_user = matrix_user_id(bob_key.address(), "hs.test");
  Ed25519Key ed = Ed25519Key::generate();
};

TEST_F(DeviceTracking, AnAttestedDeviceCarriesItsAddress) {
  auto keys = attest_device_keys(device_keys_of(bob_user, "BOB", ed), bob_key, clock.now).value();
  const auto info = classified(self_signed(std::move(keys), ed));
  EXPECT_EQ(info.trust, DeviceTrust::attested);
  EXPECT_EQ(info.address, bob_key.address());
}

TEST_F(DeviceTracking, ADeviceWithoutAttestationIsNotAttested) {
  const auto info = classified(self_signed(device_keys_of(bob_user, "BOB", ed), ed));
  EXPECT_EQ(info.trust, DeviceTrust::not_attested);
  EXPECT_FALSE(info.address);
}

TEST_F(DeviceTracking, AnAttestationByAnotherEthereumKeyIsInvalid) {
  auto keys = device_keys_of(bob_user, "BOB", ed);
  const auto mallory = PrivateKey::generate();
  const auto payload = attestation_payload(keys, bob_key.address(), clock.now).value();
  keys[kAttestationField] = {{"address", bob_key.address().to_hex()},
                             {"issued_at", clock.now},
                             {"sig", personal_sign(mallory, as_bytes(payload)).to_hex()}};
  const auto info = classified(self_signed(std::move(keys), ed));
  EXPECT_EQ(info.trust, DeviceTrust::invalid);
  EXPECT_EQ(info.problem, AttestationError::bad_attestation_signature);
}

TEST_F(DeviceTracking, AnAttestationForAnotherAddressIsInvalid) {
  auto keys = device_keys_of(bob_user, "BOB", ed);
  const auto mallory = PrivateKey::generate();
  const auto payload = attestation_payload(keys, mallory.address(), clock.now).value();
  keys[kAttestationField] = {{"address", mallory.address().to_hex()},
                             {"issued_at", clock.now},
                             {"sig", personal_sign(mallory, as_bytes(payload)).to_hex()}};
  const auto info = classified(self_signed(std::move(keys), ed));
  EXPECT_EQ(info.trust, DeviceTrust::invalid);
  EXPECT_EQ(info.problem, AttestationError::address_mismatch);
}

TEST_F(DeviceTracking, KeysChangedAfterTheAttestationAreInvalid) {
  auto keys = attest_device_keys(device_keys_of(bob_user, "BOB", ed), bob_key, clock.now).value();
  keys["keys"]["curve25519:BOB"] = base64_unpadded(Ed25519Key::generate().public_key());
  const auto info = classified(self_signed(std::move(keys), ed));
  EXPECT_EQ(info.trust, DeviceTrust::invalid);
  EXPECT_EQ(info.problem, AttestationError::bad_attestation_signature);
}

TEST_F(DeviceTracking, KeysChangedAfterTheSelfSignatureAreInvalid) {
  auto keys = attest_device_keys(device_keys_of(bob_user, "BOB", ed), bob_key, clock.now).value();
  keys = self_signed(std::move(keys), ed);
  keys["keys"]["curve25519:BOB"] = base64_unpadded(Ed25519Key::generate().public_key());
  const auto info = classified(keys);
  EXPECT_EQ(info.trust, DeviceTrust::invalid);
  EXPECT_EQ(info.problem, AttestationError::bad_self_signature);
}

TEST_F(DeviceTracking, ADeviceFiledUnderAnotherIdIsInvalid) {
  auto keys = self_signed(device_keys_of(bob_user, "BOB", ed), ed);
  hub.device_keys[bob_user]["OTHER"] = keys;
  alice.machine->update_tracked_users({bob_user});
  alice.flush();
  const auto devices = alice.machine->devices_of(bob_user);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].trust, DeviceTrust::invalid);
}

TEST_F(DeviceTracking, AKnownDeviceWhoseKeysChangeKeepsItsFirstKeys) {
  auto first = attest_device_keys(device_keys_of(bob_user, "BOB", ed), bob_key, clock.now).value();
  const auto before = classified(self_signed(std::move(first), ed));
  const auto ed2 = Ed25519Key::generate();
  auto second =
      attest_device_keys(device_keys_of(bob_user, "BOB", ed2), bob_key, clock.now).value();
  const auto after = classified(self_signed(std::move(second), ed2));
  EXPECT_EQ(after.ed25519, before.ed25519);
  EXPECT_EQ(after.curve25519, before.curve25519);
}

TEST_F(DeviceTracking, ADeletedDeviceIsForgotten) {
  classified(self_signed(device_keys_of(bob_user, "BOB", ed), ed));
  hub.device_keys[bob_user].clear();
  alice.sync({bob_user});
  alice.flush();
  EXPECT_TRUE(alice.machine->devices_of(bob_user).empty());
}

TEST_F(DeviceTracking, DevicesSurviveARestart) {
  auto keys = attest_device_keys(device_keys_of(bob_user, "BOB", ed), bob_key, clock.now).value();
  classified(self_signed(std::move(keys), ed));
  alice.restart();
  const auto devices = alice.machine->devices_of(bob_user);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].trust, DeviceTrust::attested);
  EXPECT_TRUE(alice.machine->outgoing_requests().empty());
}

TEST_F(DeviceTracking, AChangeOfAnUntrackedUserIsIgnored) {
  alice.flush();
  alice.sync({bob_user});
  EXPECT_TRUE(alice.machine->outgoing_requests().empty());
}

}  // namespace
}  // namespace mrt::testing
