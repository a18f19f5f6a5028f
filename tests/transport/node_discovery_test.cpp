// Discovery: an address's user ids from the user directory, each proven by its
// displayname (PROTOCOL §2), cached in the store.
#include <mrt/matrix_identity.hpp>

#include "matrix_client.hpp"
#include "node_fixture.hpp"
#include "testing/raw_peer.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

transport::MatrixCall set_displayname(const std::string& user_id, const std::string& name) {
  return transport::calls::set_displayname(user_id, name);
}

TEST_F(NodeTest, DiscoveryFindsTheUserIdTheDisplaynameProves) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  auto found = a.discover(kb.address());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, std::vector<std::string>{b.user_id()});
  EXPECT_TRUE(a.discover(PrivateKey::generate().address()).value().empty())
      << "an address nobody uses";
}

TEST_F(NodeTest, DisplaynameSignedForAnotherUserIdIsRefused) {
  const PrivateKey ka = PrivateKey::generate(), kc = PrivateKey::generate();
  NodeConfig uncached = config("a", Carrier::to_device);
  uncached.discovery_ttl = std::chrono::milliseconds(0);
  auto a = Node::open(uncached, ka);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->start());
  testing::RawPeer c(base_url(), server_name(), kc, root_ / "c");
  // A real signature of c's key, but over the user id c would have on another server.
  const std::string elsewhere = matrix_user_id(kc.address(), "rogue.example");
  ASSERT_TRUE(
      c.call(set_displayname(c.user_id(), personal_sign(kc, as_bytes(elsewhere)).to_hex())));
  EXPECT_TRUE(a->discover(kc.address()).value().empty());
  // Signed over its own user id, the same key's displayname is accepted.
  ASSERT_TRUE(
      c.call(set_displayname(c.user_id(), personal_sign(kc, as_bytes(c.user_id())).to_hex())));
  EXPECT_EQ(a->discover(kc.address()).value(), std::vector<std::string>{c.user_id()});
}

TEST_F(NodeTest, DiscoveredUserIdsAreCached) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);
  const std::string b_device = b.device_id();
  ASSERT_EQ(a.discover(kb.address()).value(), std::vector<std::string>{b.user_id()});
  // Within discovery_ttl the node does not ask again, so a changed displayname goes unseen.
  transport::HttpIo io;
  transport::MatrixClient client(io, {.base_url = base_url()});
  nodes_.erase("b");  // a login as its device revokes its token
  ASSERT_TRUE(client.login_ethereum(kb, server_name(), b_device).get());
  ASSERT_TRUE(
      client.call(set_displayname(matrix_user_id(kb.address(), server_name()), "changed")).get());
  EXPECT_EQ(a.discover(kb.address()).value().size(), 1u);
}

}  // namespace
}  // namespace mrt
