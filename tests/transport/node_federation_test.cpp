// mrt::Node across a federation (PROTOCOL §8): nodes on different Synapse homeservers
// that federate on 127.0.0.1 reach each other on both carriers and in both address orders,
// share one broadcast room per topic, refuse a squatted one, find a peer that failed over to
// another server, and lose nothing when a homeserver is killed mid-burst. Label `synapse`.
#include <mrt/matrix_identity.hpp>

#include "matrix_client.hpp"
#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"
#include "testing/test_homeserver.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using testing::start_synapses;

// Nodes on 2 or 3 Synapses started by the test (NodeTest's own homeserver is not used).
class FederationTest : public NodeTest {
 public:
  void SetUp() override {
    root_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    NodeTest::TearDown();
    servers_.clear();
  }

  void start_servers(std::size_t n) { servers_ = start_synapses(n); }
  TestHomeserver& server(std::size_t i) { return *servers_.at(i); }

  // A node homed on server `home`, knowing every server (the broadcast server is server 0).
  NodeConfig config(const std::string& name, std::size_t home, Carrier carrier) {
    NodeConfig c = config_on(server(home), name, carrier);
    for (const auto& s : servers_) c.known_servers.push_back(s->server_name());
    return c;
  }
  Node& start(const std::string& name, NodeConfig c, const PrivateKey& key) {
    auto node = Node::open(std::move(c), key);
    if (!node) throw std::runtime_error(node.error().message);
    if (auto started = node->start(); !started) throw std::runtime_error(started.error().message);
    nodes_[name] = std::make_unique<Node>(std::move(*node));
    return *nodes_[name];
  }
  Node& start(const std::string& name, std::size_t home, Carrier carrier, const PrivateKey& key) {
    return start(name, config(name, home, carrier), key);
  }

  static std::vector<NodeEvent> collect(Node& node, std::size_t messages,
                                        std::chrono::milliseconds patience = kPatience) {
    return NodeTest::collect(
        node, [&](auto& ev) { return count(ev, NodeEventType::message) >= messages; }, patience);
  }

  // The HTTP status of looking #topic:server_name up in server `i`'s room directory (200: the
  // alias is there).
  long alias_status(std::size_t i, const std::string& topic) {
    transport::HttpIo io;
    transport::MatrixClient probe(io, {.base_url = server(i).base_url()});
    auto found =
        probe
            .request("GET",
                     "/_matrix/client/v3/directory/room/" +
                         transport::url_encode("#" + topic + ":" + server(i).server_name()),
                     {})
            .get();
    return found ? 200 : found.error().http_status;
  }

  std::vector<std::unique_ptr<TestHomeserver>> servers_;
};

std::vector<std::string> bodies_of(const std::vector<NodeEvent>& events) {
  std::vector<std::string> bodies;
  for (const auto& e : events)
    if (e.type == NodeEventType::message) bodies.push_back(e.body);
  return bodies;
}

std::string carrier_name(const ::testing::TestParamInfo<Carrier>& p) {
  return std::string(to_string(p.param));
}

// Sends one message and checks it arrives once, over `carrier` when given, and is acked.
void round_trip(Node& from, Node& to, const std::string& body,
                std::optional<Carrier> carrier = std::nullopt) {
  auto id = from.send(to.address(), body);
  ASSERT_TRUE(id) << id.error().message;
  auto got = FederationTest::collect(to, 1);
  ASSERT_EQ(bodies_of(got), std::vector<std::string>{body});
  EXPECT_EQ(got.back().id, *id);
  EXPECT_EQ(got.back().peer, from.address());
  if (carrier) {
    EXPECT_EQ(got.back().carrier, *carrier) << body;
  }
  auto acked = NodeTest::collect(
      from, [&](auto& ev) { return NodeTest::count(ev, NodeEventType::delivered) >= 1; });
  ASSERT_EQ(NodeTest::count(acked, NodeEventType::delivered), 1u) << body;
}

