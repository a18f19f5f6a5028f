// mrt::Policy at a running node: a flooding peer is rate limited while an honest
// peer's messages still arrive, DM room invites are joined only from proven user ids and at
// most N per hour, Olm session creation is throttled per sender device, and the outbox holds
// at most N unacked messages per recipient. Hostile peers are RawPeers (and a bare Olm account)
// talking to the node through the test homeserver.
#include <atomic>
#include <thread>

#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/olm.hpp>

#include "dm_room.hpp"
#include "node_fixture.hpp"
#include "testing/ordered_keys.hpp"
#include "testing/raw_peer.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using mrt::testing::ascending_keys;
using mrt::testing::RawPeer;

class NodePolicyTest : public NodeTest {
 public:
  Node& start_with(const std::string& name, const PrivateKey& key,
                   const std::function<void(Policy&)>& set) {
    NodeConfig c = config(name, Carrier::to_device);
    set(c.policy);
    auto node = Node::open(c, key);
    if (!node) throw std::runtime_error(node.error().message);
    if (auto started = node->start(); !started) throw std::runtime_error(started.error().message);
    nodes_[name] = std::make_unique<Node>(std::move(*node));
    return *nodes_[name];
  }

  std::unique_ptr<RawPeer> raw_peer(const std::string& name, const PrivateKey& key) {
    return std::make_unique<RawPeer>(base_url(), server_name(), key, root_ / name);
  }

  static void set_displayname(RawPeer& peer, const std::string& name) {
    auto r = peer.request(
        "PUT",
        "/_matrix/client/v3/profile/" + transport::url_encode(peer.user_id()) + "/displayname",
        {{"displayname", name}});
    ASSERT_TRUE(r) << describe(r.error());
  }

  // A room shaped like PROTOCOL §5's DM room between `peer` (the lower address) and `node`,
  // created by `peer` with `node` invited.
  static std::string invite_to_dm_room(RawPeer& peer, const PrivateKey& peer_key, Node& node) {
    auto r = peer.call(transport::calls::create_room(
        transport::dm_room_create_body(peer_key.address(), node.address(), {node.user_id()})));
    if (!r) throw std::runtime_error("createRoom: " + describe(r.error()));
    return (*r)["room_id"].get<std::string>();
  }

  // `user`'s membership in `room` as `peer` (a member) sees it.
  static std::string membership(RawPeer& peer, const std::string& room, const std::string& user) {
    auto r = peer.request("GET",
                          "/_matrix/client/v3/rooms/" + transport::url_encode(room) +
                              "/state/m.room.member/" + transport::url_encode(user),
                          json::object());
    return r ? r->value("membership", "") : "";
  }
};

// ---- rate limit --------------------------------------------------------------------------------

