// The network benchmarks (bench/network_bench.cpp runs them; docs/benchmarks.md,
// "Network"): broadcast fan-out latency and the scale curve, each against one
// `mrt serve` child whose CPU time and memory are read from /proc. Results are JSON objects,
// one per measurement, handed to `emit`.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/node.hpp>

#include "bench/support/node_benchmark.hpp"

namespace mrt::bench {

using Emit = std::function<void(const nlohmann::json&)>;

// The homeserver the nodes share, seen from outside.
struct ServerView {
  std::string url;
  pid_t pid;
};

struct FanoutOptions {
  // Subscriber counts, in increasing order: each stage adds nodes to the previous ones.
  std::vector<std::size_t> subscribers = {1, 10, 100};
  std::size_t broadcasts = 300, warmup = 20;
  std::size_t unicast_samples = 200;  // the 2-node unicast reference (0: none)
  std::size_t body_bytes = 128;
  store::Durability durability = store::Durability::off;
  std::filesystem::path root;  // where the nodes' stores go
};

struct ScaleOptions {
  std::size_t nodes = 2;  // even: nodes 2k and 2k+1 are a pair
  double rate = 200;      // messages per second, all pairs together
  double seconds = 10;
  double idle_seconds = 5;
  std::size_t body_bytes = 128;
  store::Durability durability = store::Durability::off;
  std::filesystem::path root;
};

// Both throw std::runtime_error when a node cannot start or a message is late (30 s); a lost,
// duplicated or rejected message is reported in the results ("ok": false).
bool run_fanout(const FanoutOptions& options, const ServerView& server, const Emit& emit);
bool run_scale(const ScaleOptions& options, const ServerView& server, const Emit& emit);

// ---- measuring helpers (net_measure.cpp) ----
double process_cpu_seconds();      // this process, user + system (getrusage)
double cpu_seconds_of(pid_t pid);  // another process, from /proc/<pid>/stat
double rss_mib_of(pid_t pid);      // VmRSS from /proc/<pid>/status (0: this process)
using cli::percentile;             // bench/support/node_benchmark.hpp
using cli::round3;
std::string body_of(const std::string& tag, std::size_t bytes);  // `tag` padded with 'x'

}  // namespace mrt::bench
