// PROTOCOL §6 broadcast rooms through the test homeserver (`mrt serve` or Synapse): subscribe
// (create or join by alias, the creation race), fan-out to every subscriber once, the publisher
// allowlist, and envelopes that do not belong in the room.
#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>
#include <mrt/topics.hpp>

#include "matrix_client.hpp"
#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

std::vector<NodeEvent> of_type(const std::vector<NodeEvent>& events, NodeEventType type) {
  std::vector<NodeEvent> out;
  for (const auto& e : events)
    if (e.type == type) out.push_back(e);
  return out;
}

TEST_F(NodeTest, TenSubscribersEachReceiveEveryOtherBroadcastOnce) {
  constexpr int kNodes = 10;
  const std::string topic = "raiden_1_monitoring";
  std::vector<PrivateKey> keys;
  std::vector<Node*> nodes;
  for (int i = 0; i < kNodes; ++i) {
    keys.push_back(PrivateKey::generate());
    nodes.push_back(&start("n" + std::to_string(i), keys.back(), Carrier::to_device));
  }
  // All at once: the first to find the alias missing creates the room, the others join it.
  std::vector<std::string> room_ids(kNodes);
  std::vector<std::thread> subscribers;
  for (int i = 0; i < kNodes; ++i) {
    subscribers.emplace_back([&, i] {
      auto room = nodes[static_cast<std::size_t>(i)]->subscribe(topic);
      if (room) room_ids[static_cast<std::size_t>(i)] = *room;
    });
  }
  for (auto& t : subscribers) t.join();
  for (const auto& id : room_ids) EXPECT_EQ(id, room_ids[0]) << "one room for the topic";
  ASSERT_FALSE(room_ids[0].empty());

  for (int i = 0; i < kNodes; ++i)
    ASSERT_TRUE(nodes[static_cast<std::size_t>(i)]->broadcast(topic, "from " + std::to_string(i)));
  for (int i = 0; i < kNodes; ++i) {
    Node& node = *nodes[static_cast<std::size_t>(i)];
    auto events = collect(node, [&](auto& ev) {
      return count(ev, NodeEventType::message) >= static_cast<std::size_t>(kNodes - 1);
    });
    collect(
        node, [](auto&) { return false; }, 300ms);  // nothing more may come
    std::multiset<std::string> bodies;
    for (const auto& m : of_type(events, NodeEventType::message)) {
      bodies.insert(m.body);
      EXPECT_EQ(m.topic, topic);
      EXPECT_FALSE(m.carrier);
    }
    std::multiset<std::string> expected;
    for (int j = 0; j < kNodes; ++j)
      if (j != i) expected.insert("from " + std::to_string(j));
    EXPECT_EQ(bodies, expected) << "node " << i;
  }
}

TEST_F(NodeTest, PublisherOutsideTheTopicsAllowlistIsNotAllowed) {
  const std::string topic = "raiden_1_path_finding";
  const PrivateKey reader_key = PrivateKey::generate(), pfs = PrivateKey::generate(),
                   other = PrivateKey::generate();
  NodeConfig c = config("reader", Carrier::to_device);
  c.policy.publishers[topic] = {pfs.address()};
  auto reader = Node::open(c, reader_key);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->start());
  ASSERT_TRUE(reader->subscribe(topic));
  Node& a = start("pfs", pfs, Carrier::to_device);
  Node& b = start("other", other, Carrier::to_device);
  ASSERT_TRUE(b.broadcast(topic, "not a pathfinding service"));
  ASSERT_TRUE(a.broadcast(topic, "capacity update"));
  auto events = collect(*reader, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  const auto messages = of_type(events, NodeEventType::message);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].body, "capacity update");
  const auto rejected = of_type(events, NodeEventType::rejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].reason, RejectReason::not_allowed);
  EXPECT_EQ(rejected[0].peer, other.address());
  EXPECT_EQ(rejected[0].topic, topic);
}

