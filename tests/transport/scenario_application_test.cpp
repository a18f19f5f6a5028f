// What the application changes on a running node (Node::cancel, set_allowlist, set_publishers,
// watch, capabilities), in process and in virtual time (testing/driven_node.hpp).
#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include "node_pair_scenario.hpp"

namespace mrt::testing {
namespace {

constexpr const char* kTopic = "raiden_1_path_finding";

using ApplicationScenario = NodePairScenario;

TEST_F(ApplicationScenario, ACancelledMessageIsNeitherResentNorReportedNorKept) {
  NodeConfig config;
  config.limits.max_age_ms = 60'000;
  start(Carrier::to_device, config);
  hub.lose_next("/sendToDevice/", 1'000'000);
  const std::string id = low->send(high->address(), "hello");
  idle(3'000);
  ASSERT_EQ(low->stats().resent, 1u);

  auto cancelled = low->node().cancel(id);
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  EXPECT_TRUE(*cancelled);
  const std::uint64_t transmitted = low->stats().transmitted;
  idle(120'000);  // past max_age: a message still waiting would have failed
  EXPECT_EQ(low->stats().transmitted, transmitted);
  EXPECT_EQ(low->count(NodeEventType::failed), 0u);
  EXPECT_EQ(low->count(NodeEventType::delivered), 0u);
  EXPECT_EQ(low->stats().outbox, 0u);
  EXPECT_TRUE(low->outbox().empty()) << "a restart does not bring it back";
  EXPECT_FALSE(*low->node().cancel(id)) << "cancelled once";
}

TEST_F(ApplicationScenario, CancellingADeliveredMessageChangesNothing) {
  start(Carrier::to_device);
  const std::string id = low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  auto cancelled = low->node().cancel(id);
  ASSERT_TRUE(cancelled);
  EXPECT_FALSE(*cancelled);
  EXPECT_FALSE(*low->node().cancel("no-such-message"));
  idle(5'000);
  EXPECT_EQ(low->count(NodeEventType::delivered), 1u);
  EXPECT_EQ(high->count(NodeEventType::message), 1u);
}

TEST_F(ApplicationScenario, ACancelledMessageLeavesRoomForAnotherUnderTheOutboxCap) {
  NodeConfig config;
  config.policy.max_outbox_per_recipient = 1;
  start(Carrier::to_device, config);
  hub.lose_next("/sendToDevice/", 1'000'000);
  const std::string id = low->send(high->address(), "first");
  auto refused = low->node().send(high->address(), "second");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::outbox_full);
  ASSERT_TRUE(*low->node().cancel(id));
  EXPECT_TRUE(low->node().send(high->address(), "second"));
}

TEST_F(ApplicationScenario, AnAllowlistSetWhileRunningRefusesOthersUntilItIsLifted) {
  start(Carrier::to_device);
  high->node().set_allowlist(std::set<Address>{});
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return high->stats().rejected[RejectReason::not_allowed] >= 1; }));
  EXPECT_EQ(high->count(NodeEventType::message), 0u);

  high->node().set_allowlist(std::set<Address>{low->address()});
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }))
      << "the sender's resend comes in";
  EXPECT_EQ(high->bodies(), std::vector<std::string>{"hello"});
}

TEST_F(ApplicationScenario, PublishersSetWhileRunningDecideWhoseBroadcastsCount) {
  start(Carrier::to_device);
  low->subscribe(kTopic);
  high->subscribe(kTopic);
  ASSERT_TRUE(run([&] { return low->room_of(kTopic) && high->room_of(kTopic); }));
  ASSERT_TRUE(high->node().set_publishers(kTopic, std::set<Address>{high->address()}));
  low->broadcast(kTopic, "not from a publisher");
  ASSERT_TRUE(run([&] { return high->stats().rejected[RejectReason::not_allowed] == 1; }));

  ASSERT_TRUE(high->node().set_publishers(kTopic, std::nullopt));
  low->broadcast(kTopic, "anyone may publish now");
  ASSERT_TRUE(run([&] { return high->count(NodeEventType::message) == 1; }));
  EXPECT_EQ(high->bodies(), std::vector<std::string>{"anyone may publish now"});
}

TEST_F(ApplicationScenario, PublishersOfSomethingThatIsNotATopicAreRefused) {
  start(Carrier::to_device);
  auto r = high->node().set_publishers("Not A Topic", std::set<Address>{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, NodeErrorKind::bad_topic);
}

// Without watch() the first message goes over to_device while the room is being made
// (Scenario.TheRoomCarrierMovesToTheDmRoomOnceBothJoined).
TEST_F(ApplicationScenario, AWatchedPartnersRoomIsReadyForTheFirstMessage) {
  start(Carrier::room);
  ASSERT_TRUE(low->node().watch(high->address()));
  ASSERT_TRUE(run([&] { return hub.requests("/join/") > 0; })) << "high joins the room";
  idle(1'000);
  low->send(high->address(), "first");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  ASSERT_EQ(high->count(NodeEventType::message), 1u);
  EXPECT_EQ(high->events().back().carrier, Carrier::room);
  EXPECT_EQ(low->stats().dm_rooms_over_limit, 0u);
}

TEST_F(ApplicationScenario, AWatchedPartnersReachabilityIsReported) {
  start(Carrier::to_device);
  ASSERT_TRUE(high->node().watch(low->address()));
  ASSERT_TRUE(run([&] {
    for (const auto& e : high->events())
      if (e.type == NodeEventType::reachability && e.peer == low->address()) return true;
    return false;
  }));
}

// Senders met once must not stay in memory: a peer with nothing queued or owed is dropped at the
// next pruning (every ten minutes), unless the application watches it.
TEST_F(ApplicationScenario, AnIdlePeerIsDroppedFromMemoryUnlessWatched) {
  start(Carrier::to_device);
  const Address other = PrivateKey::generate().address();
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  ASSERT_TRUE(low->node().watch(other));
  idle(1'000);
  EXPECT_EQ(low->stats().peers, 2u);
  EXPECT_EQ(high->stats().peers, 1u);
  idle(11 * 60'000);
  EXPECT_EQ(low->stats().peers, 1u) << "the watched one stays";
  EXPECT_EQ(high->stats().peers, 0u);
}

// Capabilities are a hint, like presence: a server that refuses profile changes (Synapse's
// enable_set_avatar_url: false) does not keep the node from starting.
TEST_F(ApplicationScenario, ANodeWhoseServerRefusesItsCapabilitiesStartsAndLogsWhy) {
  auto records = std::make_shared<std::vector<LogRecord>>();
  NodeConfig config;
  config.capabilities = Capabilities{{"Receive", "1"}};
  config.on_log = [records](const LogRecord& r) { records->push_back(r); };
  hub.refuse_next("/avatar_url", 4, 400, "M_FORBIDDEN");  // both nodes' GET and PUT
  start(Carrier::to_device, config);
  low->send(high->address(), "hello");
  ASSERT_TRUE(run([&] { return low->count(NodeEventType::delivered) == 1; }));
  EXPECT_TRUE(std::any_of(records->begin(), records->end(), [](const LogRecord& r) {
    return r.event == "capabilities_not_published";
  }));
}

}  // namespace
}  // namespace mrt::testing
