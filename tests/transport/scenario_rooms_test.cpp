// PROTOCOL §5's DM rooms in process. At the invited node: which invites it joins (only from a
// proven lower address, at most Policy::max_new_dm_rooms_per_hour in any hour, so a Sybil flood
// of invites costs a cap), and that it leaves a room that is not, or stops being, a DM room. At
// the creator: the invite is sent again while the partner has not joined.
#include <algorithm>

#include <gtest/gtest.h>

#include <mrt/envelope.hpp>

#include "dm_room.hpp"
#include "testing/driven_node.hpp"
#include "testing/ordered_keys.hpp"
#include "testing/raw_peer.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {
namespace {

using json = nlohmann::json;
namespace calls = transport::calls;
constexpr const char* kServer = "hs.test";

class RoomScenario : public ::testing::Test {
 protected:
  RoomScenario() { hub.add_server(kServer); }
  ~RoomScenario() override {
    peers.clear();
    node.reset();
    std::filesystem::remove_all(dir);
  }
  void start_node(const PrivateKey& key, NodeConfig config = {}) {
    config.carrier = Carrier::to_device;
    node = std::make_unique<DrivenNode>(hub, dir / "node", kServer, key, config);
  }
  RawPeer& peer(const PrivateKey& key) {
    peers.push_back(std::make_unique<RawPeer>(hub.caller(kServer), kServer, key,
                                              dir / ("peer" + std::to_string(peers.size()))));
    return *peers.back();
  }
  // A room shaped like §5's DM room between `from` (lower) and the node, the node invited.
  std::string invite(RawPeer& from, const PrivateKey& from_key) {
    auto r = from.call(calls::create_room(
        transport::dm_room_create_body(from_key.address(), node->address(), {node->user_id()})));
    if (!r) throw std::runtime_error("createRoom: " + describe(r.error()));
    return (*r)["room_id"].get<std::string>();
  }
  std::string membership(RawPeer& member, const std::string& room, const std::string& user) {
    auto r = member.request("GET",
                            "/_matrix/client/v3/rooms/" + transport::url_encode(room) +
                                "/state/m.room.member/" + transport::url_encode(user),
                            json::object());
    return r ? r->value("membership", "") : "";
  }
  bool run(const std::function<bool()>& done) { return run_until(hub, {node.get()}, done); }

  std::filesystem::path dir = fresh_dir("rooms");
  HomeserverHub hub{dir / "servers"};
  std::unique_ptr<DrivenNode> node;
  std::vector<std::unique_ptr<RawPeer>> peers;
};

TEST_F(RoomScenario, AnInviteFromAProvenLowerAddressIsJoined) {
  auto keys = ascending_keys(2);
  start_node(keys[1]);
  RawPeer& alice = peer(keys[0]);
  const std::string room = invite(alice, keys[0]);
  EXPECT_TRUE(run([&] { return membership(alice, room, node->user_id()) == "join"; }));
  EXPECT_EQ(node->stats().invites_refused, 0u);
}

TEST_F(RoomScenario, AnInviteFromAHigherAddressIsRefused) {
  auto keys = ascending_keys(2);
  start_node(keys[0]);
  RawPeer& eve = peer(keys[1]);
  auto r = eve.call(calls::create_room(
      transport::dm_room_create_body(node->address(), keys[1].address(), {node->user_id()})));
  ASSERT_TRUE(r);
  const std::string room = (*r)["room_id"].get<std::string>();
  EXPECT_TRUE(run([&] { return node->stats().invites_refused == 1; }));
  EXPECT_NE(membership(eve, room, node->user_id()), "join");
}

TEST_F(RoomScenario, ASybilFloodOfInvitesJoinsNoMoreThanTheHourlyCap) {
  auto keys = ascending_keys(9);  // the node has the highest address: all eight may invite
  NodeConfig config;
  config.policy.max_new_dm_rooms_per_hour = 3;
  start_node(keys.back(), config);
  std::vector<std::pair<RawPeer*, std::string>> rooms;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    RawPeer& sybil = peer(keys[i]);
    rooms.emplace_back(&sybil, invite(sybil, keys[i]));
  }
  ASSERT_TRUE(run([&] { return node->stats().invites_over_limit == 5; }));
  run([] { return false; });
  std::size_t joined = 0;
  for (auto& [sybil, room] : rooms) joined += membership(*sybil, room, node->user_id()) == "join";
  EXPECT_EQ(joined, 3u);
}

