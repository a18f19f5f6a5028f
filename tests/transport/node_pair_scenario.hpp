// A fixture for scenarios of two nodes on one in-process homeserver, in virtual time
// (testing/driven_node.hpp): `low` has the lower address (it creates the DM room, PROTOCOL §5).
#pragma once

#include <gtest/gtest.h>

#include "testing/driven_node.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {

class NodePairScenario : public ::testing::Test {
 protected:
  static constexpr const char* kServer = "hs.test";

  NodePairScenario() { hub.add_server(kServer); }
  ~NodePairScenario() override {
    low.reset();
    high.reset();
    std::filesystem::remove_all(dir);
  }

  void start(Carrier carrier, NodeConfig config = {}) {
    auto k1 = PrivateKey::generate(), k2 = PrivateKey::generate();
    if (k2.address() < k1.address()) std::swap(k1, k2);
    config.carrier = carrier;
    low = std::make_unique<DrivenNode>(hub, dir / "low", kServer, k1, config);
    high = std::make_unique<DrivenNode>(hub, dir / "high", kServer, k2, config);
  }
  // Runs both until `done()` (true) or `limit_ms` of virtual time (false).
  bool run(const std::function<bool()>& done, std::int64_t limit_ms = 60'000) {
    return run_until(hub, {low.get(), high.get()}, done, limit_ms);
  }
  void idle(std::int64_t ms) {
    run([] { return false; }, ms);
  }

  std::filesystem::path dir = fresh_dir("scenario");
  HomeserverHub hub{dir / "servers"};
  std::unique_ptr<DrivenNode> low, high;
};

}  // namespace mrt::testing
