// PROTOCOL.md §4 at the receiving node: envelopes a hostile peer sends through the server, over
// Olm to an attested node, are rejected with the first failing rule's reason and never reach the
// application; the legitimate message sent after them does.
#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>

#include "node_fixture.hpp"
#include "raw_peer.hpp"

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

TEST_F(NodeHostileTest, MalformedEnvelopeIsRejected) {
  json e = message("x");
  e["v"] = 2;
  json extra = message("x");
  extra["extra"] = 1;
  EXPECT_EQ(rejections({e, extra, "not an object"}),
            (Reasons{RejectReason::malformed, RejectReason::malformed, RejectReason::malformed}));
}

TEST_F(NodeHostileTest, ForgedSenderIsABadSignature) {
  json e = message("I am someone else");
  e["sender"] = PrivateKey::generate().address().to_hex();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::bad_signature});
}

TEST_F(NodeHostileTest, EnvelopeForAnotherRecipientIsRejected) {
  const PrivateKey other = PrivateKey::generate();
  json e = Envelope::message(eve_key_, other.address(), "for someone else", now_ms()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::wrong_recipient});
}

TEST_F(NodeHostileTest, BroadcastEnvelopeOnAUnicastCarrierIsWrongTopic) {
  json e = Envelope::broadcast(eve_key_, "raiden_1_monitoring", "x", now_ms()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::wrong_topic});
}

TEST_F(NodeHostileTest, ExpiredAndFutureEnvelopesAreRejected) {
  json old =
      Envelope::message(eve_key_, node_->address(), "old", now_ms() - kDefaultMaxAgeMs - 60'000)
          .to_json();
  json future =
      Envelope::message(eve_key_, node_->address(), "future", now_ms() + 10 * kMaxClockSkewMs)
          .to_json();
  EXPECT_EQ(rejections({old, future}), (Reasons{RejectReason::expired, RejectReason::expired}));
}

TEST_F(NodeHostileTest, OversizedEnvelopeIsTooLarge) {
  json e = message(std::string(kMaxEnvelopeBytes, 'x'));
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::too_large});
}

TEST_F(NodeHostileTest, ReplayIsRejectedAndAckedAgainButDeliveredOnce) {
  json e = message("once");
  std::size_t delivered = 0;
  for (const auto& ev : deliver({e}))
    if (ev.type == NodeEventType::message && ev.body == "once") ++delivered;
  EXPECT_EQ(delivered, 1u);
  ASSERT_TRUE(eventually([&] { return node_->stats().acks_sent >= 1; }));
  const auto acks_before = node_->stats().acks_sent;
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::replay});
  // The replay (and the good message after it) are acknowledged again.
  EXPECT_TRUE(eventually([&] { return node_->stats().acks_sent > acks_before; }));
}

TEST_F(NodeHostileTest, EnvelopeRelayedFromAnotherAddressIsAnUnattestedDevice) {
  // Validly signed by Alice, but delivered from Eve's device (attested for Eve, not Alice).
  const PrivateKey alice = PrivateKey::generate();
  json e = Envelope::message(alice, node_->address(), "relayed", now_ms()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::unattested_device});
}

TEST_F(NodeHostileTest, PayloadWithoutEnvelopesArrayIsMalformed) {
  eve_->send_to_device(node_->user_id(), json{{"envelopes", "nope"}});
  auto events = deliver({});
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().type, NodeEventType::rejected);
  EXPECT_EQ(events.front().reason, RejectReason::malformed);
}

TEST_F(NodeHostileTest, RejectionsAreCountedPerReason) {
  json e = message("x");
  e["sender"] = PrivateKey::generate().address().to_hex();
  rejections({e, e});
  EXPECT_EQ(node_->stats().rejected[RejectReason::bad_signature], 2u);
  EXPECT_EQ(node_->stats().received, 1u);
}

TEST_F(NodeTest, SenderOutsideTheAllowlistIsNotAllowed) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  NodeConfig c = config("node", Carrier::to_device);
  c.policy.allowlist = std::set<Address>{PrivateKey::generate().address()};
  auto node = Node::open(c, node_key);
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->start());
  RawPeer eve(base_url(), server_name(), eve_key, root_ / "eve");
  eve.send_to_device(
      node->user_id(),
      {{"envelopes", {Envelope::message(eve_key, node->address(), "x", now_ms()).to_json()}}});
  auto events = collect(*node, [](auto& ev) { return !ev.empty(); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, RejectReason::not_allowed);
}

TEST_F(NodeTest, SenderOverItsBudgetIsRateLimited) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  NodeConfig c = config("node", Carrier::to_device);
  c.policy.burst = 2;
  c.policy.rate_per_second = 0.001;
  auto node = Node::open(c, node_key);
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->start());
  RawPeer eve(base_url(), server_name(), eve_key, root_ / "eve");
  json envelopes = json::array();
  for (int i = 0; i < 3; ++i)
    envelopes.push_back(
        Envelope::message(eve_key, node->address(), std::to_string(i), now_ms()).to_json());
  eve.send_to_device(node->user_id(), {{"envelopes", envelopes}});
  auto events = collect(*node, [](auto& ev) { return ev.size() >= 3; });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, NodeEventType::message);
  EXPECT_EQ(events[1].type, NodeEventType::message);
  EXPECT_EQ(events[2].reason, RejectReason::rate_limited);
}

}  // namespace
}  // namespace mrt
