// Homes in process: nodes with accounts on two hub homeservers at once (multi-homing, which the
// hub's servers allow without federating), a homeserver that goes down mid-burst, and one that
// restarts, and failover to a spare homeserver. The `mrt serve` copies of these
// (node_homes_test.cpp, node_restart_test.cpp) need seconds of real timeouts each.
#include <set>

#include <gtest/gtest.h>

#include "testing/driven_node.hpp"
#include "testing/ordered_keys.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {
namespace {

constexpr const char* kFirst = "one.test";
constexpr const char* kSecond = "two.test";

std::multiset<std::string> bodies_of(const DrivenNode& node) {
  const auto bodies = node.bodies();
  return {bodies.begin(), bodies.end()};
}

std::multiset<std::string> delivered_ids(const DrivenNode& node) {
  std::multiset<std::string> ids;
  for (const auto& e : node.events())
    if (e.type == NodeEventType::delivered) ids.insert(e.id);
  return ids;
}

class HomesScenario : public ::testing::Test {
 protected:
  HomesScenario() {
    hub.add_server(kFirst);
    hub.add_server(kSecond);
  }
  ~HomesScenario() override { std::filesystem::remove_all(dir); }

  // Two nodes with accounts on the first `homes` of `servers` (0: all), `low` with the lower
  // address.
  void start(const std::vector<std::string>& servers, Carrier carrier, std::size_t homes = 0) {
    const auto keys = ascending_keys(2);
    NodeConfig config;
    config.carrier = carrier;
    config.failover_after = std::chrono::seconds(1);
    low = std::make_unique<DrivenNode>(hub, dir / "low", servers, keys[0], config,
                                       DrivenOptions{.homes = homes});
    high = std::make_unique<DrivenNode>(hub, dir / "high", servers, keys[1], config,
                                        DrivenOptions{.homes = homes});
  }
  bool run(const std::function<bool()>& done, std::int64_t limit_ms = 120'000) {
    return run_until(hub, {low.get(), high.get()}, done, limit_ms);
  }
  std::set<std::string> send(const std::string& prefix, int from, int to) {
    std::set<std::string> bodies;
    for (int i = from; i < to; ++i) {
      bodies.insert(prefix + std::to_string(i));
      low->send(high->address(), prefix + std::to_string(i));
    }
    return bodies;
  }
  // Every body arrived once and every message was reported delivered once; and stays so for
  // another minute of resends and syncs.
  void expect_each_once(const std::set<std::string>& sent) {
    ASSERT_TRUE(run([&] {
      return bodies_of(*high).size() >= sent.size() &&
             low->count(NodeEventType::delivered) >= sent.size();
    }));
    run([] { return false; }, 60'000);
    const auto got = bodies_of(*high);
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent);
    EXPECT_EQ(got.size(), sent.size());
    const auto ids = delivered_ids(*low);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), sent.size());
    EXPECT_EQ(ids.size(), sent.size());
    EXPECT_EQ(low->count(NodeEventType::failed), 0u);
  }

  std::filesystem::path dir = fresh_dir("homes-scenario");
  HomeserverHub hub{dir / "servers"};
  std::unique_ptr<DrivenNode> low, high;
};

class HomesOnEachCarrier : public HomesScenario, public ::testing::WithParamInterface<Carrier> {};

TEST_P(HomesOnEachCarrier, MultiHomedNodesExchangeMessagesEachOnce) {
  start({kFirst, kSecond}, GetParam());
  expect_each_once(send("m", 0, 40));
}

TEST_P(HomesOnEachCarrier, MultiHomedNodesLoseNothingWhenOneHomeserverGoesDownMidBurst) {
  start({kFirst, kSecond}, GetParam());
  auto sent = send("before ", 0, 50);
  ASSERT_TRUE(run([&] { return bodies_of(*high).size() >= 10; }));
  hub.take_down(kFirst);
  sent.merge(send("after ", 0, 50));
  expect_each_once(sent);
}

TEST_P(HomesOnEachCarrier, HomeserverRestartMidBurstLosesNothing) {
  start({kFirst}, GetParam());
  auto sent = send("before ", 0, 50);
  ASSERT_TRUE(run([&] { return bodies_of(*high).size() >= 10; }));
  hub.take_down(kFirst);
  sent.merge(send("during ", 0, 20));
  run([] { return false; }, 5'000);
  hub.bring_up(kFirst);
  sent.merge(send("after ", 0, 30));
  expect_each_once(sent);
}

TEST_P(HomesOnEachCarrier, FailoverMidBurstDeliversEveryMessageOnce) {
  start({kFirst, kSecond}, GetParam(), 1);  // the second server is both nodes' spare
  auto sent = send("before ", 0, 50);
  ASSERT_TRUE(run([&] { return bodies_of(*high).size() >= 10; }));
  hub.take_down(kFirst);
  sent.merge(send("after ", 0, 50));
  expect_each_once(sent);
  for (DrivenNode* n : {low.get(), high.get()}) {
    ASSERT_EQ(n->node().homes().size(), 1u);
    EXPECT_EQ(n->node().homes().front().server_name, kSecond);
    EXPECT_EQ(n->stats().failovers, 1u);
    EXPECT_TRUE(n->user_id().ends_with(std::string(":") + kSecond));
  }
}

TEST_F(HomesScenario, AResendOverBothHomesIsAcceptedOnceAndTheCopyIsAReplay) {
  start({kFirst, kSecond}, Carrier::to_device);
  // The first transmission is lost; the resend goes over every home the peer is proven on.
  hub.lose_next("/sendToDevice/", 1);
  expect_each_once(send("m", 0, 1));
  EXPECT_EQ(low->stats().resent, 2u);
  EXPECT_EQ(high->stats().rejected[RejectReason::replay], 1u);
}

INSTANTIATE_TEST_SUITE_P(Carriers, HomesOnEachCarrier,
                         ::testing::Values(Carrier::to_device, Carrier::room), CarrierName{});

}  // namespace
}  // namespace mrt::testing
