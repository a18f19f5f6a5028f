// The node-to-node benchmark, shared by `mrt bench` (cli/bench_command.cpp, the dev
// homeserver in-process) and `mrt_node_bench` (bench/node_bench.cpp, `mrt serve` as a child):
// two mrt::Node in this process, each with its own LMDB store and a fresh key, talking through
// the homeserver the caller starts, for each carrier and store durability:
//   - latency: send() on one node -> the `message` event on the other, one message at a time,
//     alternating direction, each exchange finished (its `delivered` back) before the next;
//     p50/p99/max after a warm-up, and the send -> delivered round trip;
//   - throughput: N messages from A to B with send_many in chunks, msg/s until B has them all
//     and until A has every `delivered`; Matrix sends (NodeStats::payloads) per message; CPU
//     time per message of this process (both nodes, their HTTP, JSON, LMDB, Megolm/Olm,
//     signatures, and the benchmark's own loops) without the homeserver's, and the
//     homeserver's apart;
//   - the raw primitives in the same process, for the crypto pipeline's ratio: personal_sign and
//     ecrecover of one envelope, libolm Megolm encrypt + decrypt and Olm encrypt + decrypt of a
//     payload holding that one envelope, and of a full payload divided by its envelopes;
//   - fdatasync of 4 KiB where the stores are, before the run and before each latency row.
// Results are JSON objects, one per measurement ("kind": primitives, fsync, setup, latency,
// throughput, error), in the form bench/node_run.sh reads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/node.hpp>

namespace mrt::cli {

struct NodeBenchOptions {
  std::size_t messages = 5000, samples = 500, warmup = 50, chunk = 100, body_bytes = 128;
  std::filesystem::path dir;  // shown in the first fsync line: where the stores go
  bool primitives = true;
  std::vector<Carrier> carriers = {Carrier::to_device, Carrier::room};
  std::vector<store::Durability> durabilities = {store::Durability::full, store::Durability::off};
};

// The homeserver the nodes talk to (server name "localhost", rate limits lifted).
class BenchHomeserver {
 public:
  virtual ~BenchHomeserver() = default;
  virtual std::string url() const = 0;
  // CPU time (user + system) it has used so far, in seconds.
  virtual double cpu_seconds() const = 0;
  // Whether that CPU time is part of this process's (then it is taken out of the nodes').
  virtual bool in_process() const = 0;
};

struct NodeBenchHooks {
  // Starts the homeserver with its data under the given directory.
  std::function<std::unique_ptr<BenchHomeserver>(const std::filesystem::path&)> start_homeserver;
  // Each result, as soon as it is measured.
  std::function<void(const nlohmann::json&)> emit;
  // Asked often on the calling thread; true ends the run early (NodeBenchInterrupted).
  std::function<bool()> interrupted;
};

struct NodeBenchInterrupted : std::runtime_error {
  NodeBenchInterrupted() : std::runtime_error("interrupted") {}
};

// Runs the benchmark with every store under `root` (created, and removed at the end). Returns
// true when every message of every configuration arrived exactly once, in order, on the carrier
// asked for, and no node rejected an envelope or failed to decrypt a payload; a configuration
// that failed is an "error" result and the run goes on with the next. Throws what the homeserver
// hook throws, std::runtime_error when the disk probe fails, and NodeBenchInterrupted.
bool run_node_benchmark(const NodeBenchOptions& options, const std::filesystem::path& root,
                        const NodeBenchHooks& hooks);

// utime + stime, in seconds, from a /proc/.../stat file (a process's or a thread's); 0 when it
// cannot be read.
double proc_stat_cpu_seconds(const std::filesystem::path& stat_file);

// The results as tables for people: latency, throughput, CPU per message against the raw
// primitives (the ratios of this run), with the node-to-node goals.
std::string node_bench_tables(const std::vector<nlohmann::json>& results);

// Nearest-rank percentile, p in [0, 1] (0 for no samples); and x rounded to 3 decimals, for
// printing. Shared with bench/'s network benchmark.
double percentile(std::vector<double> v, double p);
double round3(double x);

}  // namespace mrt::cli
