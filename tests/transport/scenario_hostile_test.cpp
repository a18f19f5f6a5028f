// PROTOCOL §4 at the receiving node, in process: envelopes a hostile peer sends over Olm to an
// attested node are rejected with the first failing rule's reason (rules 1-8) and never reach
// the application; the legitimate message sent after them does. (The same rule 7 case runs over
// HTTP against `mrt serve` and Synapse in node_hostile_test.cpp.)
#include <gtest/gtest.h>

#include <mrt/envelope.hpp>
#include <mrt/megolm.hpp>

#include "testing/driven_node.hpp"
#include "testing/raw_peer.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {
namespace {

using json = nlohmann::json;
using Reasons = std::vector<RejectReason>;
constexpr const char* kServer = "hs.test";

class HostileScenario : public ::testing::Test {
 protected:
  HostileScenario() { hub.add_server(kServer); }
  ~HostileScenario() override {
    eve.reset();
    node.reset();
    std::filesystem::remove_all(dir);
  }
  void start(NodeConfig config = {}) {
    config.carrier = Carrier::to_device;
    node = std::make_unique<DrivenNode>(hub, dir / "node", kServer, node_key, config);
    eve = std::make_unique<RawPeer>(hub.caller(kServer), kServer, eve_key, dir / "eve");
  }
  std::int64_t now() { return hub.clock().wall_ms; }
  json message(const std::string& body) {
    return Envelope::message(eve_key, node->address(), body, now()).to_json();
  }

  // Sends `payload` from Eve and runs the node until it has produced `n` more events.
  std::vector<NodeEvent> deliver_payload(const json& payload, std::size_t n) {
    const std::size_t before = node->events().size();
    eve->send_to_device(node->user_id(), payload);
    EXPECT_TRUE(run_until(hub, {node.get()}, [&] { return node->events().size() >= before + n; }));
    return {node->events().begin() + static_cast<std::ptrdiff_t>(before), node->events().end()};
  }
  // The reasons of the rejected events among `envelopes` followed by a good message, which
  // alone gets through.
  Reasons rejections(std::vector<json> envelopes) {
    envelopes.push_back(message("the good one"));
    Reasons reasons;
    for (const auto& e : deliver_payload({{"envelopes", envelopes}}, envelopes.size())) {
      if (e.type == NodeEventType::rejected) reasons.push_back(*e.reason);
      if (e.type == NodeEventType::message) {
        EXPECT_EQ(e.body, "the good one");
      }
    }
    return reasons;
  }

  std::filesystem::path dir = fresh_dir("hostile");
  HomeserverHub hub{dir / "servers"};
  PrivateKey node_key = PrivateKey::generate();
  PrivateKey eve_key = PrivateKey::generate();
  std::unique_ptr<DrivenNode> node;
  std::unique_ptr<RawPeer> eve;
};

TEST_F(HostileScenario, MalformedEnvelopesAreRejected) {
  start();
  json wrong_version = message("x");
  wrong_version["v"] = 2;
  json extra = message("x");
  extra["extra"] = 1;
  EXPECT_EQ(rejections({wrong_version, extra, "not an object"}),
            (Reasons{RejectReason::malformed, RejectReason::malformed, RejectReason::malformed}));
}

TEST_F(HostileScenario, APayloadWithoutAnEnvelopesArrayIsMalformed) {
  start();
  const auto events = deliver_payload({{"envelopes", "nope"}}, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, RejectReason::malformed);
}

TEST_F(HostileScenario, AnOversizedEnvelopeIsTooLarge) {
  start();
  EXPECT_EQ(rejections({message(std::string(kMaxEnvelopeBytes, 'x'))}),
            Reasons{RejectReason::too_large});
}

TEST_F(HostileScenario, AForgedSenderIsABadSignature) {
  start();
  json e = message("I am someone else");
  e["sender"] = PrivateKey::generate().address().to_hex();
  EXPECT_EQ(rejections({e, e}),
            (Reasons{RejectReason::bad_signature, RejectReason::bad_signature}));
  EXPECT_EQ(node->stats().rejected[RejectReason::bad_signature], 2u) << "counted per reason";
  EXPECT_EQ(node->stats().received, 1u);
}

TEST_F(HostileScenario, AnEnvelopeForAnotherRecipientIsRejected) {
  start();
  const json e =
      Envelope::message(eve_key, PrivateKey::generate().address(), "elsewhere", now()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::wrong_recipient});
}