// Sends `count` messages from `from` to `to` one at a time and returns each one's latency from
// send() to its arrival; fails if one does not arrive.
std::vector<std::int64_t> honest_latencies(Node& from, Node& to, const std::string& tag,
                                           int count) {
  std::vector<std::int64_t> latencies;
  for (int i = 0; i < count; ++i) {
    const std::string body = tag + std::to_string(i);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(from.send(to.address(), body));
    auto events = NodeTest::collect(to, [&](const std::vector<NodeEvent>& ev) {
      return std::any_of(ev.begin(), ev.end(), [&](const NodeEvent& e) {
        return e.type == NodeEventType::message && e.body == body;
      });
    });
    for (const auto& e : events) {
      // The honest sender is never refused, whatever the flood does to the node; a resend that
      // crossed the ack (the ack is slower under the flood) is a harmless `replay`.
      if (e.type == NodeEventType::rejected && e.peer == from.address()) {
        EXPECT_EQ(e.reason, RejectReason::replay) << to_string(*e.reason);
      }
    }
    if (events.empty() || events.back().body != body) {
      ADD_FAILURE() << body << " did not arrive";
      return latencies;
    }
    latencies.push_back(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return latencies;
}

std::int64_t median(std::vector<std::int64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST_F(NodePolicyTest, FloodingPeerIsRateLimitedWhileAnHonestPeersMessagesAllArrive) {
  const PrivateKey node_key = PrivateKey::generate(), honest_key = PrivateKey::generate(),
                   eve_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) {
    p.rate_per_second = 20;
    p.burst = 40;
  });
  Node& honest = start("honest", honest_key, Carrier::to_device);
  auto eve = raw_peer("eve", eve_key);
  // First contact (key query, Olm session) out of the measurement.
  honest_latencies(honest, node, "warm-up ", 1);
  const std::vector<std::int64_t> baseline = honest_latencies(honest, node, "calm ", 15);

  // Signed in advance: the flood's pace is the server's and the node's, not Eve's signing.
  constexpr int kPayloads = 60, kPerPayload = 60;
  std::vector<json> payloads;
  for (int p = 0; p < kPayloads; ++p) {
    json envelopes = json::array();
    for (int i = 0; i < kPerPayload; ++i)
      envelopes.push_back(Envelope::message(eve_key, node.address(), "spam", now_ms()).to_json());
    payloads.push_back({{"envelopes", envelopes}});
  }
  std::atomic<bool> stop{false}, flood_failed{false};
  std::atomic<int> flooded{0};
  std::thread flood([&] {
    try {
      // Round and round until the honest messages are through: after the first round they are
      // replays, which cost the node the same signature check.
      for (int p = 0; !stop; ++p) {
        eve->send_to_device(node.user_id(), payloads[p % kPayloads]);
        ++flooded;
      }
    } catch (const std::exception&) {
      flood_failed = true;
    }
  });
  // The honest messages go while the flood is under way (its first payloads have left).
  while (flooded < 3 && !flood_failed) std::this_thread::sleep_for(10ms);
  const std::vector<std::int64_t> flooded_latencies = honest_latencies(honest, node, "flood ", 15);
  stop = true;
  flood.join();

  ASSERT_FALSE(flood_failed);
  RecordProperty("calm_median_ms", std::to_string(median(baseline)));
  RecordProperty("flooded_median_ms", std::to_string(median(flooded_latencies)));
  RecordProperty("flood_payloads", std::to_string(flooded.load()));
  EXPECT_EQ(flooded_latencies.size(), 15u);
  EXPECT_GT(node.stats().rejected[RejectReason::rate_limited], 0u);
  // Comparable, not equal: the node checks the flood's signatures too. Wide on purpose (a
  // loaded two-core machine), yet far below what queueing behind the whole flood would take.
  EXPECT_LT(median(flooded_latencies), 5 * median(baseline) + 2000)
      << "calm median " << median(baseline) << " ms";
}

TEST_F(NodePolicyTest, RateLimitedRejectionsNameTheFlooder) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) {
    p.rate_per_second = 0.001;
    p.burst = 5;
  });
  auto eve = raw_peer("eve", eve_key);
  json envelopes = json::array();
  // Ten: as many as Eve's Matrix user may have verified at all (twice the burst).
  for (int i = 0; i < 10; ++i)
    envelopes.push_back(
        Envelope::message(eve_key, node.address(), std::to_string(i), now_ms()).to_json());
  eve->send_to_device(node.user_id(), {{"envelopes", envelopes}});
  auto events = collect(node, [](auto& ev) { return ev.size() >= 10; });
  ASSERT_EQ(events.size(), 10u);
  EXPECT_EQ(count(events, NodeEventType::message), 5u);
  for (const auto& e : events) {
    if (e.type != NodeEventType::rejected) continue;
    EXPECT_EQ(e.reason, RejectReason::rate_limited);
    EXPECT_EQ(e.peer, eve_key.address());
  }
  EXPECT_EQ(node.stats().rejected[RejectReason::rate_limited], 5u);
}

// ---- invites -----------------------------------------------------------------------------------

