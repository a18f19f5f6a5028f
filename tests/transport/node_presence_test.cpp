// Reachability from presence: a node is online while it runs, its peers see it go
// offline when it stops and come back when it restarts.
#include "node_fixture.hpp"

namespace mrt {
namespace {

// Reads events until `peer` is reported with `want`.
bool reported(Node& node, const Address& peer, Reachability want) {
  auto events = NodeTest::collect(node, [&](auto& ev) {
    return std::any_of(ev.begin(), ev.end(), [&](const NodeEvent& e) {
      return e.type == NodeEventType::reachability && e.peer == peer && e.reachability == want;
    });
  });
  return std::any_of(events.begin(), events.end(), [&](const NodeEvent& e) {
    return e.type == NodeEventType::reachability && e.peer == peer && e.reachability == want;
  });
}

TEST_F(NodeTest, PeerWithoutASharedRoomIsAskedAbout) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  start("b", kb, Carrier::to_device);
  // Synapse does not tell the presence of a user who shares no room with the asker (403, which
  // the spec allows): the node cannot know, and says so.
  const Reachability expected = homeserver().kind() == HomeserverKind::synapse
                                    ? Reachability::unknown
                                    : Reachability::reachable;
  EXPECT_EQ(a.reachability(kb.address()), expected);
  EXPECT_EQ(a.reachability(PrivateKey::generate().address()), Reachability::unknown)
      << "an address that never logged in";
}

TEST_F(NodeTest, StoppedPeerBecomesUnreachableAndARestartedOneReachable) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node* b = &start("b", kb, Carrier::to_device);
  // A shared room brings presence with /sync. Synapse may still answer a direct question with
  // 403 (no shared room) just after the join, so the answer may come with a later /sync.
  ASSERT_TRUE(a.subscribe("raiden_1_discovery_0x0000000000000000000000000000000000000002"));
  ASSERT_TRUE(b->subscribe("raiden_1_discovery_0x0000000000000000000000000000000000000002"));
  if (a.reachability(kb.address()) != Reachability::reachable) {
    EXPECT_TRUE(reported(a, kb.address(), Reachability::reachable));
  }
  EXPECT_EQ(a.reachability(kb.address()), Reachability::reachable);

  nodes_.erase("b");
  EXPECT_TRUE(reported(a, kb.address(), Reachability::unreachable));
  EXPECT_EQ(a.reachability(kb.address()), Reachability::unreachable);

  b = &start("b", kb, Carrier::to_device);
  EXPECT_TRUE(reported(a, kb.address(), Reachability::reachable));
  EXPECT_EQ(a.reachability(kb.address()), Reachability::reachable);
}

}  // namespace
}  // namespace mrt
