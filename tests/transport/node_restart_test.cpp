// Exactly-once delivery across restarts (in process: stop() and open() again on the same
// store). The kill -9 variants, with `mrt node` child processes, are in tests/cli.
#include "http_io.hpp"
#include "matrix_client.hpp"
#include "node_fixture.hpp"

namespace mrt {
namespace {

std::vector<std::string> bodies_of(const std::vector<NodeEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    if (e.type == NodeEventType::message) out.push_back(e.body);
  return out;
}

TEST_F(NodeTest, UnconsumedMessageIsRedeliveredAfterARestartAndAConsumedOneNever) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node* b = &start("b", kb, Carrier::to_device);
  ASSERT_TRUE(a.send(b->address(), "consumed"));
  ASSERT_EQ(bodies_of(collect(*b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; })),
            std::vector<std::string>{"consumed"});

  ASSERT_TRUE(a.send(b->address(), "not consumed"));
  std::optional<NodeEvent> pending;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!pending && std::chrono::steady_clock::now() < deadline)
    if (auto e = b->next_event(100ms); e && e->type == NodeEventType::message) pending = e;
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->body, "not consumed");
  EXPECT_EQ(b->stats().inbox, 1u);

  nodes_.erase("b");  // stopped without consuming it
  b = &start("b", kb, Carrier::to_device);
  auto again = collect(*b, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  EXPECT_EQ(bodies_of(again), std::vector<std::string>{"not consumed"});
  EXPECT_EQ(again.front().id, pending->id);
  // Nothing else comes: the consumed message stays consumed, the sender got its acks.
  auto later = collect(
      *b, [](auto&) { return false; }, 1500ms);
  EXPECT_TRUE(bodies_of(later).empty());
}

TEST_F(NodeTest, DeliveredIsReportedAgainAfterARestartUntilConsumed) {
  auto [ka, kb] = ordered_keys();
  Node* a = &start("a", ka, Carrier::to_device);
  start("b", kb, Carrier::to_device);
  auto id = a->send(kb.address(), "x");
  ASSERT_TRUE(id);
  std::optional<NodeEvent> delivered;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!delivered && std::chrono::steady_clock::now() < deadline)
    if (auto e = a->next_event(100ms); e && e->type == NodeEventType::delivered) delivered = e;
  ASSERT_TRUE(delivered);  // seen, but not consumed

  nodes_.erase("a");
  a = &start("a", ka, Carrier::to_device);
  auto again = collect(*a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 1; });
  ASSERT_EQ(count(again, NodeEventType::delivered), 1u);
  EXPECT_EQ(again.back().id, *id);
  EXPECT_EQ(a->stats().outbox, 0u);

  nodes_.erase("a");  // collect() consumed it this time
  a = &start("a", ka, Carrier::to_device);
  EXPECT_EQ(count(collect(
                      *a, [](auto&) { return false; }, 1s),
                  NodeEventType::delivered),
            0u);
}

TEST_F(NodeTest, MessagesSentWhileTheReceiverIsDownArriveOnceAfterItReturns) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  start("b", kb, Carrier::to_device);  // known to the server and to a
  const Address b_address = kb.address();
  nodes_.erase("b");

  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) sent.push_back("while down " + std::to_string(i));
  ASSERT_TRUE(a.send_many(b_address, sent));
  std::this_thread::sleep_for(1s);  // a transmits them at least once

  Node& b = start("b", kb, Carrier::to_device);
  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) >= 20; });
  auto later = collect(
      b, [](auto&) { return false; }, 2s);  // resends must not show twice
  auto bodies = bodies_of(got);
  for (auto& body : bodies_of(later)) bodies.push_back(body);
  std::sort(bodies.begin(), bodies.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(bodies, sent);
  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 20; });
  EXPECT_EQ(count(acked, NodeEventType::delivered), 20u);
}

TEST_F(NodeTest, SenderRestartResumesItsOutbox) {
  auto [ka, kb] = ordered_keys();
  Node* a = &start("a", ka, Carrier::to_device);
  start("b", kb, Carrier::to_device);
  nodes_.erase("b");
  ASSERT_TRUE(a->send(kb.address(), "from the outbox"));
  nodes_.erase("a");  // down before any ack could come

  Node& b = start("b", kb, Carrier::to_device);
  a = &start("a", ka, Carrier::to_device);
  EXPECT_EQ(a->stats().outbox, 1u);
  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  EXPECT_EQ(bodies_of(got), std::vector<std::string>{"from the outbox"});
  auto acked = collect(*a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 1; });
  EXPECT_EQ(count(acked, NodeEventType::delivered), 1u);
  EXPECT_EQ(a->stats().outbox, 0u);
}

