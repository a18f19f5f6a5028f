// The Synapse harness itself (label `synapse`): instances started together federate, one killed
// with SIGKILL comes back on its ports with its data, and each is wiped when it goes.
#include "testing/synapse_process.hpp"

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include <mrt/eth.hpp>

#include "http_io.hpp"
#include "matrix_client.hpp"
#include "testing/test_homeserver.hpp"

namespace mrt::testing {
namespace {

using transport::HttpIo;
using transport::MatrixClient;

TEST(SynapseProcessTest, InstancesStartedTogetherFederateAndComeBackAfterKillHard) {
  std::filesystem::path dir_of_first;
  {
    auto servers = SynapseProcess::start_many(2);
    ASSERT_EQ(servers.size(), 2u);
    SynapseProcess& one = *servers[0];
    SynapseProcess& two = *servers[1];
    dir_of_first = one.dir();
    EXPECT_NE(one.name(), two.name());
    EXPECT_NE(one.server_name(), two.server_name());
    EXPECT_GT(one.pid(), 0);
    EXPECT_TRUE(std::filesystem::exists(one.dir() / "homeserver.log"));

    HttpIo io;
    MatrixClient alice(io, {.base_url = one.base_url()});
    MatrixClient bob(io, {.base_url = two.base_url()});
    const PrivateKey alice_key = PrivateKey::generate(), bob_key = PrivateKey::generate();
    auto a = alice.login_ethereum(alice_key, one.server_name()).get();
    ASSERT_TRUE(a) << describe(a.error());
    EXPECT_TRUE(a->user_id.ends_with(":" + one.server_name()));
    auto b = bob.login_ethereum(bob_key, two.server_name()).get();
    ASSERT_TRUE(b) << describe(b.error());
    // A remote profile is answered over federation.
    EXPECT_TRUE(
        alice.request("GET", "/_matrix/client/v3/profile/" + transport::url_encode(b->user_id), {})
            .get());

    two.kill_hard();
    EXPECT_EQ(two.pid(), -1);
    two.restart();
    EXPECT_GT(two.pid(), 0);
    MatrixClient again(io, {.base_url = two.base_url()});
    auto b2 = again.login_ethereum(bob_key, two.server_name(), b->device_id).get();
    ASSERT_TRUE(b2) << describe(b2.error());
    EXPECT_EQ(b2->device_id, b->device_id);
    auto devices = again.request("GET", "/_matrix/client/v3/devices", {}).get();
    ASSERT_TRUE(devices);
    ASSERT_EQ((*devices)["devices"].size(), 1u) << "the account and device survived the kill";
    io.shutdown();
  }
  const char* keep = std::getenv("MRT_SYNAPSE_KEEP");
  if (!keep || std::string(keep) != "1") {
    EXPECT_FALSE(std::filesystem::exists(dir_of_first)) << "wiped when it went";
  }
}

TEST(SynapseProcessTest, TestHomeserverOfKindSynapseRestartsOnItsPort) {
  auto hs = make_test_homeserver({}, {}, HomeserverKind::synapse);
  EXPECT_EQ(hs->kind(), HomeserverKind::synapse);
  EXPECT_TRUE(hs->server_name().starts_with("127.0.0.1:"));
  const std::string url = hs->base_url();
  hs->restart();  // while it runs: stopped first
  EXPECT_EQ(hs->base_url(), url);
  HttpIo io;
  MatrixClient client(io, {.base_url = hs->base_url()});
  EXPECT_TRUE(client.login_ethereum(PrivateKey::generate(), hs->server_name()).get());
  io.shutdown();
}

}  // namespace
}  // namespace mrt::testing
