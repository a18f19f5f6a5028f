// mrt::Node end to end: two nodes (real LMDB stores) talking through `mrt serve` over HTTP on
// 127.0.0.1, on each carrier, across restarts.
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/node.hpp>

#include "server_process.hpp"

namespace mrt {
namespace {

using namespace std::chrono_literals;
using mrt::testing::ServerProcess;

// Long enough for a first contact (key query, claim, room creation) on a loaded machine;
// reached only when something is broken.
constexpr auto kPatience = 30s;

const std::vector<std::string> kNoLimits = {"--rate-limits",
                                            "send=0,to_device=0,invite=0,create_room=0,login=0"};

std::filesystem::path temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mrt-node-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// The key whose address is lower (or higher) than the other's.
std::pair<PrivateKey, PrivateKey> ordered_keys() {
  PrivateKey a = PrivateKey::generate(), b = PrivateKey::generate();
  if (b.address() < a.address()) std::swap(a, b);
  return {std::move(a), std::move(b)};
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    server_ = std::make_unique<ServerProcess>(root_ / "server", kNoLimits);
  }
  void TearDown() override {
    nodes_.clear();
    server_.reset();
    std::filesystem::remove_all(root_);
  }

  NodeConfig config(const std::string& name, Carrier carrier) {
    NodeConfig c;
    c.homeserver = server_->base_url();
    c.server_name = "localhost";
    c.data_dir = root_ / name;
    c.carrier = carrier;
    c.resend_initial = 500ms;
    c.resend_max = 2s;
    c.sync_timeout = 5s;
    c.durability = store::Durability::full;
    return c;
  }

  Node& start(const std::string& name, const PrivateKey& key, Carrier carrier) {
    auto node = Node::open(config(name, carrier), key);
    if (!node) throw std::runtime_error(node.error().message);
    auto started = node->start();
    if (!started) throw std::runtime_error(started.error().message);
    nodes_[name] = std::make_unique<Node>(std::move(*node));
    return *nodes_[name];
  }

  // Events until `done` says enough, or the patience runs out.
  static std::vector<NodeEvent> collect(
      Node& node, const std::function<bool(const std::vector<NodeEvent>&)>& done) {
    std::vector<NodeEvent> events;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!done(events) && std::chrono::steady_clock::now() < deadline) {
      if (auto e = node.next_event(100ms)) {
        if (e->type == NodeEventType::message) node.consumed(*e);
        events.push_back(std::move(*e));
      }
    }
    return events;
  }

  static std::size_t count(const std::vector<NodeEvent>& events, NodeEventType type) {
    return std::count_if(events.begin(), events.end(),
                         [&](const NodeEvent& e) { return e.type == type; });
  }

  std::filesystem::path root_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

TEST_F(NodeTest, ToDeviceMessageIsDeliveredAndAcked) {
  auto [ka, kb] = ordered_keys();
  Node& a = start("a", ka, Carrier::to_device);
  Node& b = start("b", kb, Carrier::to_device);

  auto id = a.send(b.address(), "hello b");
  ASSERT_TRUE(id) << id.error().message;

  auto got = collect(b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(got, NodeEventType::message), 1u);
  const NodeEvent& m = got.back();
  EXPECT_EQ(m.body, "hello b");
  EXPECT_EQ(m.id, *id);
  EXPECT_EQ(m.peer, a.address());
  EXPECT_EQ(m.carrier, Carrier::to_device);

  auto acked = collect(a, [](auto& ev) { return count(ev, NodeEventType::delivered) == 1; });
  ASSERT_EQ(count(acked, NodeEventType::delivered), 1u);
  EXPECT_EQ(acked.back().id, *id);
  EXPECT_EQ(a.stats().outbox, 0u);
}

TEST_F(NodeTest, RoomCarrierMovesToTheDmRoomOnceBothJoined) {
  auto [ka, kb] = ordered_keys();
  Node& lower = start("lower", ka, Carrier::room);
  Node& higher = start("higher", kb, Carrier::room);

  // The higher address speaks first: over to_device until the lower one's room is ready.
  ASSERT_TRUE(higher.send(lower.address(), "first"));
  auto first = collect(lower, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(first, NodeEventType::message), 1u);

  std::set<Carrier> carriers;
  for (int round = 0; round < 40 && !carriers.count(Carrier::room); ++round) {
    ASSERT_TRUE(higher.send(lower.address(), "round " + std::to_string(round)));
    auto got = collect(lower, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
    ASSERT_EQ(count(got, NodeEventType::message), 1u) << "round " << round;
    carriers.insert(*got.back().carrier);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(carriers.count(Carrier::room)) << "never moved to the DM room";

  ASSERT_TRUE(lower.send(higher.address(), "back"));
  auto back = collect(higher, [](auto& ev) { return count(ev, NodeEventType::message) == 1; });
  ASSERT_EQ(count(back, NodeEventType::message), 1u);
  EXPECT_EQ(back.back().body, "back");
  EXPECT_EQ(back.back().carrier, Carrier::room);
}

}  // namespace
}  // namespace mrt