TEST_F(NodePolicyTest, InviteFromAUserIdItsDisplaynameDoesNotProveIsNotJoined) {
  auto keys = ascending_keys(2);  // keys[0], Eve, is the lower address: she may invite
  Node& node = start("node", keys[1], Carrier::to_device);
  auto eve = raw_peer("eve", keys[0]);
  // A real signature by Eve, but over her user id on another server: it proves nothing here.
  set_displayname(*eve, matrix_identity(keys[0], "elsewhere.example").displayname.to_hex());
  const std::string room = invite_to_dm_room(*eve, keys[0], node);

  ASSERT_TRUE(eventually([&] { return node.stats().invites_refused >= 1; }));
  EXPECT_EQ(membership(*eve, room, node.user_id()), "invite");
  EXPECT_EQ(node.stats().invites_over_limit, 0u);
}

TEST_F(NodePolicyTest, InviteFromAProvenLowerAddressIsJoined) {
  auto keys = ascending_keys(2);
  Node& node = start("node", keys[1], Carrier::to_device);
  auto alice = raw_peer("alice", keys[0]);
  set_displayname(*alice, matrix_identity(keys[0], server_name()).displayname.to_hex());
  const std::string room = invite_to_dm_room(*alice, keys[0], node);
  EXPECT_TRUE(eventually([&] { return membership(*alice, room, node.user_id()) == "join"; }));
  EXPECT_EQ(node.stats().invites_refused, 0u);
}

TEST_F(NodePolicyTest, DmRoomInviteOverTheHourlyCapIsRejected) {
  auto keys = ascending_keys(3);  // the node has the highest address
  Node& node = start_with("node", keys[2], [](Policy& p) { p.max_new_dm_rooms_per_hour = 1; });
  auto alice = raw_peer("alice", keys[0]);
  auto bob = raw_peer("bob", keys[1]);
  set_displayname(*alice, matrix_identity(keys[0], server_name()).displayname.to_hex());
  set_displayname(*bob, matrix_identity(keys[1], server_name()).displayname.to_hex());

  const std::string first = invite_to_dm_room(*alice, keys[0], node);
  ASSERT_TRUE(eventually([&] { return membership(*alice, first, node.user_id()) == "join"; }));
  const std::string second = invite_to_dm_room(*bob, keys[1], node);
  // Rejected (left), as PROTOCOL §5 does with an invite it cannot join; Bob invites again later.
  EXPECT_TRUE(eventually([&] { return membership(*bob, second, node.user_id()) == "leave"; }));
  EXPECT_EQ(node.stats().invites_over_limit, 1u);
  EXPECT_EQ(membership(*alice, first, node.user_id()), "join");
}

// ---- Olm session throttle ----------------------------------------------------------------------

// A device that is nothing but an Olm account: it opens a new Olm session with the node's
// device for every message it is asked to, which an honest device never does.
class OlmOpener {
 public:
  OlmOpener(RawPeer& carrier, Node& node) : carrier_(carrier), node_(node) {
    auto query = carrier_.request("POST", "/_matrix/client/v3/keys/query",
                                  {{"device_keys", {{node.user_id(), json::array()}}}});
    if (!query) throw std::runtime_error("keys/query: " + describe(query.error()));
    const json& keys = (*query)["device_keys"][node.user_id()][node.device_id()]["keys"];
    node_curve_ = keys.at("curve25519:" + node.device_id()).get<std::string>();
  }

  // A new outbound session on one of the node's one-time (or fallback) keys.
  OlmSession new_session() {
    auto claim = carrier_.request(
        "POST", "/_matrix/client/v3/keys/claim",
        {{"one_time_keys", {{node_.user_id(), {{node_.device_id(), "signed_curve25519"}}}}}});
    if (!claim) throw std::runtime_error("keys/claim: " + describe(claim.error()));
    const json& otks = (*claim)["one_time_keys"][node_.user_id()][node_.device_id()];
    if (!otks.is_object() || otks.empty()) throw std::runtime_error("no one-time key left");
    auto session =
        OlmSession::outbound(account_, node_curve_, otks.begin()->at("key").get<std::string>());
    if (!session) throw std::runtime_error("outbound session");
    return std::move(*session);
  }

