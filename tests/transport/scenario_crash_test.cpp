// A node that crashes between any two of its steps (a step commits at most once: a /sync answer,
// a send batch), or inside any of its commits (the commit refused, as a full disk would, after
// whatever the step sent before it; then the crash), loses nothing and takes nothing in twice,
// in process and in virtual time; and a store that refuses any one commit, with no crash, costs a
// retry and one store_failed event. The crash is the node's end without stopping; the node made
// again on the same store is the same device. (Over HTTP, kill -9 of `mrt node` mid-burst and a
// store refusing writes: tests/cli/node_crash_test.cpp.)
#include <atomic>
#include <cerrno>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include <mrt/store/changes.hpp>
#include <mrt/store/error.hpp>

#include "testing/driven_node.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {
namespace {

constexpr const char* kServer = "hs.test";
constexpr int kMessages = 5;

class CrashScenario : public ::testing::TestWithParam<int> {
 protected:
  CrashScenario() {
    hub.add_server(kServer);
    if (high_key.address() < low_key.address()) std::swap(low_key, high_key);
    low = make(low_key, "low");
    high = make(high_key, "high");
  }
  ~CrashScenario() override {
    low.reset();
    high.reset();
    std::filesystem::remove_all(dir);
  }
  // A node's store refuses its `fail_at`-th group commit once armed (-1: none).
  struct StoreFault {
    std::atomic<int> commits{0};
    std::atomic<int> fail_at{-1};
    std::atomic<bool> fired{false};
  };
  std::unique_ptr<DrivenNode> make(const PrivateKey& key, const std::string& name) {
    NodeConfig config;
    config.carrier = Carrier::to_device;
    StoreFault& fault = faults[name];
    fault.fail_at = -1;
    const auto refuse = [&fault] {
      if (fault.fail_at < 0 || fault.commits++ != fault.fail_at) return;
      fault.fired = true;
      throw store::Error(EIO, "injected: the disk refuses this commit");
    };
    return std::make_unique<DrivenNode>(hub, dir / name, kServer, key, config,
                                        DrivenOptions{.before_group_commit = refuse});
  }
  bool run(const std::function<bool()>& done) {
    return run_until(hub, {low.get(), high.get()}, done, 120'000);
  }
  std::vector<std::string> send_all() {
    std::vector<std::string> ids;
    for (int i = 0; i < kMessages; ++i)
      ids.push_back(low->send(high->address(), std::to_string(i)));
    return ids;
  }
  // Every message is in the receiver's inbox, once, and settled as delivered at the sender.
  void expect_each_once(const std::vector<std::string>& ids) {
    ASSERT_TRUE(run([&] {
      const auto out = low->outbox();
      return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
        const auto it = out.find(id);
        return it != out.end() && it->second.value("settled", "") == "delivered";
      });
    })) << "every message acked";
    const auto in = high->inbox();
    EXPECT_EQ(in.size(), ids.size());
    for (const auto& id : ids)
      EXPECT_TRUE(in.contains(store::join_key({low->address().to_hex(), id}))) << id;
  }

  // Runs until `crash_point()` holds, ends `node` there and makes it again.
  void crash_when(std::unique_ptr<DrivenNode>& node, const PrivateKey& key, const std::string& name,
                  const std::function<bool()>& crash_point) {
    run(crash_point);
    node.reset();  // the crash
    node = make(key, name);
  }
  // Crashes `node` once it has taken GetParam() more steps.
  void crash_after_steps(std::unique_ptr<DrivenNode>& node, const PrivateKey& key,
                         const std::string& name) {
    const std::uint64_t last = node->steps() + static_cast<std::uint64_t>(GetParam());
    crash_when(node, key, name, [&] { return node->steps() >= last; });
  }

  // The store of node `name` refuses its GetParam()-th group commit from now (there are about
  // ten in these exchanges; past the last, none is refused).
  StoreFault& refuse_a_commit(const std::string& name) {
    StoreFault& fault = faults[name];
    fault.commits = 0;
    fault.fail_at = GetParam();
    return fault;
  }
  // Crashes `node` once that commit has been refused.
  void crash_inside_commit(std::unique_ptr<DrivenNode>& node, const PrivateKey& key,
                           const std::string& name) {
    const StoreFault& fault = refuse_a_commit(name);
    crash_when(node, key, name, [&] { return fault.fired.load(); });
  }

  std::map<std::string, StoreFault> faults;  // by node name; before the nodes, which use them
  std::filesystem::path dir = fresh_dir("crash");
  HomeserverHub hub{dir / "servers"};
  PrivateKey low_key = PrivateKey::generate(), high_key = PrivateKey::generate();
  std::unique_ptr<DrivenNode> low, high;
};

TEST_P(CrashScenario, AReceiverCrashedAfterAnyStepLosesNothingAndStoresEachMessageOnce) {
  const auto ids = send_all();
  crash_after_steps(high, high_key, "high");
  expect_each_once(ids);
}

TEST_P(CrashScenario, ASenderCrashedAfterAnyStepResumesItsOutboxAndDeliversEachOnce) {
  const auto ids = send_all();
  crash_after_steps(low, low_key, "low");
  expect_each_once(ids);
}

TEST_P(CrashScenario, AReceiverCrashedInsideAnyCommitLosesNothingAndStoresEachMessageOnce) {
  const auto ids = send_all();
  crash_inside_commit(high, high_key, "high");
  expect_each_once(ids);
}

TEST_P(CrashScenario, ASenderCrashedInsideAnyCommitDeliversEachOnce) {
  const auto ids = send_all();
  crash_inside_commit(low, low_key, "low");
  expect_each_once(ids);
}

TEST_P(CrashScenario, AnyOneRefusedCommitIsReportedAndCostsARetryOnly) {
  const auto ids = send_all();
  const StoreFault& receiver = refuse_a_commit("high");
  const StoreFault& sender = refuse_a_commit("low");
  expect_each_once(ids);
  EXPECT_EQ(high->count(NodeEventType::store_failed), receiver.fired ? 1u : 0u);
  EXPECT_EQ(low->count(NodeEventType::store_failed), sender.fired ? 1u : 0u);
}

// The parameter is a crash point: the number of steps before a crash between steps, or the
// index of the commit refused.
std::string crash_point(const ::testing::TestParamInfo<int>& param) {
  return "point_" + std::to_string(param.param);
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, CrashScenario, ::testing::Range(0, 12), crash_point);

}  // namespace
}  // namespace mrt::testing