TEST_F(RoomScenario, ADmRoomAThirdUserJoinsIsLeft) {
  auto keys = ascending_keys(3);
  start_node(keys[1]);
  RawPeer& alice = peer(keys[0]);
  const std::string room = invite(alice, keys[0]);
  ASSERT_TRUE(run([&] { return membership(alice, room, node->user_id()) == "join"; }));
  RawPeer& mallory = peer(keys[2]);
  ASSERT_TRUE(alice.call(calls::invite(room, mallory.user_id())));
  ASSERT_TRUE(mallory.call(calls::join(room)));
  EXPECT_TRUE(run([&] { return membership(alice, room, node->user_id()) == "leave"; }));
}

TEST_F(RoomScenario, ADmRoomWhoseEncryptionIsNotTheProtocolsIsLeft) {
  auto keys = ascending_keys(2);
  start_node(keys[1]);
  RawPeer& alice = peer(keys[0]);
  json body = transport::dm_room_create_body(keys[0].address(), node->address(), {node->user_id()});
  for (auto& e : body["initial_state"])
    if (e["type"] == "m.room.encryption") e["content"]["rotation_period_msgs"] = 1000000;
  auto r = alice.call(calls::create_room(body));
  ASSERT_TRUE(r);
  const std::string room = (*r)["room_id"].get<std::string>();
  // Judged on its whole state once joined (the invite shows too little of it), then left.
  EXPECT_TRUE(run([&] { return membership(alice, room, node->user_id()) == "leave"; }));
}

TEST_F(RoomScenario, TheCreatorInvitesAgainAPartnerThatHasNotJoinedWithinAMinute) {
  auto keys = ascending_keys(2);
  NodeConfig config;
  config.carrier = Carrier::room;
  node = std::make_unique<DrivenNode>(hub, dir / "node", kServer, keys[0], config);
  peer(keys[1]);  // the partner: its id is proven and its device attested, but it never joins
  node->send(keys[1].address(), "opens the room");
  ASSERT_TRUE(run([&] { return hub.requests("/createRoom") == 1; }));
  const std::int64_t created = hub.clock().steady_ms;
  ASSERT_TRUE(run([&] { return hub.requests("/invite") == 1; }));
  EXPECT_GE(hub.clock().steady_ms - created, 60'000);
  EXPECT_LT(hub.clock().steady_ms - created, 62'000);
  EXPECT_EQ(hub.requests("/createRoom"), 1u) << "the room is not dead: no new one";
}

TEST_F(RoomScenario, TheCreatorStopsInvitingAfterFiveTriesUntilTheApplicationSendsAgain) {
  auto keys = ascending_keys(2);
  NodeConfig config;
  config.carrier = Carrier::room;
  node = std::make_unique<DrivenNode>(hub, dir / "node", kServer, keys[0], config);
  peer(keys[1]);  // never joins
  node->send(keys[1].address(), "opens the room");
  run_until(
      hub, {node.get()}, [] { return false; }, 10 * 60'000);
  EXPECT_EQ(hub.requests("/invite"), 5u);
  node->send(keys[1].address(), "a reason to invite again");
  EXPECT_TRUE(run([&] { return hub.requests("/invite") == 6; }));
}

TEST_F(RoomScenario, RoomsForSybilsThatWroteFirstCountAgainstTheHourlyCap) {
  auto keys = ascending_keys(9);  // the node has the lowest address: it would create every room
  NodeConfig config;
  config.carrier = Carrier::room;
  config.policy.max_new_dm_rooms_per_hour = 3;
  node = std::make_unique<DrivenNode>(hub, dir / "node", kServer, keys[0], config);
  for (std::size_t i = 1; i < keys.size(); ++i) {
    const json hello =
        Envelope::message(keys[i], node->address(), "hello", hub.clock().wall_ms).to_json();
    peer(keys[i]).send_to_device(node->user_id(), {{"envelopes", {hello}}});
  }
  ASSERT_TRUE(run([&] { return node->stats().dm_rooms_over_limit == 5; }));
  EXPECT_EQ(node->count(NodeEventType::message), 8u) << "their envelopes still count";
  EXPECT_EQ(hub.requests("/createRoom"), 3u);
}

}  // namespace
}  // namespace mrt::testing
