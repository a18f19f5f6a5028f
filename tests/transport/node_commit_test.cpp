// The node's durable commits: a /sync answer is one step (the E2EE machine's writes, the
// envelopes taken in, the acks owed, next_batch) and one commit; a send batch (the payloads to
// every peer, the machine's ratchet steps) is one more; nothing else happens per message but
// send() and the application's consumption.
#include <iostream>

#include "node_fixture.hpp"

namespace mrt {
namespace {

class NodeCommitTest : public NodeTest, public ::testing::WithParamInterface<Carrier> {};

// What a node's commits may be: one per sync, one per send batch (each sends one payload or
// more), one per send() and per consumed event; `slack` for the machine's own housekeeping (a
// one-time key top-up).
std::uint64_t commit_budget(const NodeStats& before, const NodeStats& after, std::uint64_t sends,
                            std::uint64_t consumed, std::uint64_t slack = 2) {
  return (after.syncs - before.syncs) + (after.payloads - before.payloads) + sends + consumed +
         slack;
}

// One message A -> B, its arrival and its `delivered`, both consumed.
::testing::AssertionResult exchange(Node& a, Node& b, const std::string& body) {
  if (!a.send(b.address(), body)) return ::testing::AssertionFailure() << "send refused";
  const auto one = [](NodeEventType type) {
    return [type](const std::vector<NodeEvent>& ev) { return NodeTest::count(ev, type) == 1; };
  };
  if (NodeTest::count(NodeTest::collect(b, one(NodeEventType::message)), NodeEventType::message) !=
      1)
    return ::testing::AssertionFailure() << body << " did not arrive";
  if (NodeTest::count(NodeTest::collect(a, one(NodeEventType::delivered)),
                      NodeEventType::delivered) != 1)
    return ::testing::AssertionFailure() << body << " was not acked";
  return ::testing::AssertionSuccess();
}

TEST_P(NodeCommitTest, EachSyncAndEachSendBatchIsOneCommit) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, GetParam());
  Node& b = start("b", kb, GetParam());
  // Sessions, devices and (room carrier) the DM room first: their setup is not per message.
  for (int warm = 0; warm < 3; ++warm) ASSERT_TRUE(exchange(a, b, "warm-up"));
  constexpr std::uint64_t kMessages = 10;
  const NodeStats a0 = a.stats(), b0 = b.stats();
  for (std::uint64_t i = 0; i < kMessages; ++i)
    ASSERT_TRUE(exchange(a, b, "m" + std::to_string(i)));
  // Let the last ack's batch and the consumptions land.
  std::this_thread::sleep_for(300ms);
  const NodeStats a1 = a.stats(), b1 = b.stats();
  const std::uint64_t a_commits = a1.store_commits - a0.store_commits;
  const std::uint64_t b_commits = b1.store_commits - b0.store_commits;
  std::cout << "commits per message and its ack: sender "
            << static_cast<double>(a_commits) / kMessages << ", receiver "
            << static_cast<double>(b_commits) / kMessages << "; transactions (fsyncs) per message "
            << static_cast<double>(a1.store_transactions - a0.store_transactions) / kMessages
            << " / "
            << static_cast<double>(b1.store_transactions - b0.store_transactions) / kMessages
            << " (syncs " << (a1.syncs - a0.syncs) << " / " << (b1.syncs - b0.syncs) << ")\n";
  EXPECT_LE(a_commits, commit_budget(a0, a1, kMessages, kMessages));
  EXPECT_LE(b_commits, commit_budget(b0, b1, 0, kMessages));
}

std::string carrier_name(const ::testing::TestParamInfo<Carrier>& param) {
  return param.param == Carrier::room ? "room" : "to_device";
}

INSTANTIATE_TEST_SUITE_P(Carriers, NodeCommitTest,
                         ::testing::Values(Carrier::to_device, Carrier::room), carrier_name);

}  // namespace
}  // namespace mrt
