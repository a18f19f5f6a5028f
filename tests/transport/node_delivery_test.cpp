// mrt::Node end to end: two nodes (real LMDB stores) talking through `mrt serve` over HTTP on
// 127.0.0.1: delivery and acks on each carrier, ordering, bursts, large bodies.
#include <mutex>

#include <mrt/canonical_json.hpp>

#include "node_fixture.hpp"

namespace mrt {
namespace {

TEST_F(NodeTest, ToDeviceMessageIsDeliveredAndAcked) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);

  auto id = a.send(b.address(), "hello b");
  ASSERT_TRUE(id) << id.error().message;

  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(got, NodeEventType::message), 1u);
  const NodeEvent& m = got.back();
  EXPECT_EQ(m.body, "hello b");
  EXPECT_EQ(m.id, *id);
  EXPECT_EQ(m.peer, a.address());
  EXPECT_EQ(m.carrier, Carrier::to_device);

  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) == 1; });
  ASSERT_EQ(count(acked, NodeEventType::delivered), 1u);
  EXPECT_EQ(acked.back().id, *id);
  EXPECT_EQ(a.stats().outbox, 0u);
}

TEST_F(NodeTest, ToDeviceMessageReachesAPeerThatLogsInOnlyLater) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  ASSERT_TRUE(a.send(kb.address(), "waiting for you"));
  std::this_thread::sleep_for(1s);  // a has asked for b's devices and found none
  Node& b = start("b", kb, Carrier::to_device);
  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(got, NodeEventType::message), 1u);
  EXPECT_EQ(got.back().body, "waiting for you");
}

TEST_F(NodeTest, RoomCarrierMovesToTheDmRoomOnceBothJoined) {
  auto [ka, kb] = ordered_keys();
  Node& lower = start("lower", ka, Carrier::room);
  Node& higher = start("higher", kb, Carrier::room);

  // The higher address speaks first: over to_device until the lower one's room is ready.
  ASSERT_TRUE(higher.send(lower.address(), "first"));
  auto first = collect(lower, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(first, NodeEventType::message), 1u);

  std::set<Carrier> carriers;
  for (int round = 0; round < 40 && !carriers.count(Carrier::room); ++round) {
    ASSERT_TRUE(higher.send(lower.address(), "round " + std::to_string(round)));
    auto got = collect(lower, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
    ASSERT_EQ(count(got, NodeEventType::message), 1u) << "round " << round;
    carriers.insert(*got.back().carrier);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(carriers.count(Carrier::room)) << "never moved to the DM room";

  ASSERT_TRUE(lower.send(higher.address(), "back"));
  auto back = collect(higher, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(back, NodeEventType::message), 1u);
  EXPECT_EQ(back.back().body, "back");
  EXPECT_EQ(back.back().carrier, Carrier::room);
}

// Sends `n` messages in chunks and checks that all arrive once, in order, and are all acked.
void burst(Node& from, Node& to, std::size_t n, Carrier expected_carrier) {
  std::vector<std::string> ids;
  for (std::size_t chunk = 0; chunk < n; chunk += 100) {
    std::vector<std::string> bodies;
    for (std::size_t i = chunk; i < std::min(n, chunk + 100); ++i)
      bodies.push_back("burst " + std::to_string(i));
    auto sent = from.send_many(to.address(), std::move(bodies));
    ASSERT_TRUE(sent) << sent.error().message;
    ids.insert(ids.end(), sent->begin(), sent->end());
  }
  auto got = NodeTest::collect(
      to, [&](auto& ev) { return NodeTest::count(ev, NodeEventType::message) >= n; });
  std::vector<std::string> bodies;
  for (const auto& e : got) {
    if (e.type != NodeEventType::message) continue;
    bodies.push_back(e.body);
    EXPECT_EQ(e.carrier, expected_carrier);
  }
  ASSERT_EQ(bodies.size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(bodies[i], "burst " + std::to_string(i));

  auto acked = NodeTest::collect(
      from, [&](auto& ev) { return NodeTest::count(ev, NodeEventType::delivered) >= n; });
  std::set<std::string> delivered;
  for (const auto& e : acked)
    if (e.type == NodeEventType::delivered) delivered.insert(e.id);
  EXPECT_EQ(delivered, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(from.stats().outbox, 0u);
}

TEST_F(NodeTest, ToDeviceBurstOfAThousandArrivesOnceInOrderInFewPayloads) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  burst(a, b, 1000, Carrier::to_device);
  // Batched: far fewer Matrix sends than messages.
  EXPECT_LT(a.stats().payloads, 200u);
  EXPECT_EQ(b.stats().received, 1000u);
}

TEST_F(NodeTest, RoomBurstOfAThousandArrivesOnceInOrder) {
  auto [ka, kb] = ordered_keys();
  Node& lower = start("lower", ka, Carrier::room);
  Node& higher = start("higher", kb, Carrier::room);
  // Until the room is ready both sides use to_device; wait for it.
  for (int round = 0; round < 40; ++round) {
    ASSERT_TRUE(lower.send(higher.address(), "ping"));
    auto got = collect(higher, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
    ASSERT_EQ(count(got, NodeEventType::message), 1u);
    if (got.back().carrier == Carrier::room) break;
    std::this_thread::sleep_for(100ms);
  }
  collect(
      lower, [](auto&) { return false; }, 500ms);  // drains the delivered events
  burst(lower, higher, 1000, Carrier::room);
  burst(higher, lower, 1000, Carrier::room);
}

TEST_F(NodeTest, LargestEnvelopeArrivesAndOneByteMoreIsRefused) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::size_t empty =
      canonical_json(Envelope::message(ka, b.address(), "", now).to_json()).value().size();
  const std::string largest(kMaxEnvelopeBytes - empty, 'x');
  auto sent = a.send(b.address(), largest);
  ASSERT_TRUE(sent) << sent.error().message;
  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(got, NodeEventType::message), 1u);
  EXPECT_EQ(got.back().body, largest);

  auto refused = a.send(b.address(), std::string(kMaxEnvelopeBytes, 'x'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::too_large);
}

TEST_F(NodeTest, MessageToAnAbsentPeerFailsAfterMaxAge) {
  auto [ka, kb] = ordered_keys();
  NodeConfig c = config("a", Carrier::to_device);
  c.limits.max_age_ms = 1500;
  auto node = Node::open(c, ka);
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->start());
  auto id = node->send(kb.address(), "nobody home");
  ASSERT_TRUE(id);
  auto events = collect(*node, [](auto& ev) { return count(ev, NodeEventType::failed) == 1; });
  ASSERT_EQ(count(events, NodeEventType::failed), 1u);
  EXPECT_EQ(events.back().id, *id);
  EXPECT_EQ(events.back().peer, kb.address());
  EXPECT_EQ(node->stats().outbox, 0u);
  EXPECT_EQ(node->stats().failed, 1u);
}

TEST_F(NodeTest, OnEventReceivesMessagesAndConsumesThemWhenItReturns) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  std::mutex mutex;
  std::vector<std::string> bodies;
  NodeConfig c = config("b", Carrier::to_device);
  c.on_event = [&](const NodeEvent& e) {
    std::lock_guard lock(mutex);
    if (e.type == NodeEventType::message) bodies.push_back(e.body);
  };
  auto b = Node::open(c, kb);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->start());
  ASSERT_TRUE(a.send_many(b->address(), {"one", "two"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return bodies.size() == 2;
  }));
  EXPECT_EQ(bodies, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(eventually([&] { return b->stats().inbox == 0; }));
  EXPECT_FALSE(b->next_event(10ms)) << "with on_event nothing is queued";
}

// An SDK queues what on_event hands it; the event is consumed once its own handler is done.
TEST_F(NodeTest, AnEventOnEventDoesNotConsumeIsReportedAgainAfterARestartUntilConsumed) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  std::mutex mutex;
  std::vector<NodeEvent> seen;
  NodeConfig c = config("b", Carrier::to_device);
  c.on_event_consumes = false;
  c.on_event = [&](const NodeEvent& e) {
    std::lock_guard lock(mutex);
    if (e.type == NodeEventType::message) seen.push_back(e);
  };
  const auto messages = [&] {
    std::lock_guard lock(mutex);
    return seen.size();
  };
  std::optional<Node> b;
  const auto restart_b = [&] {
    b.reset();
    auto node = Node::open(c, kb);
    ASSERT_TRUE(node) << node.error().message;
    b.emplace(std::move(*node));
    ASSERT_TRUE(b->start());
  };
  restart_b();
  ASSERT_TRUE(a.send(kb.address(), "one"));
  ASSERT_TRUE(eventually([&] { return messages() == 1; }));

  restart_b();
  ASSERT_TRUE(eventually([&] { return messages() == 2; })) << "not consumed: reported again";
  EXPECT_EQ(seen[1].id, seen[0].id);
  b->consumed(seen[1]);
  EXPECT_TRUE(eventually([&] { return b->stats().inbox == 0; }));

  restart_b();
  ASSERT_TRUE(a.send(kb.address(), "two"));
  ASSERT_TRUE(eventually([&] { return messages() == 3; }));
  EXPECT_EQ(seen[2].body, "two") << "consumed: never reported again";
}

