// E2eeDriver: the machine's requests between the node and its homeserver, driven by hand with
// a real machine on a real store and answers from the in-memory key hub.
#include "e2ee_driver.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "testing/machine_fixture.hpp"

namespace mrt::transport {
namespace {

using testing::AliceAndBob;
using testing::Peer;

MatrixResult http_error(long status) {
  return fail(MatrixError{MatrixErrorKind::http, status, "M_UNKNOWN", "", std::nullopt, ""});
}

bool names(const std::vector<OutgoingRequest>& requests, const std::string& id) {
  return std::any_of(requests.begin(), requests.end(),
                     [&](const OutgoingRequest& r) { return r.id == id; });
}

class E2eeDriverTest : public AliceAndBob {
 protected:
  // Alice's payload for bob, queued as one to-device request (keys fetched on the way).
  ShareOutcome encrypt_for_bob() {
    ShareOutcome outcome;
    for (int attempt = 0; attempt < 4 && (attempt == 0 || !outcome.complete()); ++attempt) {
      alice.flush();
      outcome = alice.machine->encrypt_to_device(bob.user(), kEnvelopes, kHello);
    }
    EXPECT_EQ(outcome.requests.size(), 1u);
    return outcome;
  }
  // Bob's /sync with the to-device events the hub holds for him, through a driver.
  E2eeDriver::Received bob_receives(E2eeDriver& bobs) {
    SyncChanges changes;
    auto& queue = hub.inbox[bob.user()][bob.device()];
    changes.to_device_events = nlohmann::json(queue);
    queue.clear();
    store::Changes step;
    auto received = bobs.receive(changes, step, clock.now);
    bob.env().commit_now(std::move(step));
    return received;
  }
  // Alice's first contact with bob, queued in the hub: a pre-key message.
  void first_contact(Peer& from) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      from.flush();
      if (from.machine->encrypt_to_device(bob.user(), kEnvelopes, kHello).complete()) break;
    }
    from.flush();
  }
  const Address bob_address = bob.key().address();
  E2eeDriver driver{*alice.machine, {}};
};

TEST_F(E2eeDriverTest, ARequestOnItsWayIsNotDueAgain) {
  const std::string id = encrypt_for_bob().requests.at(0);
  const auto first = driver.due(0);
  ASSERT_TRUE(names(first, id));
  driver.sending(id);
  EXPECT_FALSE(names(driver.due(0), id));
}

TEST_F(E2eeDriverTest, APeerIsHeldUntilTheRequestCarryingItsPayloadIsAnswered) {
  const auto outcome = encrypt_for_bob();
  driver.carry(bob_address, outcome.requests);
  EXPECT_TRUE(driver.holds(bob_address));
  const auto due = driver.due(0);
  ASSERT_EQ(due.size(), 1u);
  driver.sending(due[0].id);
  EXPECT_TRUE(driver.holds(bob_address)) << "in flight";
  const nlohmann::json answer = hub.handle(alice.user(), alice.device(), due[0]);
  EXPECT_EQ(driver.done(due[0].id, answer, 0), E2eeDriver::Answer::sent);
  EXPECT_FALSE(driver.holds(bob_address));
  EXPECT_FALSE(driver.holds_any());
  EXPECT_EQ(hub.inbox[bob.user()][bob.device()].size(), 1u);
}

TEST_F(E2eeDriverTest, NoAnswerA5xxA429OrA401BringTheRequestBackAfterTheRetryDelay) {
  const std::string id = encrypt_for_bob().requests.at(0);
  driver.carry(bob_address, {id});
  const MatrixResult failures[] = {
      fail(MatrixError{MatrixErrorKind::network, 0, "", "refused", std::nullopt, ""}),
      http_error(502), http_error(429), http_error(401)};
  std::int64_t now = 1000;
  for (const auto& failure : failures) {
    driver.sending(id);
    EXPECT_EQ(driver.done(id, failure, now), E2eeDriver::Answer::retry);
    EXPECT_TRUE(driver.holds(bob_address));
    EXPECT_FALSE(names(driver.due(now + E2eeDriver::kRetryMs - 1), id));
    now += E2eeDriver::kRetryMs;
    EXPECT_TRUE(names(driver.due(now), id));
  }
}

TEST_F(E2eeDriverTest, AClientErrorFailsTheRequestForGoodAndReleasesThePeer) {
  const std::string id = encrypt_for_bob().requests.at(0);
  driver.carry(bob_address, {id});
  driver.sending(id);
  EXPECT_EQ(driver.done(id, http_error(400), 0), E2eeDriver::Answer::refused);
  EXPECT_FALSE(driver.holds(bob_address));
  EXPECT_FALSE(names(alice.machine->outgoing_requests(), id)) << "never sent again";
  EXPECT_FALSE(names(driver.due(1'000'000), id));
}