// ---------------------------------------------------------------------------------------------
// Unicast across servers, both carriers, both address orders.

class FederationCarrierTest : public FederationTest,
                              public ::testing::WithParamInterface<Carrier> {};

TEST_P(FederationCarrierTest, PeersOnTwoServersExchangeMessagesInBothAddressOrders) {
  const Carrier carrier = GetParam();
  start_servers(2);
  auto [low1, high1] = ordered_keys();
  auto [low2, high2] = ordered_keys();
  // First pair: the lower address on server 0; second pair: on server 1. Nothing is cached,
  // no room is shared, and the user directory knows no one on the other server.
  std::vector<std::pair<Node*, Node*>> pairs = {
      {&start("low1", 0, carrier, low1), &start("high1", 1, carrier, high1)},
      {&start("low2", 1, carrier, low2), &start("high2", 0, carrier, high2)}};
  for (auto [lower, higher] : pairs) {
    // The higher address speaks first: the lower one must find it on the other server.
    round_trip(*higher, *lower, "first from the higher");
    round_trip(*lower, *higher, "first from the lower");
    if (carrier == Carrier::room) {
      // The lower address's room, created on its home, invited the remote id, which joined
      // over federation: messages move there in both directions.
      std::set<Carrier> seen_by_lower, seen_by_higher;
      for (int round = 0; round < 60 && (!seen_by_lower.count(Carrier::room) ||
                                         !seen_by_higher.count(Carrier::room));
           ++round) {
        for (auto [from, to, seen] : {std::tuple{higher, lower, &seen_by_lower},
                                      std::tuple{lower, higher, &seen_by_higher}}) {
          ASSERT_TRUE(from->send(to->address(), "round " + std::to_string(round)));
          auto got = collect(*to, 1);
          ASSERT_EQ(bodies_of(got).size(), 1u);
          seen->insert(*got.back().carrier);
        }
        std::this_thread::sleep_for(100ms);
      }
      ASSERT_TRUE(seen_by_lower.count(Carrier::room)) << "the DM room never carried to the lower";
      ASSERT_TRUE(seen_by_higher.count(Carrier::room)) << "the DM room never carried to higher";
      round_trip(*lower, *higher, "over the room", Carrier::room);
      round_trip(*higher, *lower, "back over the room", Carrier::room);
    } else {
      round_trip(*lower, *higher, "again", Carrier::to_device);
    }
    for (Node* n : {lower, higher}) {
      const NodeStats s = n->stats();
      EXPECT_EQ(s.ids_refused, 0u);
      EXPECT_EQ(s.undecryptable, 0u);
      EXPECT_EQ(s.failed, 0u);
      for (const auto& [reason, times] : s.rejected) {
        if (reason != RejectReason::replay) {
          EXPECT_EQ(times, 0u) << to_string(reason);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothCarriers, FederationCarrierTest,
                         ::testing::Values(Carrier::to_device, Carrier::room), carrier_name);

// ---------------------------------------------------------------------------------------------
// From an address to user ids (PROTOCOL §8).

TEST_F(FederationTest, APeerOnAnUnknownServerIsReachedThroughTheIdsTheApplicationSupplies) {
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  NodeConfig ca = config("a", 0, Carrier::to_device);
  ca.known_servers = {server(0).server_name()};  // a does not know server 1
  Node& a = start("a", std::move(ca), ka);
  Node& b = start("b", 1, Carrier::to_device, kb);

  ASSERT_TRUE(a.send(b.address(), "waits for an id"));
  EXPECT_TRUE(collect(b, 1, 3s).empty());
  EXPECT_GE(a.stats().id_lookups_failed, 1u) << "@b:server0 does not exist";
  EXPECT_EQ(a.stats().transmitted, 0u) << "nothing goes to an unproven id";

  // Wrong ids are refused whole.
  auto wrong = a.add_user_ids(b.address(), {matrix_user_id(ka.address(), server(1).server_name())});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, NodeErrorKind::bad_user_id);
  ASSERT_TRUE(a.add_user_ids(b.address(), {b.user_id()}));
  auto got = collect(b, 1);
  EXPECT_EQ(bodies_of(got), std::vector<std::string>{"waits for an id"});
  round_trip(b, a, "and back");
}

// Raiden's Pathfinding Service hands out a peer's metadata: its displayname proves the id on the
// spot, and its capabilities are read from the profile on the peer's server, over federation.
TEST_F(FederationTest, APeersMetadataFromTheApplicationReachesItOnAnUnknownServer) {
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  NodeConfig ca = config("a", 0, Carrier::to_device);
  ca.known_servers = {server(0).server_name()};  // a does not know server 1
  Node& a = start("a", std::move(ca), ka);
  NodeConfig cb = config("b", 1, Carrier::to_device);
  cb.capabilities = Capabilities{{"Receive", "1"}, {"Mediate", "0"}};
  Node& b = start("b", std::move(cb), kb);

  ASSERT_TRUE(a.add_metadata(b.address(), b.metadata().value()));
  round_trip(a, b, "found through its metadata");
  EXPECT_EQ(a.stats().id_lookups_failed, 0u) << "no look-up of @b:server0 was needed";
  EXPECT_EQ(a.capabilities_of(b.address()).value(),
            (Capabilities{{"Receive", "1"}, {"Mediate", "0"}}));
}

TEST_F(FederationTest, APeerOnAnotherServerAnswersALiveChallenge) {
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", 0, Carrier::to_device, ka);
  Node& b = start("b", 1, Carrier::to_device, kb);
  auto answered = a.challenge(b.address(), b.user_id());
  EXPECT_TRUE(answered) << answered.error().message;
}

TEST_F(FederationTest, NothingGoesToAnIdWhoseDisplaynameDoesNotProveIt) {
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", 0, Carrier::to_device, ka);
  // b's account on server 1 exists and has a device, but its displayname proves nothing.
  testing::RawPeer b(server(1).base_url(), server(1).server_name(), kb, root_ / "b");
  ASSERT_TRUE(b.request(
      "PUT", "/_matrix/client/v3/profile/" + transport::url_encode(b.user_id()) + "/displayname",
      {{"displayname", "0xnot-a-signature"}}));
  ASSERT_TRUE(a.send(kb.address(), "for b"));
  ASSERT_TRUE(NodeTest::eventually([&] { return a.stats().ids_refused >= 1; }));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(a.stats().transmitted, 0u);
  EXPECT_EQ(a.stats().payloads, 0u);
  EXPECT_EQ(a.stats().outbox, 1u) << "kept until an id is proven (or max_age)";

  // Once the displayname proves it, the message goes out (refused ids are checked again).
  ASSERT_TRUE(b.request(
      "PUT", "/_matrix/client/v3/profile/" + transport::url_encode(b.user_id()) + "/displayname",
      {{"displayname", matrix_identity(kb, server(1).server_name()).displayname.to_hex()}}));
  EXPECT_TRUE(NodeTest::eventually([&] { return a.stats().payloads >= 1; }));
}

TEST_F(FederationTest, LookUpsOfAKnownServerThatIsDownBackOffAndDoNotHoldBackTheOthers) {
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  NodeConfig ca = config("a", 0, Carrier::to_device);
  ca.known_servers.push_back("127.0.0.1:9");  // nothing listens there
  Node& a = start("a", std::move(ca), ka);
  Node& b = start("b", 1, Carrier::to_device, kb);
  round_trip(a, b, "found on server 1");
  const auto lookups = a.stats().id_lookups;
  EXPECT_GE(a.stats().id_lookups_failed, 1u);
  // More messages, no more look-ups: b's id is proven and cached.
  for (int i = 0; i < 3; ++i) round_trip(a, b, "again " + std::to_string(i));
  EXPECT_EQ(a.stats().id_lookups, lookups);
}

// ---------------------------------------------------------------------------------------------
// Broadcast rooms across servers (PROTOCOL §6, §8).

TEST_F(FederationTest, OneBroadcastRoomPerTopicForNodesOnBothServers) {
  start_servers(2);
  const std::string topic = "raiden_1_path_finding";
  Node& far = start("far", 1, Carrier::to_device, PrivateKey::generate());
  Node& near = start("near", 0, Carrier::to_device, PrivateKey::generate());
  // The node on server 1 asks first: only a node homed on the broadcast server (server 0)
  // creates the room, so `far` keeps trying the join until `near` has.
  std::optional<Result<std::string, NodeError>> far_room;
  std::thread subscriber([&] { far_room = far.subscribe(topic); });
  std::this_thread::sleep_for(1500ms);
  auto near_room = near.subscribe(topic);
  subscriber.join();
  ASSERT_TRUE(near_room) << near_room.error().message;
  ASSERT_TRUE(*far_room) << (*far_room).error().message;
  EXPECT_EQ(**far_room, *near_room) << "one room for the federation";
  EXPECT_NE(near_room->find(":" + server(0).server_name()), std::string::npos);

  ASSERT_TRUE(near.broadcast(topic, "capacity update"));
  auto got = collect(far, 1);
  ASSERT_EQ(bodies_of(got), std::vector<std::string>{"capacity update"});
  EXPECT_EQ(got.back().topic, topic);
  ASSERT_TRUE(far.broadcast(topic, "route request"));
  got = collect(near, 1);
  ASSERT_EQ(bodies_of(got), std::vector<std::string>{"route request"});

  EXPECT_EQ(alias_status(1, topic), 404) << "no second room: the alias is the broadcast server's";
}

TEST_F(FederationTest, ASquattedBroadcastAliasIsReportedAndNeverPublishedIn) {
  start_servers(2);
  const std::string topic = "raiden_1_monitoring";
  // Someone on the broadcast server takes the alias first, for a room where members may not post.
  const PrivateKey squatter = PrivateKey::generate();
  transport::HttpIo io;
  transport::MatrixClient client(io, {.base_url = server(0).base_url()});
  ASSERT_TRUE(client.login_ethereum(squatter, server(0).server_name()).get());
  ASSERT_TRUE(client
                  .create_room({{"room_alias_name", topic},
                                {"preset", "public_chat"},
                                {"power_level_content_override", {{"events_default", 100}}}})
                  .get());

  for (std::size_t home : {0u, 1u}) {
    Node& n =
        start("node" + std::to_string(home), home, Carrier::to_device, PrivateKey::generate());
    auto joined = n.subscribe(topic);
    ASSERT_FALSE(joined);
    EXPECT_EQ(joined.error().kind, NodeErrorKind::squatted);
    EXPECT_NE(joined.error().message.find(topic), std::string::npos) << joined.error().message;
    EXPECT_NE(joined.error().message.find("power level"), std::string::npos)
        << joined.error().message;
    auto published = n.broadcast(topic, "balance proof");
    ASSERT_FALSE(published);
    EXPECT_EQ(published.error().kind, NodeErrorKind::squatted);
    auto events = NodeTest::collect(
        n, [](auto& ev) { return NodeTest::count(ev, NodeEventType::squatted) >= 1; }, 5s);
    ASSERT_EQ(NodeTest::count(events, NodeEventType::squatted), 1u) << "reported once";
    EXPECT_EQ(events.back().topic, topic);
    EXPECT_EQ(n.stats().squatted, 1u);
  }
  EXPECT_EQ(alias_status(1, topic), 404) << "neither node made a room of its own on server 1";
}

TEST_F(FederationTest, ABroadcastRoomNotCreatedByAnOperatorIsSquatted) {
  start_servers(2);
  const std::string topic = "raiden_1_events_operator";
  const PrivateKey op = PrivateKey::generate();
  NodeConfig c = config("creator", 0, Carrier::to_device);
  Node& creator = start("creator", std::move(c), PrivateKey::generate());
  ASSERT_TRUE(creator.subscribe(topic));  // created by a node that is not the operator

  NodeConfig strict = config("strict", 1, Carrier::to_device);
  strict.broadcast_operators = std::set<Address>{op.address()};
  Node& n = start("strict", std::move(strict), PrivateKey::generate());
  auto joined = n.subscribe(topic);
  ASSERT_FALSE(joined);
  EXPECT_EQ(joined.error().kind, NodeErrorKind::squatted);
  EXPECT_NE(joined.error().message.find("operator"), std::string::npos) << joined.error().message;
}

// ---------------------------------------------------------------------------------------------
// Failover across the federation, and a homeserver killed mid-burst.

TEST_F(FederationTest, APeerThatFailsOverToAnotherServerIsFoundThereAndLosesNothing) {
  start_servers(3);
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", 0, Carrier::to_device, ka);
  NodeConfig cb = config("b", 1, Carrier::to_device);
  cb.homeservers = {{server(2).base_url(), server(2).server_name()}};  // its spare
  cb.failover_after = 1s;
  Node& b = start("b", std::move(cb), kb);
  ASSERT_EQ(b.homes().at(0).server_name, server(1).server_name());
  round_trip(a, b, "before");
  round_trip(b, a, "before, back");

  server(1).kill_hard();
  // Both send while b's homeserver is gone; the outboxes keep everything.
  std::vector<std::string> to_b, to_a;
  for (int i = 0; i < 10; ++i) {
    to_b.push_back("to b " + std::to_string(i));
    to_a.push_back("to a " + std::to_string(i));
  }
  ASSERT_TRUE(a.send_many(b.address(), to_b));
  ASSERT_TRUE(b.send_many(a.address(), to_a));
  // Each once (resends, which these all are after the failover, keep no order: PROTOCOL §5).
  const auto once_each = [](const std::vector<NodeEvent>& got, std::vector<std::string> want) {
    auto bodies = bodies_of(got);
    std::sort(bodies.begin(), bodies.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(bodies, want);
  };
  once_each(collect(b, to_b.size(), 60s), to_b);
  once_each(collect(a, to_a.size(), 60s), to_a);
  EXPECT_TRUE(eventually([&] { return b.stats().failovers == 1; }));
  EXPECT_EQ(b.homes().at(0).server_name, server(2).server_name());
  EXPECT_TRUE(NodeTest::eventually([&] { return a.stats().outbox == 0 && b.stats().outbox == 0; }));
}

class FederationKillTest : public FederationTest, public ::testing::WithParamInterface<Carrier> {};

TEST_P(FederationKillTest, KillingTheRecipientsHomeserverMidBurstLosesNothing) {
  const Carrier carrier = GetParam();
  start_servers(2);
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", 0, carrier, ka);
  Node& b = start("b", 1, carrier, kb);
  round_trip(a, b, "hello");
  round_trip(b, a, "hello back");

  constexpr std::size_t kMessages = 200;
  std::vector<std::string> sent;
  for (std::size_t chunk = 0; chunk < kMessages; chunk += 20) {
    std::vector<std::string> bodies;
    for (std::size_t i = chunk; i < chunk + 20; ++i) bodies.push_back("m" + std::to_string(i));
    ASSERT_TRUE(a.send_many(b.address(), bodies));
    sent.insert(sent.end(), bodies.begin(), bodies.end());
    if (chunk == kMessages / 2) {
      server(1).kill_hard();
      std::this_thread::sleep_for(3s);
      server(1).restart();
    }
  }
  auto got = collect(b, kMessages, 90s);
  const auto bodies = bodies_of(got);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()),
            std::set<std::string>(sent.begin(), sent.end()));
  EXPECT_EQ(bodies.size(), kMessages) << "nothing twice";
  EXPECT_TRUE(NodeTest::eventually([&] { return a.stats().outbox == 0; }));
  EXPECT_EQ(a.stats().failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(BothCarriers, FederationKillTest,
                         ::testing::Values(Carrier::to_device, Carrier::room), carrier_name);

}  // namespace
}  // namespace mrt
