// Homeserver choice, failover and multi-homing: nodes configured with two `mrt serve`
// children that do not federate (the fixture's "localhost" and "hs2"). A node keeps its Ethereum
// identity and its outbox whichever homeserver it uses; an envelope that reaches it over both is
// accepted once. Devserver only: two homeservers that do not federate, which synapse.sh's do.
#include <thread>

#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>

#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"
#include "testing/server_process.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using mrt::testing::RawPeer;
using mrt::testing::ServerProcess;

std::vector<std::string> sorted_bodies(const std::vector<NodeEvent>& events) {
  std::vector<std::string> bodies;
  for (const auto& e : events)
    if (e.type == NodeEventType::message) bodies.push_back(e.body);
  std::sort(bodies.begin(), bodies.end());
  return bodies;
}

std::vector<std::string> numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> bodies;
  for (int i = from; i < to; ++i) bodies.push_back(prefix + std::to_string(i));
  return bodies;
}

class NodeHomesTest : public NodeTest {
 public:
  void SetUp() override {
    if (testing::test_homeserver_kind() != HomeserverKind::devserver)
      GTEST_SKIP() << "devserver only: two mrt serve that do not federate";
    NodeTest::SetUp();
    std::vector<std::string> args = kNoLimits;
    args.insert(args.end(), {"--server-name", "hs2"});
    second_ = std::make_unique<ServerProcess>(root_ / "server2", args);
  }
  void TearDown() override {
    nodes_.clear();
    second_.reset();
    NodeTest::TearDown();
  }

  // Both homeservers, the fixture's ("localhost") first; accounts on `homes` of them.
  NodeConfig homes_config(const std::string& name, Carrier carrier, std::size_t homes) {
    NodeConfig c = config(name, carrier);
    c.homeservers = {{second_->base_url(), "hs2"}};
    c.homes = homes;
    c.failover_after = 1s;
    return c;
  }

  Node& start_with(const std::string& name, const PrivateKey& key, NodeConfig c) {
    auto node = Node::open(std::move(c), key);
    if (!node) throw std::runtime_error(node.error().message);
    auto started = node->start();
    if (!started) throw std::runtime_error(started.error().message);
    nodes_[name] = std::make_unique<Node>(std::move(*node));
    return *nodes_[name];
  }

  // Sends `first`, kills the fixture's homeserver with SIGKILL, sends `second`, and returns
  // what `b` received until it has every message (or the patience ran out), plus 2 s more in
  // which a duplicate would show.
  std::vector<NodeEvent> burst_across_a_kill(Node& a, Node& b,
                                             const std::vector<std::string>& first,
                                             const std::vector<std::string>& second) {
    EXPECT_TRUE(a.send_many(b.address(), first));
    homeserver().kill_hard();
    EXPECT_TRUE(a.send_many(b.address(), second));
    const std::size_t all = first.size() + second.size();
    auto got = collect(
        b, [&](auto& ev) { return count(ev, NodeEventType::message) >= all; }, 40s);
    auto later = collect(
        b, [](auto&) { return false; }, 2s);
    got.insert(got.end(), later.begin(), later.end());
    return got;
  }

  std::unique_ptr<ServerProcess> second_;
};

TEST_F(NodeHomesTest, UnreachableFirstHomeserverIsSkippedAtStart) {
  NodeConfig c = config("a", Carrier::to_device);
  c.homeserver = "http://127.0.0.1:1";  // nothing listens there
  c.server_name = "dead";
  c.homeservers = {{second_->base_url(), "hs2"}};
  Node& a = start_with("a", PrivateKey::generate(), c);
  ASSERT_EQ(a.homes().size(), 1u);
  EXPECT_EQ(a.homes()[0].server_name, "hs2");
  EXPECT_TRUE(a.user_id().ends_with(":hs2"));
}

TEST_F(NodeHomesTest, MultiHomedNodeHasAnAccountOnEachHomeserverWithOneIdentity) {
  const PrivateKey key = PrivateKey::generate();
  Node& a = start_with("a", key, homes_config("a", Carrier::to_device, 2));
  auto homes = a.homes();
  ASSERT_EQ(homes.size(), 2u);
  std::set<std::string> users;
  for (const auto& h : homes) users.insert(h.user_id);
  EXPECT_EQ(users, (std::set<std::string>{matrix_user_id(key.address(), server_name()),
                                          matrix_user_id(key.address(), "hs2")}));
  EXPECT_LE(homes[0].rtt_ms, homes[1].rtt_ms);
}

TEST_F(NodeHomesTest, TooManyHomesIsABadConfig) {
  auto node = Node::open(homes_config("a", Carrier::room, 3), PrivateKey::generate());
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().kind, NodeErrorKind::bad_config);
  NodeConfig twice = config("b", Carrier::room);
  twice.homeservers = {{second_->base_url(), server_name()}};
  auto same_name = Node::open(twice, PrivateKey::generate());
  ASSERT_FALSE(same_name);
  EXPECT_EQ(same_name.error().kind, NodeErrorKind::bad_config);
}

