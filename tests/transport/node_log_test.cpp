// NodeConfig::on_log: what the node tells a log, at the level asked for, never a secret.
#include <mutex>

#include <mrt/bytes.hpp>
#include <mrt/matrix_identity.hpp>

#include "node_fixture.hpp"

namespace mrt {
namespace {

class NodeLogTest : public NodeTest {
 protected:
  Node& start_logging(const std::string& name, const PrivateKey& key, LogLevel level) {
    NodeConfig c = config(name, Carrier::to_device);
    c.log_level = level;
    c.on_log = [this](const LogRecord& r) {
      std::lock_guard lock(mutex_);
      records_.push_back(r);
    };
    auto node = Node::open(c, key);
    if (!node) throw std::runtime_error(node.error().message);
    if (auto started = node->start(); !started) throw std::runtime_error(started.error().message);
    nodes_[name] = std::make_unique<Node>(std::move(*node));
    return *nodes_[name];
  }
  std::vector<LogRecord> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }
  bool logged(const std::string& event) {
    for (const auto& r : records())
      if (r.event == event) return true;
    return false;
  }

  std::mutex mutex_;
  std::vector<LogRecord> records_;
};

TEST_F(NodeLogTest, AFailingSyncIsLoggedWithItsServer) {
  const PrivateKey key = PrivateKey::generate();
  start_logging("a", key, LogLevel::warning);
  homeserver().kill_hard();
  ASSERT_TRUE(eventually([&] { return logged("sync_failed"); }));
  for (const auto& r : records()) {
    if (r.event != "sync_failed") continue;
    EXPECT_EQ(r.level, LogLevel::warning);
    EXPECT_EQ(r.component, "sync");
    EXPECT_EQ(r.fields.at("server"), server_name());
    EXPECT_GT(r.fields.at("retry_in_ms").get<std::int64_t>(), 0);
  }
  homeserver().restart();
}

TEST_F(NodeLogTest, RecordsBelowTheLevelAreNotHandedOver) {
  const PrivateKey key = PrivateKey::generate();
  start_logging("a", key, LogLevel::error);
  homeserver().kill_hard();
  std::this_thread::sleep_for(1500ms);  // the sync in flight fails at once, the next ones too
  EXPECT_FALSE(logged("sync_failed"));
  homeserver().restart();
}

TEST_F(NodeLogTest, NoRecordHoldsTheKeyOrThePassword) {
  auto [ka, kb] = ordered_keys();
  Node& a = start_logging("a", ka, LogLevel::debug);
  Node& b = start("b", kb, Carrier::to_device);
  ASSERT_TRUE(a.send(b.address(), "hello"));
  ASSERT_EQ(count(collect(b, [](auto& ev) { return count(ev, NodeEventType::message) == 1; }),
                  NodeEventType::message),
            1u);
  homeserver().kill_hard();
  ASSERT_TRUE(eventually([&] { return logged("sync_failed"); }));
  std::string all;
  for (const auto& r : records()) all += r.component + " " + r.event + " " + r.fields.dump() + "\n";
  const std::string secret = to_hex(ka.secret());
  const std::string password = matrix_identity(ka, server_name()).password.to_hex();
  EXPECT_EQ(all.find(secret.substr(secret.size() - 40)), std::string::npos);
  EXPECT_EQ(all.find(password.substr(2, 40)), std::string::npos);
  homeserver().restart();
}

}  // namespace
}  // namespace mrt
