// PROTOCOL.md §4 rule 7 at the receiving node, through a real server (`mrt serve`, and Synapse
// for the synapse.* copy): an envelope signed by one address and sent from another address's
// device is rejected, and the legitimate message sent after it arrives; to-device junk too large
// for any /sync answer does not stop the node receiving (over HTTP: the answer's streamed filter).
// Every rule of §4, one test each, runs in process: scenario_hostile_test.cpp.
#include <mrt/envelope.hpp>

#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using mrt::testing::RawPeer;

class NodeHostileTest : public NodeTest {
 public:
  void SetUp() override {
    NodeTest::SetUp();
    node_ = &start("node", node_key_, Carrier::to_device);
    eve_ = std::make_unique<RawPeer>(base_url(), server_name(), eve_key_, root_ / "eve");
  }
  void TearDown() override {
    eve_.reset();
    NodeTest::TearDown();
  }

  // Sends `envelopes` from Eve, then one good message, and returns the node's events up to it.
  std::vector<NodeEvent> deliver(const std::vector<json>& envelopes) {
    json payload = {{"envelopes", envelopes}};
    payload["envelopes"].push_back(
        Envelope::message(eve_key_, node_->address(), "the good one", now_ms()).to_json());
    eve_->send_to_device(node_->user_id(), payload);
    return collect(*node_, [](auto& ev) {
      return std::any_of(ev.begin(), ev.end(), [](const NodeEvent& e) {
        return e.type == NodeEventType::message && e.body == "the good one";
      });
    });
  }

  // The reasons of the rejected events, and that only the good message got through.
  std::vector<RejectReason> rejections(const std::vector<json>& envelopes) {
    std::vector<RejectReason> reasons;
    for (const auto& e : deliver(envelopes)) {
      if (e.type == NodeEventType::rejected) reasons.push_back(*e.reason);
      if (e.type == NodeEventType::message) {
        EXPECT_EQ(e.body, "the good one");
      }
    }
    return reasons;
  }

  json message(const std::string& body) {
    return Envelope::message(eve_key_, node_->address(), body, now_ms()).to_json();
  }

  PrivateKey node_key_ = PrivateKey::generate();
  PrivateKey eve_key_ = PrivateKey::generate();
  Node* node_ = nullptr;
  std::unique_ptr<RawPeer> eve_;
};

using Reasons = std::vector<RejectReason>;

TEST_F(NodeHostileTest, EnvelopeRelayedFromAnotherAddressIsAnUnattestedDevice) {
  // Validly signed by Alice, but delivered from Eve's device (attested for Eve, not Alice).
  const PrivateKey alice = PrivateKey::generate();
  json e = Envelope::message(alice, node_->address(), "relayed", now_ms()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::unattested_device});
}

// Issue 17, row 1: to-device messages too large for any payload, piled up while the node was
// down, would make every /sync answer exceed the 16 MiB response cap, asked for again forever.
// They are dropped as the answer streams in, and the message after them arrives.
TEST_F(NodeHostileTest, ToDeviceMessagesTooLargeForAnyPayloadDoNotStopTheNodeReceiving) {
  const std::string user = node_->user_id(), device = node_->device_id();
  const json after = message("after the flood");
  nodes_.erase("node");  // down while the flood comes
  node_ = nullptr;
  const json junk = {{"pad", std::string(1'000'000, 'x')}};
  for (int i = 0; i < 18; ++i) {
    ASSERT_TRUE(eve_->call(transport::calls::send_to_device(
        "m.raiden.junk", transport::new_transaction_id(), {{user, {{device, junk}}}})));
  }
  eve_->send_to_device(user, {{"envelopes", {after}}});

  node_ = &start("node", node_key_, Carrier::to_device);
  const auto events = collect(*node_, [](const std::vector<NodeEvent>& ev) {
    return std::any_of(ev.begin(), ev.end(), [](const NodeEvent& e) {
      return e.type == NodeEventType::message && e.body == "after the flood";
    });
  });
  EXPECT_EQ(count(events, NodeEventType::message), 1u);
  EXPECT_EQ(node_->stats().oversized_to_device_dropped, 18u);
}

}  // namespace
}  // namespace mrt