TEST_F(NodeTest, RestartKeepsTheDeviceAndTheRoom) {
  auto [ka, kb] = ordered_keys();
  Node* lower = &start("lower", ka, Carrier::room);
  Node& higher = start("higher", kb, Carrier::room);
  const std::string device = lower->device_id();
  bool on_room = false;
  for (int round = 0; round < 40 && !on_room; ++round) {
    ASSERT_TRUE(higher.send(lower->address(), "ping"));
    auto got = collect(*lower, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
    on_room = !got.empty() && got.back().carrier == Carrier::room;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(on_room);
  // The partner's displayname no longer proves anything: the room must still be used, because
  // the proof the lower node checked before is kept in its store (PROTOCOL §2).
  transport::HttpIo io;
  transport::MatrixClient client(io, {.base_url = base_url()});
  // Our login as its device revokes the higher node's token (on a homeserver that does, as the
  // spec says), and its login again revokes ours: log in again until the change gets through.
  bool renamed = false;
  for (int attempt = 0; attempt < 10 && !renamed; ++attempt) {
    ASSERT_TRUE(client.login_ethereum(kb, server_name(), higher.device_id()).get());
    renamed =
        static_cast<bool>(client
                              .request("PUT",
                                       "/_matrix/client/v3/profile/" +
                                           transport::url_encode(higher.user_id()) + "/displayname",
                                       {{"displayname", "not a signature"}})
                              .get());
  }
  ASSERT_TRUE(renamed);
  nodes_.erase("lower");
  lower = &start("lower", ka, Carrier::room);
  EXPECT_EQ(lower->device_id(), device);
  ASSERT_TRUE(lower->send(higher.address(), "after restart"));
  auto got = collect(higher, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  ASSERT_EQ(bodies_of(got).size(), 1u);
  EXPECT_EQ(got.back().carrier, Carrier::room);
  // The test's login as the higher node's device revoked that node's token: it logged in again.
  // (Synapse 1.67 keeps the older tokens of a device valid: no relogin is needed there.)
  if (homeserver().login_revokes_device_tokens()) {
    EXPECT_GE(higher.stats().relogins, 1u);
  }
}

TEST_F(NodeTest, HomeserverRestartMidBurstLosesNothing) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) sent.push_back("burst " + std::to_string(i));
  ASSERT_TRUE(a.send_many(b.address(), {sent.begin(), sent.begin() + 100}));
  homeserver().kill_hard();
  ASSERT_TRUE(a.send_many(b.address(), {sent.begin() + 100, sent.end()}));
  homeserver().restart();  // the same port and data

  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) >= 200; });
  auto later = collect(
      b, [](auto&) { return false; }, 2s);
  auto bodies = bodies_of(got);
  for (auto& body : bodies_of(later)) bodies.push_back(body);
  std::sort(bodies.begin(), bodies.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(bodies, sent);
  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 200; });
  EXPECT_EQ(count(acked, NodeEventType::delivered), 200u);
}

TEST_F(NodeTest, NodeThatLostItsStoreDeletesItsStaleDevice) {
  const PrivateKey key = PrivateKey::generate();
  const std::string old_device = start("a", key, Carrier::to_device).device_id();
  nodes_.erase("a");
  std::filesystem::remove_all(root_ / "a");  // the store is gone: a new device is needed

  const std::string new_device = start("a", key, Carrier::to_device).device_id();
  EXPECT_NE(new_device, old_device);
  nodes_.erase("a");  // a login as its device revokes its token: the node must not log in again
  transport::HttpIo io;
  transport::MatrixClient client(io, {.base_url = base_url()});
  ASSERT_TRUE(client.login_ethereum(key, server_name(), new_device).get());
  auto devices = client.request("GET", "/_matrix/client/v3/devices", {}).get();
  ASSERT_TRUE(devices);
  std::set<std::string> ids;
  for (const auto& d : (*devices)["devices"]) ids.insert(d["device_id"].get<std::string>());
  EXPECT_EQ(ids, std::set<std::string>{new_device});
}

}  // namespace
}  // namespace mrt