TEST_F(HostileScenario, ABroadcastEnvelopeOnAUnicastCarrierIsTheWrongTopic) {
  start();
  const json e = Envelope::broadcast(eve_key, "raiden_1_monitoring", "x", now()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::wrong_topic});
}

TEST_F(HostileScenario, ExpiredAndFutureEnvelopesAreRejected) {
  start();
  const json old =
      Envelope::message(eve_key, node->address(), "old", now() - kDefaultMaxAgeMs - 60'000)
          .to_json();
  const json future =
      Envelope::message(eve_key, node->address(), "future", now() + 10 * kMaxClockSkewMs).to_json();
  EXPECT_EQ(rejections({old, future}), (Reasons{RejectReason::expired, RejectReason::expired}));
}

TEST_F(HostileScenario, AReplayIsRejectedAndAckedAgainButHandedOverOnce) {
  start();
  const json e = message("once");
  const auto first = deliver_payload({{"envelopes", {e}}}, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].body, "once");
  run_until(hub, {node.get()}, [&] { return node->stats().acks_sent >= 1; });
  const auto acks = node->stats().acks_sent;
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::replay});
  EXPECT_TRUE(run_until(hub, {node.get()}, [&] { return node->stats().acks_sent > acks; }));
}

TEST_F(HostileScenario, AnEnvelopeRelayedFromAnotherAddressIsAnUnattestedDevice) {
  start();
  // Validly signed by Alice, but sent from Eve's device (attested for Eve, not Alice).
  const json e =
      Envelope::message(PrivateKey::generate(), node->address(), "relayed", now()).to_json();
  EXPECT_EQ(rejections({e}), Reasons{RejectReason::unattested_device});
}

TEST_F(HostileScenario, ASenderOutsideTheAllowlistIsNotAllowed) {
  NodeConfig config;
  config.policy.allowlist = std::set<Address>{PrivateKey::generate().address()};
  start(config);
  const auto events = deliver_payload({{"envelopes", {message("x")}}}, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, RejectReason::not_allowed);
}

TEST_F(HostileScenario, ASenderOverItsBudgetIsRateLimited) {
  NodeConfig config;
  config.policy.burst = 2;
  config.policy.rate_per_second = 0.001;
  start(config);
  const auto events =
      deliver_payload({{"envelopes", {message("0"), message("1"), message("2")}}}, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, NodeEventType::message);
  EXPECT_EQ(events[1].type, NodeEventType::message);
  EXPECT_EQ(events[2].reason, RejectReason::rate_limited);
}

TEST_F(HostileScenario, ReplaysAreAckedAgainFromTheSendersBudget) {
  NodeConfig config;
  config.policy.burst = 4;
  config.policy.rate_per_second = 0.001;
  start(config);
  const json e = message("once");
  ASSERT_EQ(deliver_payload({{"envelopes", {e}}}, 1)[0].type, NodeEventType::message);
  // Three copies, each acked again (one ack between them): the budget of four is spent.
  for (const auto& event : deliver_payload({{"envelopes", {e, e, e}}}, 3))
    EXPECT_EQ(event.reason, RejectReason::replay);
  EXPECT_EQ(deliver_payload({{"envelopes", {message("one too many")}}}, 1)[0].reason,
            RejectReason::rate_limited);
}

