// PROTOCOL §6 and §8 in process: nodes on different servers of one hub federation (one dev
// homeserver state under three names, testing/homeserver_hub.hpp), in virtual time. From an
// address to user ids, unicast across servers on both carriers, and the broadcast rooms: one per
// topic on the broadcast server, judged before use. The same rules over real federation, with its
// lag, are tested on two and three Synapses (node_federation_test.cpp).
#include <set>

#include <gtest/gtest.h>

#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>

#include "testing/driven_node.hpp"
#include "testing/ordered_keys.hpp"
#include "testing/raw_peer.hpp"
#include "testing/temp_dir.hpp"
#include "transport/matrix_client.hpp"

namespace mrt::testing {
namespace {

using nlohmann::json;

constexpr const char* kOne = "one.test";  // the broadcast server
constexpr const char* kTwo = "two.test";
constexpr const char* kThree = "three.test";

class FederationScenario : public ::testing::Test {
 protected:
  FederationScenario() { hub.add_federation({kOne, kTwo, kThree}); }
  ~FederationScenario() override { std::filesystem::remove_all(dir); }

  static NodeConfig config(Carrier carrier = Carrier::to_device) {
    NodeConfig c;
    c.carrier = carrier;
    c.known_servers = {kOne, kTwo, kThree};
    return c;
  }
  DrivenNode& node(const std::string& name, const std::string& server, const PrivateKey& key,
                   NodeConfig c = config()) {
    nodes.push_back(std::make_unique<DrivenNode>(hub, dir / name, server, key, std::move(c)));
    return *nodes.back();
  }
  bool run(const std::function<bool()>& done, std::int64_t limit_ms = 60'000) {
    std::vector<DrivenNode*> all;
    for (auto& n : nodes) all.push_back(n.get());
    return run_until(hub, all, done, limit_ms);
  }
  void idle(std::int64_t ms) {
    run([] { return false; }, ms);
  }
  // `from` sends `body` to `to`; true once it arrived and was acked.
  bool round_trip(DrivenNode& from, DrivenNode& to, const std::string& body) {
    const std::size_t got = to.count(NodeEventType::message);
    const std::size_t acked = from.count(NodeEventType::delivered);
    from.send(to.address(), body);
    return run([&] {
      return to.count(NodeEventType::message) > got && from.count(NodeEventType::delivered) > acked;
    });
  }
  // Every node subscribed to `topic` has its room.
  bool all_joined(const std::string& topic) {
    return run([&] {
      for (auto& n : nodes)
        if (!n->room_of(topic)) return false;
      return true;
    });
  }