TEST_F(NodeTest, EnvelopesThatDoNotBelongInTheRoomAreRejected) {
  const std::string topic = "raiden_1_discovery_0x0000000000000000000000000000000000000001";
  const PrivateKey reader_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  Node& reader = start("reader", reader_key, Carrier::to_device);
  const std::string room = reader.subscribe(topic).value();
  testing::RawPeer eve(base_url(), server_name(), eve_key, root_ / "eve");
  ASSERT_TRUE(eve.call(transport::calls::join(room)));
  const json other_topic =
      Envelope::broadcast(eve_key, "raiden_1_monitoring", "elsewhere", now_ms()).to_json();
  const json unicast = Envelope::message(eve_key, reader.address(), "private", now_ms()).to_json();
  const json good = Envelope::broadcast(eve_key, topic, "welcome", now_ms()).to_json();
  ASSERT_TRUE(eve.call(
      transport::calls::send_room_event(room, "network.raiden.envelopes", "t1",
                                        {{"envelopes", {other_topic, unicast, good, good}}})));
  // (Eve's presence may come too, now that she shares a room: reachability events are not
  // what this test is about.)
  auto events = collect(
      reader, [](auto& ev) { return ev.size() - count(ev, NodeEventType::reachability) >= 4; });
  std::erase_if(events, [](const NodeEvent& e) { return e.type == NodeEventType::reachability; });
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].reason, RejectReason::wrong_topic);
  EXPECT_EQ(events[1].reason, RejectReason::wrong_recipient);
  EXPECT_EQ(events[2].type, NodeEventType::message);
  EXPECT_EQ(events[2].body, "welcome");
  EXPECT_EQ(events[3].reason, RejectReason::replay);
  EXPECT_EQ(reader.stats().acks_sent, 0u) << "broadcasts are not acked";
}

TEST_F(NodeTest, SubscriptionSurvivesARestart) {
  const std::string topic = "raiden_5_monitoring";
  const PrivateKey reader_key = PrivateKey::generate(), writer_key = PrivateKey::generate();
  const std::string room = start("reader", reader_key, Carrier::to_device).subscribe(topic).value();
  nodes_.erase("reader");
  Node& writer = start("writer", writer_key, Carrier::to_device);
  ASSERT_TRUE(writer.broadcast(topic, "while you were away"));
  Node& reader = start("reader", reader_key, Carrier::to_device);
  auto events = collect(reader, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  const auto messages = of_type(events, NodeEventType::message);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].body, "while you were away");
  EXPECT_EQ(reader.subscribe(topic).value(), room);
}

TEST_F(NodeTest, AnEventsRoomTakesOnlyItsOperatorsEnvelopesAndKeepsThemAsEvidence) {
  const PrivateKey op_key = PrivateKey::generate(), reader_key = PrivateKey::generate(),
                   eve_key = PrivateKey::generate();
  const std::string topic = events_topic(1, op_key.address());
  Node& op = start("operator", op_key, Carrier::to_device);
  const std::string room = op.subscribe(topic).value();
  Node& reader = start("reader", reader_key, Carrier::to_device);
  ASSERT_EQ(reader.subscribe(topic).value(), room);
  // Another node may not publish there; a forger writing to the room itself is not allowed.
  auto refused = reader.broadcast(topic, "a false event");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::bad_topic);
  testing::RawPeer eve(base_url(), server_name(), eve_key, root_ / "eve");
  ASSERT_TRUE(eve.call(transport::calls::join(room)));
  const json forged = Envelope::broadcast(eve_key, topic, "ChannelClosed 7", now_ms()).to_json();
  ASSERT_TRUE(eve.call(transport::calls::send_room_event(room, "network.raiden.envelopes", "t1",
                                                         {{"envelopes", {forged}}})));
  ASSERT_TRUE(op.broadcast(topic, "ChannelOpened 7"));
  ASSERT_TRUE(op.broadcast(topic, "ChannelNewDeposit 7"));

  auto events = collect(reader, [](auto& ev) { return count(ev, NodeEventType::message) >= 2; });
  const auto rejected = of_type(events, NodeEventType::rejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].reason, RejectReason::not_allowed);
  EXPECT_EQ(rejected[0].peer, eve_key.address());
  // Consumed, and still kept: each the operator's signed envelope, as anyone can check.
  const auto evidence = reader.evidence(topic).value();
  ASSERT_EQ(evidence.size(), 2u);
  std::vector<std::string> bodies;
  for (const auto& text : evidence) {
    auto checked = validate_envelope(json::parse(text), {.room_topic = topic}, now_ms());
    ASSERT_TRUE(checked) << text;
    EXPECT_EQ(checked->sender, op_key.address());
    bodies.push_back(checked->body);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"ChannelOpened 7", "ChannelNewDeposit 7"}));
  EXPECT_TRUE(op.evidence(topic).value().empty()) << "its own broadcasts do not come back";
}