TEST_F(HostileScenario, AMatrixUserIsGatedBeforeItsEnvelopesAreVerified) {
  NodeConfig config;
  config.policy.burst = 5;  // a Matrix user's gate: twice that, 10 envelopes
  config.policy.rate_per_second = 0.001;
  start(config);
  std::vector<json> flood;
  // Each signed by a fresh key: the gate counts the Matrix user, not the addresses it claims.
  for (int i = 0; i < 20; ++i)
    flood.push_back(
        Envelope::message(PrivateKey::generate(), node->address(), "x", now()).to_json());
  const auto events = deliver_payload({{"envelopes", flood}}, 10);
  EXPECT_TRUE(run_until(hub, {node.get()}, [&] { return node->stats().envelopes_gated == 10; }));
  EXPECT_EQ(events.size(), 10u) << "no event for an envelope dropped unread";
  EXPECT_EQ(node->stats().rejected[RejectReason::unattested_device], 10u);

  const PrivateKey bob_key = PrivateKey::generate();
  RawPeer bob(hub.caller(kServer), kServer, bob_key, dir / "bob");
  const std::size_t before = node->events().size();
  const json hi = Envelope::message(bob_key, node->address(), "hi", now()).to_json();
  bob.send_to_device(node->user_id(), {{"envelopes", {hi}}});
  ASSERT_TRUE(run_until(hub, {node.get()}, [&] { return node->events().size() > before; }));
  EXPECT_EQ(node->events().back().body, "hi") << "another user has its own gate";
}

TEST_F(HostileScenario, AUserWhoseGateIsClosedHasItsEventsDroppedBeforeDecryption) {
  NodeConfig config;
  config.policy.burst = 5;  // a gate of 10
  config.policy.rate_per_second = 0.001;
  start(config);
  std::vector<json> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(message(std::to_string(i)));
  ASSERT_EQ(deliver_payload({{"envelopes", ten}}, 10).size(), 10u);
  // An Olm event for no device of the node: the machine would refuse it (undecryptable).
  const json content = {{"algorithm", "m.olm.v1.curve25519-aes-sha2"},
                        {"sender_key", "c2VuZGVy"},
                        {"ciphertext", json::object()}};
  ASSERT_TRUE(eve->call(transport::calls::send_to_device("m.room.encrypted", "closed-gate",
                                                         {{node->user_id(), {{"*", content}}}})));
  EXPECT_TRUE(run_until(hub, {node.get()}, [&] { return node->stats().envelopes_gated == 1; }));
  EXPECT_EQ(node->stats().undecryptable, 0u) << "never handed to the machine";
}

TEST_F(HostileScenario, AllMatrixUsersTogetherAreGatedAtTheNodesRate) {
  NodeConfig config;
  config.policy.max_verified_per_second = 1;  // a burst of 10
  start(config);
  std::vector<json> flood;
  for (int i = 0; i < 10; ++i) flood.push_back(message(std::to_string(i)));
  ASSERT_EQ(deliver_payload({{"envelopes", flood}}, 10).size(), 10u);

  const PrivateKey bob_key = PrivateKey::generate();
  RawPeer bob(hub.caller(kServer), kServer, bob_key, dir / "bob");
  const json late = Envelope::message(bob_key, node->address(), "late", now()).to_json();
  bob.send_to_device(node->user_id(), {{"envelopes", {late}}});
  EXPECT_TRUE(run_until(hub, {node.get()}, [&] { return node->stats().envelopes_gated == 1; }));
  EXPECT_EQ(node->stats().received, 10u);
}

TEST_F(HostileScenario, ARoomKeyForARoomThatIsNotAPartnersIsRefused) {
  start();
  const auto session = MegolmOutboundSession::create();
  const std::string key(as_chars(session.session_key().view()));
  eve->send_to_device(node->user_id(),
                      {{"algorithm", "m.megolm.v1.aes-sha2"},
                       {"room_id", "!made-up:" + std::string(kServer)},
                       {"session_id", session.session_id()},
                       {"session_key", key}},
                      "m.room_key");
  EXPECT_TRUE(run_until(hub, {node.get()}, [&] {
    return node->stats().undecryptable_to_device[ToDeviceError::room_key_refused] == 1;
  }));
}

}  // namespace
}  // namespace mrt::testing