  std::filesystem::path dir = fresh_dir("federation-scenario");
  HomeserverHub hub{dir / "servers"};
  std::vector<std::unique_ptr<DrivenNode>> nodes;
};

class FederationOnEachCarrier : public FederationScenario,
                                public ::testing::WithParamInterface<Carrier> {};

// ---------------------------------------------------------------------------------------------
// Unicast across servers (PROTOCOL §5 unchanged, §8).

TEST_P(FederationOnEachCarrier, PeersOnTwoServersExchangeMessagesInBothAddressOrders) {
  const auto keys = ascending_keys(4);
  // The lower address (the DM room's creator) on server one, then on server two.
  DrivenNode& low_on_one = node("a", kOne, keys[0], config(GetParam()));
  DrivenNode& high_on_two = node("b", kTwo, keys[1], config(GetParam()));
  DrivenNode& low_on_two = node("c", kTwo, keys[2], config(GetParam()));
  DrivenNode& high_on_one = node("d", kOne, keys[3], config(GetParam()));
  for (auto [x, y] : {std::pair{&low_on_one, &high_on_two}, std::pair{&low_on_two, &high_on_one}}) {
    EXPECT_TRUE(round_trip(*x, *y, "there"));
    EXPECT_TRUE(round_trip(*y, *x, "and back"));
    EXPECT_EQ(y->bodies(), std::vector<std::string>{"there"});
    EXPECT_EQ(x->bodies(), std::vector<std::string>{"and back"});
  }
}

// ---------------------------------------------------------------------------------------------
// From an address to user ids (PROTOCOL §8).

TEST_F(FederationScenario, APeerOnAServerOutsideKnownServersIsReachedThroughSuppliedIds) {
  const auto keys = ascending_keys(2);
  NodeConfig ca = config();
  ca.known_servers = {kOne, kTwo};
  DrivenNode& a = node("a", kOne, keys[0], ca);
  DrivenNode& b = node("b", kThree, keys[1]);
  a.send(b.address(), "waits for an id");
  idle(30'000);
  EXPECT_EQ(b.count(NodeEventType::message), 0u);
  EXPECT_GE(a.stats().id_lookups_failed, 2u) << "@b:one and @b:two do not exist";
  EXPECT_EQ(a.stats().transmitted, 0u) << "nothing goes to an unproven id";

  ASSERT_TRUE(a.node().add_user_ids(b.address(), {b.user_id()}));
  ASSERT_TRUE(run([&] { return a.count(NodeEventType::delivered) == 1; }));
  EXPECT_EQ(b.bodies(), std::vector<std::string>{"waits for an id"});
}

TEST_F(FederationScenario, NothingGoesToAnIdWhoseDisplaynameDoesNotProveIt) {
  const auto keys = ascending_keys(2);
  DrivenNode& a = node("a", kOne, keys[0]);
  // b's account on server two has a device, but its displayname proves nothing.
  RawPeer b(hub.caller(kTwo), kTwo, keys[1], dir / "b");
  const std::string displayname =
      "/_matrix/client/v3/profile/" + transport::url_encode(b.user_id()) + "/displayname";
  ASSERT_TRUE(b.request("PUT", displayname, {{"displayname", "0xnot-a-signature"}}));
  a.send(keys[1].address(), "for b");
  idle(30'000);
  EXPECT_GE(a.stats().ids_refused, 1u);
  EXPECT_EQ(a.stats().transmitted, 0u);
  EXPECT_EQ(a.stats().outbox, 1u) << "kept until an id is proven (or max_age)";

  // Once the displayname proves it, the message goes out (refused ids are checked again).
  ASSERT_TRUE(b.request("PUT", displayname,
                        {{"displayname", matrix_identity(keys[1], kTwo).displayname.to_hex()}}));
  EXPECT_TRUE(run([&] { return a.stats().payloads >= 1; }, 600'000));
}

TEST_F(FederationScenario, LookUpsOfAKnownServerThatIsDownDoNotHoldBackTheOthers) {
  const auto keys = ascending_keys(2);
  hub.take_down(kThree);
  DrivenNode& a = node("a", kOne, keys[0]);
  DrivenNode& b = node("b", kTwo, keys[1]);
  ASSERT_TRUE(round_trip(a, b, "found on server two"));
  EXPECT_GE(a.stats().id_lookups_failed, 1u) << "@b:three.test: its server does not answer";
  const auto lookups = a.stats().id_lookups;
  // More messages, no more look-ups: b's id is proven and cached.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(round_trip(a, b, "again " + std::to_string(i)));
  EXPECT_EQ(a.stats().id_lookups, lookups);
}

TEST_F(FederationScenario, APeerThatMovedToAnotherServerIsFoundThereWhenDeliveriesKeepFailing) {
  const auto keys = ascending_keys(2);
  DrivenNode& a = node("a", kOne, keys[0]);
  node("b", kTwo, keys[1]);
  ASSERT_TRUE(round_trip(a, *nodes.back(), "before the move"));
  // b's server dies and b starts again on server three (Node's failover does the same).
  nodes.pop_back();
  hub.take_down(kTwo);
  DrivenNode& moved = node("b-moved", kThree, keys[1]);
  a.send(moved.address(), "after the move");
  ASSERT_TRUE(run([&] { return a.count(NodeEventType::delivered) == 2; }, 600'000));
  EXPECT_EQ(moved.bodies(), std::vector<std::string>{"after the move"});
  EXPECT_GE(a.stats().resent, 1u) << "found again only once deliveries to the old id failed";
}

// ---------------------------------------------------------------------------------------------
// Broadcast rooms across servers (PROTOCOL §6, §8).

TEST_F(FederationScenario, OnlyANodeOnTheBroadcastServerCreatesTheRoomAndOthersJoinIt) {
  const std::string topic = "raiden_1_path_finding";
  DrivenNode& far = node("far", kTwo, PrivateKey::generate());
  DrivenNode& near = node("near", kOne, PrivateKey::generate());
  // The node on server two asks first: it keeps trying the join until `near` has made the room.
  far.subscribe(topic);
  idle(10'000);
  EXPECT_FALSE(far.room_of(topic));
  near.subscribe(topic);
  ASSERT_TRUE(all_joined(topic));
  ASSERT_TRUE(*near.room_of(topic)) << describe(near.room_of(topic)->error());
  ASSERT_TRUE(*far.room_of(topic)) << describe(far.room_of(topic)->error());
  EXPECT_EQ(**far.room_of(topic), **near.room_of(topic)) << "one room for the federation";
  EXPECT_TRUE(near.room_of(topic)->value().ends_with(std::string(":") + kOne));

  near.broadcast(topic, "capacity update");
  ASSERT_TRUE(run([&] { return far.count(NodeEventType::message) == 1; }));
  EXPECT_EQ(far.events().back().topic, topic);
  far.broadcast(topic, "route request");
  ASSERT_TRUE(run([&] { return near.count(NodeEventType::message) == 1; }));
  EXPECT_EQ(near.bodies(), std::vector<std::string>{"route request"});
}

TEST_F(FederationScenario, NodesKeepPublishingThroughTheirOwnServersWhileTheBroadcastServerIsDown) {
  const std::string topic = "raiden_1_monitoring";
  std::vector<DrivenNode*> subscribers;
  for (const char* server : {kOne, kTwo, kThree}) {
    subscribers.push_back(&node(server, server, PrivateKey::generate()));
    subscribers.back()->subscribe(topic);
  }
  ASSERT_TRUE(all_joined(topic));
  hub.take_down(kOne);
  DrivenNode &on_two = *subscribers[1], &on_three = *subscribers[2];
  on_two.broadcast(topic, "from two");
  on_three.broadcast(topic, "from three");
  ASSERT_TRUE(run([&] {
    return on_two.count(NodeEventType::message) == 1 && on_three.count(NodeEventType::message) == 1;
  }));
  EXPECT_EQ(on_two.bodies(), std::vector<std::string>{"from three"});
  EXPECT_EQ(on_three.bodies(), std::vector<std::string>{"from two"});
}

TEST_F(FederationScenario, EachSubscriberReceivesEveryOtherBroadcastOnce) {
  const std::string topic = "raiden_1_path_finding";
  const char* servers[] = {kOne, kTwo, kThree};
  for (int i = 0; i < 6; ++i) {
    DrivenNode& n = node("n" + std::to_string(i), servers[i % 3], PrivateKey::generate());
    n.subscribe(topic);
  }
  ASSERT_TRUE(all_joined(topic));
  for (std::size_t i = 0; i < nodes.size(); ++i)
    nodes[i]->broadcast(topic, "from " + std::to_string(i));
  ASSERT_TRUE(run([&] {
    for (auto& n : nodes)
      if (n->count(NodeEventType::message) < nodes.size() - 1) return false;
    return true;
  }));
  idle(10'000);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::multiset<std::string> expected, got;
    for (std::size_t j = 0; j < nodes.size(); ++j)
      if (j != i) expected.insert("from " + std::to_string(j));
    for (const auto& body : nodes[i]->bodies()) got.insert(body);
    EXPECT_EQ(got, expected) << "node " << i;
  }
}

TEST_F(FederationScenario, APublisherOutsideTheTopicsAllowlistIsNotAllowed) {
  const std::string topic = "raiden_1_path_finding";
  const PrivateKey pfs = PrivateKey::generate(), other = PrivateKey::generate();
  NodeConfig strict = config();
  strict.policy.publishers[topic] = {pfs.address()};
  DrivenNode& reader = node("reader", kThree, PrivateKey::generate(), strict);
  DrivenNode& a = node("pfs", kOne, pfs);
  DrivenNode& b = node("other", kTwo, other);
  for (DrivenNode* n : {&reader, &a, &b}) n->subscribe(topic);
  ASSERT_TRUE(all_joined(topic));
  b.broadcast(topic, "not a pathfinding service");
  a.broadcast(topic, "capacity update");
  ASSERT_TRUE(run([&] {
    return reader.count(NodeEventType::message) == 1 && reader.count(NodeEventType::rejected) == 1;
  }));
  EXPECT_EQ(reader.bodies(), std::vector<std::string>{"capacity update"});
  for (const auto& e : reader.events()) {
    if (e.type != NodeEventType::rejected) continue;
    EXPECT_EQ(e.reason, RejectReason::not_allowed);
    EXPECT_EQ(e.peer, other.address());
    EXPECT_EQ(e.topic, topic);
  }
}

TEST_F(FederationScenario, EnvelopesThatDoNotBelongInTheRoomAreRejected) {
  const std::string topic = "raiden_1_discovery_0x0000000000000000000000000000000000000001";
  const PrivateKey eve_key = PrivateKey::generate();
  DrivenNode& reader = node("reader", kTwo, PrivateKey::generate());
  reader.subscribe(topic);
  node("creator", kOne, PrivateKey::generate()).subscribe(topic);
  ASSERT_TRUE(all_joined(topic));
  RawPeer eve(hub.caller(kThree), kThree, eve_key, dir / "eve");
  const std::string room = reader.room_of(topic)->value();
  ASSERT_TRUE(eve.call(transport::calls::join(room)));
  const std::int64_t now = hub.clock().wall_ms;
  const json other_topic = Envelope::broadcast(eve_key, "raiden_1_monitoring", "x", now).to_json();
  const json unicast = Envelope::message(eve_key, reader.address(), "private", now).to_json();
  const json good = Envelope::broadcast(eve_key, topic, "welcome", now).to_json();
  ASSERT_TRUE(eve.call(
      transport::calls::send_room_event(room, "network.raiden.envelopes", "t1",
                                        {{"envelopes", {other_topic, unicast, good, good}}})));
  ASSERT_TRUE(run([&] { return reader.stats().rejected[RejectReason::replay] == 1; }));
  NodeStats s = reader.stats();
  EXPECT_EQ(s.rejected[RejectReason::wrong_topic], 1u);
  EXPECT_EQ(s.rejected[RejectReason::wrong_recipient], 1u);
  EXPECT_EQ(reader.bodies(), std::vector<std::string>{"welcome"});
  EXPECT_EQ(s.acks_sent, 0u) << "broadcasts are not acked";
}

TEST_F(FederationScenario, ABroadcastRoomFloodedPastTheAnswerCapDoesNotStopTheNodeReceiving) {
  const std::string topic = "raiden_1_monitoring";
  DrivenNode& reader = node("reader", kOne, PrivateKey::generate());
  DrivenNode& peer = node("peer", kTwo, PrivateKey::generate());
  reader.subscribe(topic);
  ASSERT_TRUE(run([&] { return reader.room_of(topic).has_value(); }));
  ASSERT_TRUE(round_trip(peer, reader, "before"));
  hub.cap_answers(1 << 20);
  RawPeer eve(hub.caller(kThree), kThree, PrivateKey::generate(), dir / "eve");
  const std::string room = reader.room_of(topic)->value();
  ASSERT_TRUE(eve.call(transport::calls::join(room)));
  // 300 events of 8 KB: 2.4 MB of new events in one room, more than an answer may hold.
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(eve.call(transport::calls::send_room_event(
        room, "network.raiden.envelopes", "flood" + std::to_string(i),
        {{"envelopes", json::array()}, {"pad", std::string(8000, 'x')}})));
  EXPECT_TRUE(round_trip(peer, reader, "after the flood"));
}

TEST_F(FederationScenario, ASquattedBroadcastAliasIsReportedAndNeverPublishedIn) {
  const std::string topic = "raiden_1_monitoring";
  // Someone on the broadcast server takes the alias first, for a room where members may not post.
  RawPeer squatter(hub.caller(kOne), kOne, PrivateKey::generate(), dir / "squatter");
  ASSERT_TRUE(squatter.call(transport::calls::create_room(
      {{"room_alias_name", topic},
       {"preset", "public_chat"},
       {"power_level_content_override", {{"events_default", 100}}}})));
  for (const char* server : {kOne, kTwo}) {
    DrivenNode& n = node(server, server, PrivateKey::generate());
    n.subscribe(topic);
    ASSERT_TRUE(run([&] { return n.room_of(topic).has_value(); }));
    ASSERT_FALSE(*n.room_of(topic));
    EXPECT_EQ(n.room_of(topic)->error().errcode, transport::kSquattedErrcode);
    EXPECT_NE(n.room_of(topic)->error().error.find("power level"), std::string::npos)
        << n.room_of(topic)->error().error;
    const std::string nonce = n.broadcast(topic, "balance proof");
    ASSERT_TRUE(run([&] { return n.published(nonce).has_value(); }));
    EXPECT_FALSE(*n.published(nonce));
    idle(5'000);
    EXPECT_EQ(n.count(NodeEventType::squatted), 1u) << "reported once";
    EXPECT_EQ(n.stats().squatted, 1u);
  }
  EXPECT_FALSE(squatter.call(transport::calls::request(
      "GET", "/_matrix/client/v3/directory/room/" + transport::url_encode("#" + topic + ":" + kTwo),
      nullptr)))
      << "neither node made a room of its own on server two";
}

TEST_F(FederationScenario, ASquattedRoomThatIsMendedIsUsedOnceCheckedAgain) {
  const std::string topic = "raiden_1_monitoring";
  RawPeer squatter(hub.caller(kOne), kOne, PrivateKey::generate(), dir / "squatter");
  auto created = squatter.call(
      transport::calls::create_room({{"room_alias_name", topic},
                                     {"preset", "public_chat"},
                                     {"power_level_content_override", {{"events_default", 100}}}}));
  ASSERT_TRUE(created);
  const std::string room = (*created)["room_id"];
  DrivenNode& n = node("n", kTwo, PrivateKey::generate());
  n.subscribe(topic);
  ASSERT_TRUE(run([&] { return n.count(NodeEventType::squatted) == 1; }));
  const std::string levels =
      "/_matrix/client/v3/rooms/" + transport::url_encode(room) + "/state/m.room.power_levels/";
  auto content = squatter.request("GET", levels, nullptr);
  ASSERT_TRUE(content);
  (*content)["events_default"] = 0;
  ASSERT_TRUE(squatter.request("PUT", levels, *content));
  // Judged again when its state changes (PROTOCOL §6): once mended, it is used.
  idle(1'000);
  const std::string nonce = n.broadcast(topic, "balance proof");
  ASSERT_TRUE(run([&] { return n.published(nonce).has_value(); }));
  EXPECT_TRUE(*n.published(nonce)) << describe(n.published(nonce)->error());
  EXPECT_EQ(n.count(NodeEventType::squatted), 1u);
}

TEST_F(FederationScenario, TwoNodesOnTheBroadcastServerCreatingTheRoomAtOnceShareIt) {
  const std::string topic = "raiden_1_path_finding";
  DrivenNode& a = node("a", kOne, PrivateKey::generate());
  DrivenNode& b = node("b", kOne, PrivateKey::generate());
  a.subscribe(topic);
  b.subscribe(topic);  // one of them finds the alias taken (M_ROOM_IN_USE) and joins instead
  ASSERT_TRUE(all_joined(topic));
  ASSERT_TRUE(*a.room_of(topic));
  ASSERT_TRUE(*b.room_of(topic));
  EXPECT_EQ(**a.room_of(topic), **b.room_of(topic));
  EXPECT_EQ(hub.requests("/createRoom"), 2u);
}

TEST_F(FederationScenario, ABroadcastRoomNotCreatedByAnOperatorIsSquatted) {
  const std::string topic = "raiden_1_events_operator";
  DrivenNode& creator = node("creator", kOne, PrivateKey::generate());
  creator.subscribe(topic);  // created by a node that is not the operator
  ASSERT_TRUE(run([&] { return creator.room_of(topic).has_value(); }));
  NodeConfig strict = config();
  strict.broadcast_operators = std::set<Address>{PrivateKey::generate().address()};
  DrivenNode& n = node("strict", kTwo, PrivateKey::generate(), strict);
  n.subscribe(topic);
  ASSERT_TRUE(run([&] { return n.room_of(topic).has_value(); }));
  ASSERT_FALSE(*n.room_of(topic));
  EXPECT_NE(n.room_of(topic)->error().error.find("operator"), std::string::npos)
      << n.room_of(topic)->error().error;
}

INSTANTIATE_TEST_SUITE_P(Carriers, FederationOnEachCarrier,
                         ::testing::Values(Carrier::to_device, Carrier::room), CarrierName{});

}  // namespace
}  // namespace mrt::testing