TEST_F(NodeTest, SendBeforeStartIsRefused) {
  auto [ka, kb] = ordered_keys();
  auto node = Node::open(config("a", Carrier::to_device), ka);
  ASSERT_TRUE(node);
  auto id = node->send(kb.address(), "too early");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().kind, NodeErrorKind::not_started);
}

TEST(NodeOpenTest, BadConfigurationsAreNamed) {
  const PrivateKey key = PrivateKey::generate();
  const auto dir = temp_dir("open");
  auto refused = [&](NodeConfig c) {
    auto node = Node::open(std::move(c), key);
    EXPECT_FALSE(node);
    return node ? NodeErrorKind::stopped : node.error().kind;
  };
  EXPECT_EQ(refused({.homeserver = "", .data_dir = dir}), NodeErrorKind::bad_config);
  EXPECT_EQ(refused({.homeserver = "ftp://x", .data_dir = dir}), NodeErrorKind::bad_config);
  EXPECT_EQ(refused({.homeserver = "http://127.0.0.1:1"}), NodeErrorKind::bad_config);
  NodeConfig big{.homeserver = "http://127.0.0.1:1", .data_dir = dir};
  big.limits.max_bytes = kMaxEnvelopeBytes + 1;
  EXPECT_EQ(refused(big), NodeErrorKind::bad_config);
}

TEST(NodeOpenTest, UnreachableHomeserverIsALoginError) {
  const PrivateKey key = PrivateKey::generate();
  const auto dir = temp_dir("unreachable");
  auto node = Node::open({.homeserver = "http://127.0.0.1:1", .data_dir = dir}, key);
  ASSERT_TRUE(node) << node.error().message;
  auto started = node->start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().kind, NodeErrorKind::login);
  node->stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mrt