  // One to-device message on `session` (a pre-key message until the node answers, which it
  // never does: the plaintext is not one it accepts).
  void send(OlmSession& session) {
    const OlmMessage m = session.encrypt(as_bytes(std::string("{}")));
    const json content = {
        {"algorithm", kOlmAlgorithm},
        {"sender_key", account_.identity_keys().curve25519},
        {"ciphertext", {{node_curve_, {{"type", static_cast<int>(m.type)}, {"body", m.body}}}}}};
    auto r = carrier_.call(
        transport::calls::send_to_device("m.room.encrypted", transport::new_transaction_id(),
                                         {{node_.user_id(), {{node_.device_id(), content}}}}));
    if (!r) throw std::runtime_error("sendToDevice: " + describe(r.error()));
  }

 private:
  RawPeer& carrier_;
  Node& node_;
  OlmAccount account_ = OlmAccount::create();
  std::string node_curve_;
};

// Waits until the node has dealt with `n` of the opener's messages: each is either refused by
// the machine (its plaintext is `{}`) or dropped by the throttle.
bool handled(Node& node, std::uint64_t n) {
  return NodeTest::eventually([&] {
    const NodeStats s = node.stats();
    return s.undecryptable + s.olm_sessions_throttled >= n;
  });
}

TEST_F(NodePolicyTest, OlmSessionsBeyondTheBudgetOfOneDeviceAreDroppedAndCounted) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  Node& node =
      start_with("node", node_key, [](Policy& p) { p.olm_sessions_per_device_per_hour = 2; });
  auto eve = raw_peer("eve", eve_key);
  OlmOpener opener(*eve, node);
  for (int i = 0; i < 5; ++i) {
    OlmSession s = opener.new_session();
    opener.send(s);
  }
  ASSERT_TRUE(handled(node, 5));
  // Two reached the machine (which refused their plaintext), three never did.
  const NodeStats s = node.stats();
  EXPECT_EQ(s.olm_sessions_throttled, 3u);
  EXPECT_EQ(s.undecryptable, 2u);
  EXPECT_EQ(s.undecryptable_to_device,
            (std::map<ToDeviceError, std::uint64_t>{{ToDeviceError::bad_plaintext, 2}}))
      << "counted by the machine's reason";
}

// (Repeated pre-key messages of a session that was kept open nothing new and are not counted:
// E2eeDriverTest.ASendersRepeatedPreKeyMessagesOfOneSessionCountOnce, with a real sender.)
TEST_F(NodePolicyTest, ASessionWhosePlaintextIsGarbageIsNotKeptSoItsRepeatsCountAgain) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  Node& node =
      start_with("node", node_key, [](Policy& p) { p.olm_sessions_per_device_per_hour = 1; });
  auto eve = raw_peer("eve", eve_key);
  OlmOpener opener(*eve, node);
  OlmSession session = opener.new_session();
  for (int i = 0; i < 4; ++i) opener.send(session);  // all pre-key messages: the node never answers
  ASSERT_TRUE(handled(node, 4));
  EXPECT_EQ(node.stats().undecryptable, 1u);
  EXPECT_EQ(node.stats().olm_sessions_throttled, 3u);
}

TEST_F(NodePolicyTest, OlmSessionBudgetIsPerSenderDevice) {
  const PrivateKey node_key = PrivateKey::generate(), eve_key = PrivateKey::generate();
  Node& node =
      start_with("node", node_key, [](Policy& p) { p.olm_sessions_per_device_per_hour = 1; });
  auto eve = raw_peer("eve", eve_key);
  OlmOpener first(*eve, node), second(*eve, node);
  OlmSession a = first.new_session(), b = second.new_session();
  first.send(a);
  second.send(b);
  ASSERT_TRUE(handled(node, 2));
  EXPECT_EQ(node.stats().olm_sessions_throttled, 0u);
  EXPECT_EQ(node.stats().undecryptable, 2u);
}

