// Many mrt::Node in this process for the network benchmarks (bench/network_bench.cpp):
// each with its own LMDB store under one directory and a fresh key, all on one homeserver, and
// every event they report handed to one sink with the time it arrived.
//
//   Fleet fleet({.homeserver = url, .root = dir});
//   fleet.grow(10);                                   // 10 nodes started, 8 at a time
//   fleet.set_sink([&](std::size_t i, const NodeEvent& e, Clock::time_point at) { ... });
//   fleet[0].broadcast("raiden_1_monitoring", "hello");
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <mrt/node.hpp>

namespace mrt::bench {

using Clock = std::chrono::steady_clock;

struct FleetOptions {
  std::string homeserver;
  std::filesystem::path root;  // node i's store is root/n<i>
  store::Durability durability = store::Durability::off;
  Carrier carrier = Carrier::room;
};

// Runs on the node's event thread, one event at a time per node, several nodes at once; `at` is
// taken before anything else, so the sink's own cost is not in it.
using EventSink = std::function<void(std::size_t node, const NodeEvent&, Clock::time_point at)>;

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();  // stops every node (several at a time: each may wait up to 2 s to drain)
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Opens and starts `count` more nodes, `parallel` at a time. Throws std::runtime_error when
  // one cannot start.
  void grow(std::size_t count, std::size_t parallel = 8);
  std::size_t size() const { return nodes_.size(); }
  Node& operator[](std::size_t i) { return *nodes_.at(i); }

  // From now on, events go to `sink` (empty: they are dropped). Every event is consumed.
  void set_sink(EventSink sink);

 private:
  void deliver(std::size_t node, const NodeEvent& e);

  FleetOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::mutex sink_mutex_;
  EventSink sink_;
};

}  // namespace mrt::bench
