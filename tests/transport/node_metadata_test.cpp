// What Raiden's services pass around about an address (include/mrt/node.hpp, AddressMetadata):
// capabilities published as the profile's avatar_url, read by peers; the node's own metadata;
// a peer's metadata taken from the application, its displayname checked without a look-up; and
// the live challenge of a candidate user id.
#include <mrt/matrix_identity.hpp>

#include "matrix_client.hpp"
#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"

namespace mrt {
namespace {

const Capabilities kRaidenDefaults{{"Receive", "1"}, {"Mediate", "1"},  {"Delivery", "1"},
                                   {"webRTC", "0"},  {"toDevice", "1"}, {"immutableMetadata", "1"}};

TEST_F(NodeTest, CapabilitiesArePublishedAtLoginAndReadByAPeer) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  NodeConfig with_caps = config("b", Carrier::to_device);
  with_caps.capabilities = kRaidenDefaults;
  auto b = Node::open(with_caps, kb);
  ASSERT_TRUE(b && b->start());
  auto caps = a.capabilities_of(kb.address());
  ASSERT_TRUE(caps) << caps.error().message;
  EXPECT_EQ(*caps, kRaidenDefaults);
}

TEST_F(NodeTest, CapabilitiesChangedWhileRunningAreWhatPeersReadNext) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  ASSERT_TRUE(b.set_capabilities({{"Mediate", "0"}}));
  EXPECT_EQ(a.capabilities_of(kb.address()).value(), (Capabilities{{"Mediate", "0"}}));
  EXPECT_EQ(b.metadata().value().capabilities, "mxc://raiden.network/cap?Mediate=0");
}

TEST_F(NodeTest, APeerThatPublishedNoCapabilitiesHasNone) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  start("b", kb, Carrier::to_device);
  auto caps = a.capabilities_of(kb.address());
  ASSERT_TRUE(caps) << caps.error().message;
  EXPECT_TRUE(caps->empty());
}

TEST_F(NodeTest, TheCapabilitiesOfAnAddressWithoutUserIdsAreANetworkError) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  auto caps = a.capabilities_of(kb.address());
  ASSERT_FALSE(caps);
  EXPECT_EQ(caps.error().kind, NodeErrorKind::network);
  EXPECT_NE(caps.error().message.find(kb.address().to_hex()), std::string::npos);
}

TEST_F(NodeTest, CapabilitiesThatMakeNoValidUrlAreABadConfig) {
  NodeConfig c = config("a", Carrier::to_device);
  c.capabilities = Capabilities{{"", "1"}};
  auto node = Node::open(c, PrivateKey::generate());
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().kind, NodeErrorKind::bad_config);
  Node& a = start("b", PrivateKey::generate(), Carrier::to_device);
  EXPECT_EQ(a.set_capabilities({{"k", std::string(2000, 'v')}}).error().kind,
            NodeErrorKind::bad_config);
}

TEST_F(NodeTest, MetadataIsTheUserIdItsProvingDisplaynameAndTheCapabilities) {
  NodeConfig c = config("a", Carrier::to_device);
  c.capabilities = kRaidenDefaults;
  const PrivateKey key = PrivateKey::generate();
  auto a = Node::open(c, key);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->metadata().error().kind, NodeErrorKind::not_started);
  ASSERT_TRUE(a->start());
  const AddressMetadata m = a->metadata().value();
  EXPECT_EQ(m.user_id, a->user_id());
  EXPECT_EQ(displayname_proves_user_id(m.user_id, m.displayname).value(), key.address());
  EXPECT_EQ(m.capabilities, capabilities_url(kRaidenDefaults).value());
  const nlohmann::json j = to_json(m);
  EXPECT_EQ(j, (nlohmann::json{{"user_id", m.user_id},
                               {"displayname", m.displayname},
                               {"capabilities", m.capabilities}}));
}

// The metadata's displayname proves the id on the spot: the first message goes without asking a
// homeserver who @b:server is. Without it the node looks the id up first (id_lookups > 0).
TEST_F(NodeTest, APeersProvenMetadataLetsMessagesGoWithoutALookUp) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  ASSERT_TRUE(a.add_metadata(kb.address(), b.metadata().value()));
  ASSERT_TRUE(a.send(kb.address(), "no look-up needed"));
  auto events = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) == 1; });
  ASSERT_EQ(count(events, NodeEventType::delivered), 1u);
  EXPECT_EQ(a.stats().id_lookups, 0u);
}

TEST_F(NodeTest, MetadataWhoseDisplaynameDoesNotProveItsUserIdIsRefused) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  AddressMetadata m = b.metadata().value();
  // A real signature of b's key, over the id b would have on another server.
  m.displayname = matrix_identity(kb, "rogue.example").displayname.to_hex();
  auto added = a.add_metadata(kb.address(), m);
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().kind, NodeErrorKind::bad_user_id);
  m = b.metadata().value();
  EXPECT_EQ(a.add_metadata(PrivateKey::generate().address(), m).error().kind,
            NodeErrorKind::bad_user_id)
      << "an id of another address";
  EXPECT_EQ(a.stats().id_lookups, 0u);
}

TEST_F(NodeTest, AChallengedPeerAnswersWithItsKey) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  auto answered = a.challenge(kb.address(), b.user_id());
  EXPECT_TRUE(answered) << answered.error().message;
  EXPECT_TRUE(b.challenge(ka.address(), a.user_id())) << "and the other way";
}

// An account of that address that runs no node (it has the key, but nothing answers) is not
// proven live.
TEST_F(NodeTest, AUserIdThatDoesNotAnswerFailsTheChallenge) {
  const PrivateKey ka = PrivateKey::generate(), kc = PrivateKey::generate();
  Node& a = start("a", ka, Carrier::to_device);
  testing::RawPeer c(base_url(), server_name(), kc, root_ / "c");
  auto answered = a.challenge(kc.address(), c.user_id(), std::chrono::milliseconds(1500));
  ASSERT_FALSE(answered);
  EXPECT_EQ(answered.error().kind, NodeErrorKind::challenge_failed);
}

TEST_F(NodeTest, AChallengeOfAnotherAddresssIdIsABadUserId) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  EXPECT_EQ(a.challenge(ka.address(), b.user_id()).error().kind, NodeErrorKind::bad_user_id);
}

TEST_F(NodeTest, WithChallengeCandidatesMessagesGoOnlyToIdsThatAnsweredTheChallenge) {
  const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate(),
                   kc = PrivateKey::generate();
  NodeConfig challenging = config("a", Carrier::to_device);
  challenging.challenge_candidates = true;
  challenging.resend_initial = challenging.resend_max = std::chrono::seconds(30);  // none here
  auto a = Node::open(challenging, ka);
  ASSERT_TRUE(a && a->start());
  Node& b = start("b", kb, Carrier::to_device);
  // c's displayname proves its id, but c runs no node: nothing answers its challenges.
  testing::RawPeer c(base_url(), server_name(), kc, root_ / "c");
  ASSERT_TRUE(c.call(transport::calls::set_displayname(
      c.user_id(), matrix_identity(kc, server_name()).displayname.to_hex())));

  ASSERT_TRUE(a->send(kc.address(), "to a key that does not answer"));
  ASSERT_TRUE(a->send(b.address(), "to a live peer"));
  auto events = collect(*a, [](auto& ev) { return count(ev, NodeEventType::delivered) == 1; });
  ASSERT_EQ(count(events, NodeEventType::delivered), 1u);
  EXPECT_EQ(events.back().peer, b.address());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(a->stats().transmitted, 1u) << "nothing went to c, whose displayname proves it";
}

}  // namespace
}  // namespace mrt
