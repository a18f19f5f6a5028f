// Node scenarios in process and in virtual time: node workers run by the test against dev
// homeservers in the same process (testing/homeserver_hub.hpp, testing/driven_node.hpp). What
// takes seconds of resends and timeouts against `mrt serve` takes milliseconds here.
#include <gtest/gtest.h>

#include "node_pair_scenario.hpp"

namespace mrt::testing {
namespace {

using Scenario = NodePairScenario;

TEST_F(Scenario, AMessageIsDeliveredOnceAndAcked) {
  start(Carrier::to_device);
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
  EXPECT_EQ(high->events().front().body, "hello");
  EXPECT_EQ(low->stats().resent, 0u);
}

TEST_F(Scenario, ALostSendIsResentAfterTheInitialDelayAndArrivesOnce) {
  start(Carrier::to_device);
  hub.lose_next("/sendToDevice/", 1);
  const std::int64_t sent_at = hub.clock().steady_ms;
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
  EXPECT_EQ(low->stats().resent, 1u);
  EXPECT_GE(hub.clock().steady_ms - sent_at, NodeConfig{}.resend_initial.count());
}

TEST_F(Scenario, AMessageNobodyAcksFailsAfterMaxAgeAndNoEarlier) {
  NodeConfig config;
  config.limits.max_age_ms = 600'000;
  start(Carrier::to_device, config);
  hub.lose_next("/sendToDevice/", 1'000'000);
  const std::int64_t sent_at = hub.clock().wall_ms;
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::failed) == 1; }, 700'000));
  EXPECT_GT(hub.clock().wall_ms - sent_at, config.limits.max_age_ms);
  EXPECT_EQ(high->count(NodeEventType::message), 0u);
  // Resent after 2, 6, 14, 30, 62 s, then every 60 s until 542 s: 13 times.
  EXPECT_EQ(low->stats().resent, 13u);
}

// After an outage every message of a backlog falls due at once. Resent all together, they would
// go over the receiver's budget for the sender (PROTOCOL §4 rule 8: 200/s, 2,000 at once), be
// refused unacked, and wait a doubled delay; paced, none is refused.
TEST_F(Scenario, ABacklogThatFallsDueAtOnceIsResentWithinTheReceiversBudget) {
  start(Carrier::to_device);
  hub.take_down(kServer);
  std::vector<std::string> bodies(3000, "balance proof");
  ASSERT_TRUE(low->node().send_many(high->address(), bodies));
  idle(20'000);
  hub.bring_up(kServer);
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 3000; }, 120'000));
  EXPECT_EQ(high->count(NodeEventType::message), 3000u);
  EXPECT_EQ(high->stats().rejected[RejectReason::rate_limited], 0u);
}

TEST_F(Scenario, ALostAckBringsAResendThatIsAckedAgainAndHandedOverOnce) {
  start(Carrier::to_device);
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return high->count(NodeEventType::message) == 1; }));
  hub.lose_next("/sendToDevice/", 1);  // high's ack
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(low->stats().resent, 1u);
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
  EXPECT_EQ(high->stats().rejected[RejectReason::replay], 1u);
  EXPECT_EQ(high->stats().acks_sent, 2u);
}