TEST_F(NodeTest, AnEventsRoomMadeByAnotherThanItsOperatorIsSquatted) {
  const PrivateKey op_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  const std::string topic = events_topic(1, op_key.address());
  testing::RawPeer eve(base_url(), server_name(), eve_key, root_ / "eve");
  ASSERT_TRUE(eve.call(transport::calls::create_room(
      {{"room_alias_name", topic}, {"preset", "public_chat"}, {"visibility", "private"}})));
  Node& reader = start("reader", PrivateKey::generate(), Carrier::to_device);
  auto subscribed = reader.subscribe(topic);
  ASSERT_FALSE(subscribed);
  EXPECT_EQ(subscribed.error().kind, NodeErrorKind::squatted) << subscribed.error().message;
}

TEST_F(NodeTest, EvidenceOutlivesARestartAndKeepsOnlyTheNewest) {
  const PrivateKey op_key = PrivateKey::generate(), reader_key = PrivateKey::generate();
  const std::string topic = events_topic(1, op_key.address());
  Node& op = start("operator", op_key, Carrier::to_device);
  ASSERT_TRUE(op.subscribe(topic));
  NodeConfig c = config("reader", Carrier::to_device);
  c.policy.max_evidence_per_topic = 3;
  {
    auto reader = Node::open(c, reader_key).value();
    ASSERT_TRUE(reader.start());
    ASSERT_TRUE(reader.subscribe(topic));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(op.broadcast(topic, "event " + std::to_string(i)));
    collect(reader, [](auto& ev) { return count(ev, NodeEventType::message) >= 5; });
  }
  auto reader = Node::open(c, reader_key).value();
  const auto evidence = reader.evidence(topic).value();
  std::vector<std::string> bodies;
  for (const auto& text : evidence) bodies.push_back(json::parse(text)["body"]);
  EXPECT_EQ(bodies, (std::vector<std::string>{"event 2", "event 3", "event 4"}));
}

TEST_F(NodeTest, EvidenceIsOnlyForEventsTopics) {
  Node& node = start("n", PrivateKey::generate(), Carrier::to_device);
  auto e = node.evidence("raiden_1_monitoring");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, NodeErrorKind::bad_topic);
}

TEST_F(NodeTest, BadTopicsAreRefused) {
  Node& node = start("n", PrivateKey::generate(), Carrier::to_device);
  for (const std::string& topic :
       std::vector<std::string>{"", "Upper", "with space", "#alias", std::string(201, 'a')}) {
    auto s = node.subscribe(topic);
    ASSERT_FALSE(s) << topic;
    EXPECT_EQ(s.error().kind, NodeErrorKind::bad_topic);
    auto b = node.broadcast(topic, "x");
    ASSERT_FALSE(b) << topic;
    EXPECT_EQ(b.error().kind, NodeErrorKind::bad_topic);
  }
}

}  // namespace
}  // namespace mrt
