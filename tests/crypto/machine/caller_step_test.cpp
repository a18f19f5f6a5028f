// A machine step written into the caller's store::Changes: nothing is durable, nor counted as
// seen, before the caller commits; reads inside the step see its own writes; a step that is
// dropped leaves the machine as the store has it.
#include <mrt/e2ee_machine.hpp>

#include "testing/machine_fixture.hpp"

namespace mrt::testing {
namespace {

class CallerStep : public AliceAndBob {
 protected:
  static SyncChanges with_events(std::vector<json> events) {
    SyncChanges changes;
    changes.to_device_events = json(std::move(events));
    return changes;
  }
};

TEST_F(CallerStep, ADecryptionInTheCallersStepWritesNothingBeforeItIsCommitted) {
  const json event = intercept();
  const auto before = bob.env().stats().writes;
  store::Changes step;
  const auto outcome = bob.machine->receive_sync_changes(with_events({event}), step);
  ASSERT_EQ(outcome.events.size(), 1u);
  EXPECT_FALSE(step.empty());
  EXPECT_EQ(bob.env().stats().writes, before);
  bob.env().commit_now(std::move(step));
  EXPECT_EQ(bob.env().stats().writes, before + 1) << "the whole step in one commit";
}

TEST_F(CallerStep, ManyEventsInOneStepCostOneCommit) {
  const json first = intercept({{"n", 1}});
  const json second = intercept({{"n", 2}});
  const json third = intercept({{"n", 3}});
  const auto before = bob.env().stats().writes;
  store::Changes step;
  const auto outcome = bob.machine->receive_sync_changes(with_events({first, second, third}), step);
  EXPECT_EQ(outcome.events.size(), 3u);
  bob.env().commit_now(std::move(step));
  EXPECT_EQ(bob.env().stats().writes, before + 1);
}

TEST_F(CallerStep, TheSameOlmMessageTwiceInOneStepIsAReplay) {
  const json event = intercept();
  store::Changes step;
  const auto outcome = bob.machine->receive_sync_changes(with_events({event, event}), step);
  EXPECT_EQ(outcome.events.size(), 1u);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::replayed);
}

TEST_F(CallerStep, AMessageOfADroppedStepIsNotSeenAndDecryptsAgain) {
  const json event = intercept();
  {
    store::Changes step;
    ASSERT_EQ(bob.machine->receive_sync_changes(with_events({event}), step).events.size(), 1u);
  }  // dropped: a crash before the node's commit, as far as the store knows
  const auto again = bob.machine->receive_sync_changes(with_events({event}));
  ASSERT_EQ(again.events.size(), 1u) << "not recorded as seen, not lost";
  EXPECT_EQ(again.events[0].content, kHello);
}

TEST_F(CallerStep, ACommittedStepsMessageIsAReplayAfterARestart) {
  const json event = intercept();
  store::Changes step;
  ASSERT_EQ(bob.machine->receive_sync_changes(with_events({event}), step).events.size(), 1u);
  bob.env().commit_now(std::move(step));
  bob.restart();
  const auto again = bob.machine->receive_sync_changes(with_events({event}));
  ASSERT_EQ(again.rejected.size(), 1u);
  EXPECT_EQ(again.rejected[0].reason, ToDeviceError::replayed);
}

TEST_F(CallerStep, AnEncryptionInADroppedStepIsForgottenAndNothingIsQueued) {
  send_to_device(alice, bob, kEnvelopes, kHello);  // a session exists
  const auto before = alice.machine->outgoing_requests().size();
  {
    store::Changes step;
    const auto share = alice.machine->encrypt_to_device(bob.user(), kEnvelopes, kHello, step);
    ASSERT_EQ(share.sent.size(), 1u);
  }
  EXPECT_EQ(alice.machine->outgoing_requests().size(), before)
      << "a request whose ratchet step is not durable must not leave";
  // The session goes on from the stored ratchet: the next message still reaches bob.
  const auto outcome = send_to_device(alice, bob, kEnvelopes, {{"after", "drop"}});
  ASSERT_EQ(outcome.events.size(), 1u);
  EXPECT_EQ(outcome.events[0].content, json({{"after", "drop"}}));
}

}  // namespace
}  // namespace mrt::testing