TEST_F(Scenario, CopiesThatArriveTogetherAreAckedWithEachNonceOnce) {
  start(Carrier::to_device);
  low->send(high->address(), "hello");
  // The receiver is away while the sender resends (at 2, 6, 14, 30 and 62 s): six copies wait.
  ASSERT_FALSE(run_until(
      hub, {low.get()}, [] { return false; }, 70'000));
  ASSERT_EQ(low->stats().resent, 5u);
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }, 1'000))
      << "PROTOCOL §4: an ack holds no nonce twice, or it is malformed and dropped whole";
  EXPECT_EQ(low->stats().rejected[RejectReason::malformed], 0u);
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
  EXPECT_EQ(high->stats().rejected[RejectReason::replay], 5u);
}

TEST_F(Scenario, AServerErrorOnASendIsRetriedAndTheMessageArrivesOnce) {
  start(Carrier::to_device);
  hub.refuse_next("/sendToDevice/", 2, 502, "M_UNKNOWN");
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
}

TEST_F(Scenario, SyncsThatFailBackOffAndResume) {
  start(Carrier::to_device);
  idle(100);  // both long-poll now
  hub.refuse_next("/sync", 4, 502, "M_UNKNOWN");
  // The long-polls time out at 30 s; the next two /sync of each node fail, 500 ms apart, then
  // each long-polls again.
  idle(40'000);
  EXPECT_EQ(hub.requests("/sync"), 2u + 2u + 4u + 2u) << "no tight loop";
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
}

TEST_F(Scenario, TheRoomCarrierMovesToTheDmRoomOnceBothJoined) {
  start(Carrier::room);
  low->send(high->address(), "first");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  ASSERT_TRUE(run([&] { return hub.requests("/join/") > 0; }, 5'000)) << "high joins the room";
  idle(1'000);
  low->send(high->address(), "second");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 2; }));
  ASSERT_EQ(high->count(NodeEventType::message), 2u);
  EXPECT_EQ(high->events().back().carrier, Carrier::room);
}

// A federation may hand over the Megolm key (to-device) after the room event that needs it: the
// event is held and decrypted when the key comes, not dropped to wait for the sender's resend.
TEST_F(Scenario, ARoomEventThatCameBeforeItsKeyIsDecryptedWhenTheKeyArrives) {
  start(Carrier::room);
  low->send(high->address(), "first");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  ASSERT_TRUE(run([&] { return hub.requests("/join/") > 0; }, 5'000)) << "high joins the room";
  idle(1'000);
  const std::int64_t key_delay = NodeConfig{}.resend_initial.count() * 3 / 4;
  hub.delay_next("/sendToDevice/", 1, key_delay);  // the room key
  const std::int64_t sent_at = hub.clock().steady_ms;
  low->send(high->address(), "second");
  ASSERT_TRUE(run([&] { return high->count(NodeEventType::message) == 2; }));
  EXPECT_EQ(high->events().back().carrier, Carrier::room);
  EXPECT_EQ(high->stats().undecryptable_room[RoomEventError::unknown_session], 1u);
  EXPECT_GE(hub.clock().steady_ms - sent_at, key_delay);
  EXPECT_EQ(low->stats().resent, 0u) << "decrypted when the key came, not from a resend";
}

// PROTOCOL §5: one Matrix payload carries many envelopes (at most 40,000 bytes of them), so a
// burst costs few sends; each message arrives once, in the order sent.
class BurstScenario : public Scenario, public ::testing::WithParamInterface<Carrier> {};

TEST_P(BurstScenario, ABurstOfAThousandArrivesOnceInOrderInFewPayloads) {
  start(GetParam());
  if (GetParam() == Carrier::room) {
    // Until the DM room is ready, messages go over to_device.
    low->send(high->address(), "opens the room");
    ASSERT_TRUE(run([&] { return high->count(NodeEventType::message) == 1; }));
    ASSERT_TRUE(run([&] { return hub.requests("/join/") > 0; }, 5'000));
    idle(1'000);
  }
  const std::size_t before = high->count(NodeEventType::message);
  const std::uint64_t payloads = low->stats().payloads;
  std::vector<std::string> sent;
  for (int i = 0; i < 1000; ++i) sent.push_back(low->send(high->address(), std::to_string(i)));
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == before + 1000; }));
  std::vector<std::string> got;
  for (const auto& e : high->events())
    if (e.type == NodeEventType::message) got.push_back(e.id);
  got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(before));
  EXPECT_EQ(got, sent);
  EXPECT_LT(low->stats().payloads - payloads, 100u) << "batched";
  EXPECT_EQ(low->stats().resent, 0u);
  EXPECT_EQ(high->events().back().carrier, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Carriers, BurstScenario,
                         ::testing::Values(Carrier::to_device, Carrier::room), CarrierName{});

}  // namespace
}  // namespace mrt::testing
