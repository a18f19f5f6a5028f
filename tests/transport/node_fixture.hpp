// The node tests' fixture: one homeserver per test (an `mrt serve` child on 127.0.0.1, or a
// Synapse with MRT_TEST_HOMESERVER=synapse: testing/test_homeserver.hpp), nodes with real
// LMDB stores under a temporary directory, and helpers that wait for events. A test names the
// homeserver only through the fixture (homeserver(), base_url(), server_name()), so that it runs
// on either. A federation test adds Synapses with testing::start_synapses(n) and puts nodes on
// them with config_on().
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/node.hpp>

#include "testing/test_homeserver.hpp"

namespace mrt {

using namespace std::chrono_literals;
using mrt::testing::HomeserverKind;
using mrt::testing::TestHomeserver;

// Long enough for a first contact (key query, claim, room creation) on a loaded machine, on
// `mrt serve` or Synapse; reached only when something is broken.
inline constexpr auto kPatience = 30s;

inline const std::vector<std::string> kNoLimits = {
    "--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"};

inline std::filesystem::path temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mrt-node-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// Milliseconds since the epoch, as envelopes' `ts`.
inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The key whose address is lower (or higher) than the other's.
inline std::pair<PrivateKey, PrivateKey> ordered_keys() {
  PrivateKey a = PrivateKey::generate(), b = PrivateKey::generate();
  if (b.address() < a.address()) std::swap(a, b);
  return {std::move(a), std::move(b)};
}

class NodeTest : public ::testing::Test {
 public:
  void SetUp() override {
    root_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    homeserver_ = testing::make_test_homeserver(root_ / "server", kNoLimits);
  }
  void TearDown() override {
    nodes_.clear();
    homeserver_.reset();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  TestHomeserver& homeserver() { return *homeserver_; }
  std::string base_url() const { return homeserver_->base_url(); }
  std::string server_name() const { return homeserver_->server_name(); }

  NodeConfig config(const std::string& name, Carrier carrier) {
    return config_on(*homeserver_, name, carrier);
  }
  // The same on another homeserver (a federation test's second server).
  NodeConfig config_on(const TestHomeserver& homeserver, const std::string& name, Carrier carrier) {
    NodeConfig c;
    c.homeserver = homeserver.base_url();
    c.server_name = homeserver.server_name();
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
      Node& node, const std::function<bool(const std::vector<NodeEvent>&)>& done,
      std::chrono::milliseconds patience = kPatience) {
    std::vector<NodeEvent> events;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!done(events) && std::chrono::steady_clock::now() < deadline) {
      if (auto e = node.next_event(100ms)) {
        node.consumed(*e);
        events.push_back(std::move(*e));
      }
    }
    return events;
  }

  // Polls `condition` until it holds or the patience runs out.
  static bool eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  static std::size_t count(const std::vector<NodeEvent>& events, NodeEventType type) {
    return std::count_if(events.begin(), events.end(),
                         [&](const NodeEvent& e) { return e.type == type; });
  }

  std::filesystem::path root_;
  std::unique_ptr<TestHomeserver> homeserver_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

}  // namespace mrt