TEST_F(E2eeDriverTest, TheMachinesWritesFromAnAnswerWaitForTheCallersCommit) {
  const auto due = driver.due(0);
  ASSERT_TRUE(due.empty()) << "alice's keys are up";
  alice.machine->update_tracked_users({bob.user()});
  const auto query = driver.due(0);
  ASSERT_EQ(query.size(), 1u);
  EXPECT_EQ(query[0].type, RequestType::keys_query);
  driver.sending(query[0].id);
  driver.done(query[0].id, hub.handle(alice.user(), alice.device(), query[0]), 0);
  EXPECT_FALSE(driver.answers().empty()) << "bob's devices, to be committed with the next step";
  alice.env().commit_now(std::exchange(driver.answers(), {}));
  EXPECT_TRUE(driver.answers().empty());
}

TEST_F(E2eeDriverTest, AbandonReleasesPeersWhoseRequestsTheReloadedMachineNoLongerHas) {
  const Address carol = PrivateKey::generate().address();
  driver.carry(bob_address, {"gone-and-idle"});
  driver.carry(carol, {"gone-but-in-flight"});
  driver.sending("gone-but-in-flight");
  driver.abandon();
  EXPECT_FALSE(driver.holds(bob_address));
  EXPECT_TRUE(driver.holds(carol)) << "its answer releases it";
  driver.done("gone-but-in-flight", http_error(400), 0);
  EXPECT_FALSE(driver.holds(carol));
}

TEST_F(E2eeDriverTest, APreKeyMessageWithinTheSenderKeysBudgetOpensASession) {
  E2eeDriver bobs(*bob.machine, {.per_sender_key = 1});
  first_contact(alice);
  const auto received = bob_receives(bobs);
  EXPECT_EQ(received.throttled, 0u);
  ASSERT_EQ(received.outcome.events.size(), 1u);
  EXPECT_EQ(received.outcome.events[0].content, kHello);
}

TEST_F(E2eeDriverTest, APreKeyMessageOverTheSenderKeysBudgetIsDroppedUnread) {
  E2eeDriver bobs(*bob.machine, {.per_sender_key = 0});
  first_contact(alice);
  const auto received = bob_receives(bobs);
  EXPECT_EQ(received.throttled, 1u);
  EXPECT_TRUE(received.outcome.events.empty());
  EXPECT_TRUE(received.outcome.rejected.empty()) << "not even decrypted";
}

TEST_F(E2eeDriverTest, ASendersRepeatedPreKeyMessagesOfOneSessionCountOnce) {
  E2eeDriver bobs(*bob.machine, {.per_sender_key = 1});
  first_contact(alice);
  alice.machine->encrypt_to_device(bob.user(), kEnvelopes, {{"second", 2}});
  alice.flush();  // bob has not answered: a pre-key message again, of the same session
  ASSERT_EQ(hub.inbox[bob.user()][bob.device()].size(), 2u);
  const auto received = bob_receives(bobs);
  EXPECT_EQ(received.throttled, 0u);
  EXPECT_EQ(received.outcome.events.size(), 2u);
}

TEST_F(E2eeDriverTest, AnotherSenderKeyHasABudgetOfItsOwn) {
  E2eeDriver bobs(*bob.machine, {.per_sender_key = 1});
  Peer carol{"CAROL", hub, clock};
  carol.flush();
  first_contact(alice);
  first_contact(carol);
  const auto received = bob_receives(bobs);
  EXPECT_EQ(received.throttled, 0u);
  EXPECT_EQ(received.outcome.events.size(), 2u);
}

TEST_F(E2eeDriverTest, AMatrixUsersNewSessionsAreBoundedWhateverKeysItMakesUp) {
  E2eeDriver bobs(*bob.machine, {.per_sender_key = 1, .per_user = 1});
  Peer second_device{"ALICE2", hub, clock, &alice.key()};  // alice's user, another sender key
  second_device.flush();
  first_contact(alice);
  first_contact(second_device);
  const auto received = bob_receives(bobs);
  EXPECT_EQ(received.throttled, 1u);
  EXPECT_EQ(received.outcome.events.size(), 1u);
}

TEST_F(E2eeDriverTest, AllSendersTogetherOpenNoMoreThanTheNodesHourlyBudget) {
  E2eeDriver bobs(*bob.machine, {.total = 1});
  Peer carol{"CAROL", hub, clock};
  carol.flush();
  first_contact(alice);
  first_contact(carol);
  EXPECT_EQ(bob_receives(bobs).throttled, 1u);
  clock.now += RollingWindow::kHourMs;
  first_contact(carol);
  EXPECT_EQ(bob_receives(bobs).throttled, 0u) << "an hour later";
}

}  // namespace
}  // namespace mrt::transport