// ---- outbox cap --------------------------------------------------------------------------------

TEST_F(NodePolicyTest, SendBeyondTheOutboxCapOfARecipientIsRefused) {
  const PrivateKey node_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) { p.max_outbox_per_recipient = 3; });
  const Address absent = PrivateKey::generate().address();  // never acks
  ASSERT_TRUE(node.send_many(absent, {"1", "2", "3"}));
  auto refused = node.send(absent, "4");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::outbox_full);
  EXPECT_EQ(node.stats().sent, 3u);
}

TEST_F(NodePolicyTest, SendManyThatWouldGoOverTheOutboxCapSendsNone) {
  const PrivateKey node_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) { p.max_outbox_per_recipient = 3; });
  const Address absent = PrivateKey::generate().address();
  ASSERT_TRUE(node.send(absent, "1"));
  auto refused = node.send_many(absent, {"2", "3", "4"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::outbox_full);
  EXPECT_EQ(node.stats().outbox, 1u);
  EXPECT_TRUE(node.send_many(absent, {"2", "3"}));  // exactly up to the cap
}

TEST_F(NodePolicyTest, OutboxCapOfOneRecipientLeavesOthersAlone) {
  const PrivateKey node_key = PrivateKey::generate(), peer_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) { p.max_outbox_per_recipient = 2; });
  Node& peer = start("peer", peer_key, Carrier::to_device);
  const Address absent = PrivateKey::generate().address();
  ASSERT_TRUE(node.send_many(absent, {"1", "2"}));
  ASSERT_FALSE(node.send(absent, "3"));
  auto id = node.send(peer.address(), "still goes");
  ASSERT_TRUE(id) << id.error().message;
  auto events = collect(peer, [](auto& ev) { return count(ev, NodeEventType::message) >= 1; });
  ASSERT_EQ(count(events, NodeEventType::message), 1u);
  EXPECT_EQ(events.back().body, "still goes");
}

TEST_F(NodePolicyTest, DeliveredMessagesNoLongerCountTowardTheOutboxCap) {
  const PrivateKey node_key = PrivateKey::generate(), peer_key = PrivateKey::generate();
  Node& node = start_with("node", node_key, [](Policy& p) { p.max_outbox_per_recipient = 2; });
  Node& peer = start("peer", peer_key, Carrier::to_device);
  ASSERT_TRUE(node.send_many(peer.address(), {"1", "2"}));
  auto delivered = collect(node, [](auto& ev) { return count(ev, NodeEventType::delivered) >= 2; });
  ASSERT_EQ(count(delivered, NodeEventType::delivered), 2u);
  EXPECT_TRUE(node.send_many(peer.address(), {"3", "4"}));
}

TEST_F(NodePolicyTest, OutboxCapCountsTheMessagesResumedAfterARestart) {
  const PrivateKey node_key = PrivateKey::generate();
  const Address absent = PrivateKey::generate().address();
  NodeConfig c = config("node", Carrier::to_device);
  c.policy.max_outbox_per_recipient = 2;
  {
    auto node = Node::open(c, node_key);
    ASSERT_TRUE(node);
    ASSERT_TRUE(node->start());
    ASSERT_TRUE(node->send_many(absent, {"1", "2"}));
  }
  auto node = Node::open(c, node_key);
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->start());
  auto refused = node->send(absent, "3");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NodeErrorKind::outbox_full);
}

TEST(NodePolicyConfig, OutboxCapOfZeroIsABadConfig) {
  NodeConfig c{.homeserver = "http://127.0.0.1:1", .data_dir = temp_dir("policy-config")};
  c.policy.max_outbox_per_recipient = 0;
  auto node = Node::open(c, PrivateKey::generate());
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().kind, NodeErrorKind::bad_config);
}

}  // namespace
}  // namespace mrt