TEST_F(NodeHomesTest, EnvelopeArrivingOverBothHomeserversIsDeliveredOnce) {
  auto [ka, kb] = ordered_keys();
  Node& node = start_with("node", kb, homes_config("node", Carrier::to_device, 2));
  RawPeer one(base_url(), server_name(), ka, root_ / "raw1");
  RawPeer two(second_->base_url(), "hs2", ka, root_ / "raw2");
  const int kEnvelopes = 20;
  // The same signed envelopes race each other over the two homeservers.
  std::vector<json> envelopes;
  for (int i = 0; i < kEnvelopes; ++i)
    envelopes.push_back(
        Envelope::message(ka, node.address(), "twice " + std::to_string(i), now_ms()).to_json());
  std::thread over_two([&] {
    for (const auto& e : envelopes)
      two.send_to_device(matrix_user_id(node.address(), "hs2"),
                         json{{"envelopes", json::array({e})}});
  });
  for (const auto& e : envelopes)
    one.send_to_device(matrix_user_id(node.address(), server_name()),
                       json{{"envelopes", json::array({e})}});
  over_two.join();

  auto got = collect(node, [&](auto& ev) {
    return count(ev, NodeEventType::message) + count(ev, NodeEventType::rejected) >=
           2u * kEnvelopes;
  });
  EXPECT_EQ(count(got, NodeEventType::message), static_cast<std::size_t>(kEnvelopes));
  EXPECT_EQ(node.stats().rejected[RejectReason::replay], static_cast<std::uint64_t>(kEnvelopes));
  auto bodies = sorted_bodies(got);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), bodies.size());
}

TEST_F(NodeHomesTest, FailoverMidBurstDeliversEveryMessageOnce) {
  auto [ka, kb] = ordered_keys();
  Node& a = start_with("a", ka, homes_config("a", Carrier::to_device, 1));
  Node& b = start_with("b", kb, homes_config("b", Carrier::to_device, 1));
  ASSERT_EQ(a.homes()[0].server_name, server_name());
  ASSERT_EQ(b.homes()[0].server_name, server_name());
  const auto first = numbered("before ", 0, 100), second = numbered("after ", 0, 100);

  auto got = burst_across_a_kill(a, b, first, second);

  std::vector<std::string> sent = first;
  sent.insert(sent.end(), second.begin(), second.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sorted_bodies(got), sent);  // each exactly once
  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 200; });
  EXPECT_EQ(count(acked, NodeEventType::delivered), 200u);
  EXPECT_EQ(a.homes()[0].server_name, "hs2");
  EXPECT_EQ(a.stats().failovers, 1u);
  EXPECT_TRUE(a.user_id().ends_with(":hs2"));
}

TEST_F(NodeHomesTest, FailoverKeepsTheRoomCarrierGoing) {
  auto [ka, kb] = ordered_keys();
  Node& a = start_with("a", ka, homes_config("a", Carrier::room, 1));
  Node& b = start_with("b", kb, homes_config("b", Carrier::room, 1));
  auto got = burst_across_a_kill(a, b, numbered("m", 0, 50), numbered("m", 50, 100));
  EXPECT_EQ(sorted_bodies(got).size(), 100u);
  auto bodies = sorted_bodies(got);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 100u);
}

TEST_F(NodeHomesTest, MultiHomedNodesLoseNothingWhenOneHomeserverDies) {
  auto [ka, kb] = ordered_keys();
  Node& a = start_with("a", ka, homes_config("a", Carrier::to_device, 2));
  Node& b = start_with("b", kb, homes_config("b", Carrier::to_device, 2));
  auto got = burst_across_a_kill(a, b, numbered("x", 0, 150), numbered("x", 150, 300));
  auto bodies = sorted_bodies(got);
  EXPECT_EQ(bodies.size(), 300u);                                               // no loss
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 300u);  // no duplicate
  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 300; });
  EXPECT_EQ(count(acked, NodeEventType::delivered), 300u);
  EXPECT_EQ(a.homes().size(), 2u);  // no spare to fail over to: the dead one keeps retrying
}

TEST_F(NodeHomesTest, DiscoveryFindsAnAddressOnEveryHomeserver) {
  auto [ka, kb] = ordered_keys();
  Node& a = start_with("a", ka, homes_config("a", Carrier::to_device, 2));
  Node& b = start_with("b", kb, homes_config("b", Carrier::to_device, 2));
  auto found = b.discover(a.address());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(std::set<std::string>(found->begin(), found->end()),
            (std::set<std::string>{matrix_user_id(a.address(), server_name()),
                                   matrix_user_id(a.address(), "hs2")}));
}

}  // namespace
}  // namespace mrt
