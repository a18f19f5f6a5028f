// At scale: "joining an existing room with 1,000 members fetches no member list". 1,000 users
// join the broadcast room over HTTP first; then a node subscribes through a CountingProxy,
// which sees every request it makes and every /sync answer it gets. The node's sync filter
// (lazy-loaded members, transport/node_worker_state.hpp) is what keeps the list away: without
// it the devserver sends the room's whole state, 1,000 m.room.member events, on the join; the
// control at the end shows the proxy would count them.
#include <atomic>
#include <thread>

#include <mrt/envelope.hpp>

#include "counting_proxy.hpp"
#include "http_io.hpp"
#include "matrix_client.hpp"
#include "node_fixture.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using transport::HttpIo;
using transport::MatrixClient;

constexpr std::size_t kMembers = 1000;

// Logs in `count` new users with Ethereum keys (PROTOCOL §2) and joins each to `room`, a few
// at a time (each login and join waits for the server's durable commit; many in flight share
// it). Returns how many joined.
std::size_t join_users(const std::string& base_url, const std::string& server_name,
                       const std::string& room, std::size_t count) {
  HttpIo io;
  std::atomic<std::size_t> next{0}, joined{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      while (next++ < count) {
        MatrixClient client(io, {.base_url = base_url});
        const PrivateKey key = PrivateKey::generate();
        if (!client.login_ethereum(key, server_name).get()) continue;
        if (client.join(room).get()) ++joined;
      }
    });
  }
  for (auto& t : threads) t.join();
  return joined;
}

TEST_F(NodeTest, JoiningABroadcastRoomWithAThousandMembersFetchesNoMemberList) {
  const std::string topic = "raiden_1_monitoring";
  // The room as a node would create it (transport/node_broadcast.cpp), by one of the members.
  HttpIo io;
  MatrixClient creator(io, {.base_url = base_url()});
  const PrivateKey creator_key = PrivateKey::generate();
  ASSERT_TRUE(creator.login_ethereum(creator_key, server_name()).get());
  auto made = creator
                  .create_room({{"room_alias_name", topic},
                                {"preset", "public_chat"},
                                {"name", topic},
                                {"visibility", "private"}})
                  .get();
  ASSERT_TRUE(made);
  const std::string room = (*made)["room_id"];
  ASSERT_EQ(join_users(base_url(), server_name(), room, kMembers - 1), kMembers - 1);

  testing::CountingProxy proxy(base_url());
  NodeConfig c = config("reader", Carrier::to_device);
  c.homeserver = proxy.base_url();
  auto node = Node::open(c, PrivateKey::generate());
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->start());
  // Joined after the first sync, as a running node joins: the join comes in an incremental one
  // (an initial sync would carry up to the filter's 200 latest timeline events, here joins).
  ASSERT_TRUE(eventually([&] { return node->stats().syncs >= 1; }));
  ASSERT_EQ(node->subscribe(topic).value(), room);

  const json envelope = Envelope::broadcast(creator_key, topic, "to all", now_ms()).to_json();
  ASSERT_TRUE(
      creator.send_room_event(room, "network.raiden.envelopes", "t1", {{"envelopes", {envelope}}})
          .get());
  auto events = collect(*node, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  ASSERT_EQ(count(events, NodeEventType::message), 1u);
  const auto message = std::find_if(events.begin(), events.end(), [](const NodeEvent& e) {
    return e.type == NodeEventType::message;
  });
  EXPECT_EQ(message->body, "to all");
  EXPECT_EQ(message->topic, topic);
  EXPECT_EQ(message->peer, creator_key.address());

  // No member list asked for, none sent with the join: the node's own join event and the
  // members of the few senders it saw (lazy loading), against 1,000 in the room.
  EXPECT_EQ(proxy.requests_to("/members"), 0u);
  EXPECT_EQ(proxy.requests_to("/joined_members"), 0u);
  EXPECT_EQ(proxy.requests_to("/messages"), 0u) << "nor its history";
  EXPECT_EQ(proxy.requests_to("/keys/query"), 0u) << "nor the members' device keys";
  const std::size_t synced = proxy.member_events_synced(room);
  EXPECT_LE(synced, 5u);
  std::string paths;
  for (const auto& p : proxy.paths()) paths += " " + p;
  RecordProperty("member_events_synced", static_cast<int>(synced));
  RecordProperty("largest_sync_bytes", static_cast<int>(proxy.largest_sync_bytes()));
  RecordProperty("largest_device_list_change",
                 static_cast<int>(proxy.largest_device_list_change()));
  std::cout << "node's requests:" << paths << "\nm.room.member events synced: " << synced
            << ", largest /sync answer: " << proxy.largest_sync_bytes()
            << " bytes, most user ids in one device_lists.changed: "
            << proxy.largest_device_list_change() << "\n";
  node->stop();

  // Control: the same observation of a client that joins without lazy loading sees the list.
  MatrixClient eager(io, {.base_url = proxy.base_url()});
  ASSERT_TRUE(eager.login_ethereum(PrivateKey::generate(), server_name()).get());
  ASSERT_TRUE(eager.join(room).get());
  ASSERT_TRUE(eager.sync("", 0).get());
  EXPECT_GE(proxy.member_events_synced(room) - synced, kMembers)
      << "the proxy must see a member list when one is sent";
}

}  // namespace
}  // namespace mrt
