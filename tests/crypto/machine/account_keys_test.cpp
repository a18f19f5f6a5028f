#include <mrt/attestation.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/owner_store_key.hpp>

#include "testing/machine_fixture.hpp"

namespace mrt::testing {
namespace {

TEST(AccountKeys, FirstUploadCarriesAttestedDeviceKeysAndFiftyOneTimeKeys) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  const json& keys = hub.device_keys[alice.user()]["ALICE"];
  EXPECT_EQ(verify_device_attestation(keys, clock.now).value(), alice.key().address());
  EXPECT_EQ(keys, alice.machine->device_keys());
  EXPECT_EQ(hub.otks[alice.user()]["ALICE"].size(), kOneTimeKeyTarget);
  ASSERT_EQ(hub.fallback[alice.user()]["ALICE"].size(), 1u);
  EXPECT_TRUE(hub.fallback[alice.user()]["ALICE"].begin()->at("fallback").get<bool>());
}

TEST(AccountKeys, OneTimeKeysAreToppedUpToFiftyFromTheSyncedCount) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  auto& otks = hub.otks[alice.user()]["ALICE"];
  for (int i = 0; i < 20; ++i) otks.erase(otks.begin());
  alice.sync();
  alice.flush();
  EXPECT_EQ(otks.size(), kOneTimeKeyTarget);
}

// What the next outgoing_requests() holds of `type`.
std::vector<OutgoingRequest> requests_of(E2eeMachine& machine, RequestType type) {
  std::vector<OutgoingRequest> out;
  for (auto& r : machine.outgoing_requests())
    if (r.type == type) out.push_back(std::move(r));
  return out;
}

TEST(AccountKeys, ARefusedUploadLeavesTheKeysUnpublishedAndIsTriedAgainLater) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  auto uploads = requests_of(*alice.machine, RequestType::keys_upload);
  ASSERT_EQ(uploads.size(), 1u);
  alice.machine->mark_request_as_failed(uploads[0].id, RequestFailure::permanent);
  EXPECT_TRUE(requests_of(*alice.machine, RequestType::keys_upload).empty())
      << "not hammered again at once";
  clock.now += kRefusedRequestRetryMs;
  uploads = requests_of(*alice.machine, RequestType::keys_upload);
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].body.at("device_keys"), alice.machine->device_keys())
      << "a refused upload did not publish the device keys";
}

TEST(AccountKeys, ATransientFailureKeepsTheRequestUnderItsId) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  const auto uploads = requests_of(*alice.machine, RequestType::keys_upload);
  ASSERT_EQ(uploads.size(), 1u);
  alice.machine->mark_request_as_failed(uploads[0].id, RequestFailure::transient);
  const auto again = requests_of(*alice.machine, RequestType::keys_upload);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, uploads[0].id);
}

TEST(AccountKeys, NothingIsUploadedWhileTheServerHoldsEnough) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  alice.sync();
  EXPECT_TRUE(alice.machine->outgoing_requests().empty());
}

TEST(AccountKeys, FallbackKeyIsReplacedOnceTheServerReportsItUsed) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  const json before = hub.fallback[alice.user()]["ALICE"];
  SyncChanges used;
  used.unused_fallback_key_types = std::vector<std::string>{};
  alice.machine->receive_sync_changes(used);
  alice.flush();
  EXPECT_NE(hub.fallback[alice.user()]["ALICE"], before);
}

TEST(AccountKeys, FallbackKeyIsRotatedWeekly) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  const json before = hub.fallback[alice.user()]["ALICE"];
  clock.now += kFallbackKeyLifetimeMs - 1;
  alice.flush();
  EXPECT_EQ(hub.fallback[alice.user()]["ALICE"], before);
  clock.now += 1;
  alice.flush();
  EXPECT_NE(hub.fallback[alice.user()]["ALICE"], before);
}

TEST(AccountKeys, ARestartKeepsTheDeviceAndItsKeys) {
  KeyHub hub;
  Clock clock;
  Peer alice("ALICE", hub, clock);
  alice.flush();
  const json keys = alice.machine->device_keys();
  alice.restart();
  EXPECT_EQ(alice.machine->device_keys(), keys);
  alice.sync();
  EXPECT_TRUE(alice.machine->outgoing_requests().empty());
}

TEST(AccountKeys, OpenRefusesAUserIdOfAnotherAddress) {
  const auto dir = fresh_dir("e2ee-open");
  const auto key = PrivateKey::generate();
  auto env = store::Env::open({.dir = dir, .tables = E2eeMachine::tables()}, store_key_for(key));
  ASSERT_TRUE(env);
  const auto other = PrivateKey::generate();
  auto machine = E2eeMachine::open(*env, key, matrix_user_id(other.address(), "hs"), "DEV");
  ASSERT_FALSE(machine);
  EXPECT_EQ(machine.error(), MachineOpenError::bad_user_id);
  std::filesystem::remove_all(dir);
}

TEST(AccountKeys, OpenRefusesTheStoredAccountOfAnotherDeviceId) {
  const auto dir = fresh_dir("e2ee-open");
  const auto key = PrivateKey::generate();
  auto env = store::Env::open({.dir = dir, .tables = E2eeMachine::tables()}, store_key_for(key));
  const auto user = matrix_user_id(key.address(), "hs");
  ASSERT_TRUE(E2eeMachine::open(*env, key, user, "FIRST"));
  auto second = E2eeMachine::open(*env, key, user, "SECOND");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), MachineOpenError::other_device);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mrt::testing
