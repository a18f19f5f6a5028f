// mrt::Node end to end (the node-to-node benchmarks): two nodes in this process, each with its own
// LMDB store under a temporary directory and a fresh key, talking through one `mrt serve` child
// on 127.0.0.1 (rate limits lifted), for each carrier (to_device, room) and store durability
// (full, off). The measuring is bench/support/node_benchmark.cpp, which `mrt bench` runs too with
// the homeserver in its own process; this program keeps the homeserver apart, as a child, so that
// the nodes' CPU time and the server's are two processes':
//   - latency: send() on one node -> the `message` event on the other, one message at a time,
//     alternating direction, each exchange finished (its `delivered` back) before the next;
//     p50/p99/max after a warm-up, and the send -> delivered round trip;
//   - throughput: N messages from A to B with send_many in chunks, msg/s until B has them all
//     and until A has every `delivered`; Matrix sends (NodeStats::payloads) per message;
//     process CPU time (both nodes, their HTTP, JSON, LMDB, Megolm/Olm, signatures, and this
//     program's own loops) per message, and the server's CPU time apart;
//   - the raw primitives in the same process, for the crypto pipeline's ratio: personal_sign and
//     ecrecover of one envelope, libolm Megolm encrypt + decrypt and Olm encrypt + decrypt of a
//     payload holding that one envelope.
// Prints one JSON object per line (bench/node_run.sh turns them into docs/benchmarks.md's
// table). Exits 1 when a message is lost, duplicated, reordered, late (30 s) or came on another
// carrier, or when a node rejected an envelope or could not decrypt a payload.
//
//   mrt_node_bench [--messages 5000] [--samples 500] [--warmup 50] [--chunk 100]
//                  [--body-bytes 128] [--carriers to_device,room] [--durability full,off]
//                  [--dir /tmp]     (where the stores go; /dev/shm takes the disk out)
//                  [--no-primitives]  (for profiling the nodes alone)
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/node.hpp>

#include "bench/support/node_benchmark.hpp"
#include "testing/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using Options = mrt::cli::NodeBenchOptions;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  o.dir = fs::temp_directory_path();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    auto number = [&] { return static_cast<std::size_t>(std::stoul(argv[++i])); };
    if (a == "--messages" && has_value) {
      o.messages = number();
    } else if (a == "--samples" && has_value) {
      o.samples = number();
    } else if (a == "--warmup" && has_value) {
      o.warmup = number();
    } else if (a == "--chunk" && has_value) {
      o.chunk = std::max<std::size_t>(1, number());
    } else if (a == "--body-bytes" && has_value) {
      o.body_bytes = number();
    } else if (a == "--no-primitives") {
      o.primitives = false;
    } else if (a == "--dir" && has_value) {
      o.dir = argv[++i];
    } else if (a == "--carriers" && has_value) {
      o.carriers.clear();
      for (const auto& c : split(argv[++i])) {
        if (c != "to_device" && c != "room") throw std::invalid_argument("carrier " + c);
        o.carriers.push_back(c == "room" ? mrt::Carrier::room : mrt::Carrier::to_device);
      }
    } else if (a == "--durability" && has_value) {
      o.durabilities.clear();
      for (const auto& d : split(argv[++i])) {
        if (d != "full" && d != "off") throw std::invalid_argument("durability " + d);
        o.durabilities.push_back(d == "full" ? mrt::store::Durability::full
                                             : mrt::store::Durability::off);
      }
    } else {
      throw std::invalid_argument(a);
    }
  }
  return o;
}

// `mrt serve` as a child; its CPU time from /proc.
class ChildHomeserver : public mrt::cli::BenchHomeserver {
 public:
  explicit ChildHomeserver(const fs::path& data_dir)
      : process_(data_dir, {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"}) {
  }
  std::string url() const override { return process_.base_url(); }
  double cpu_seconds() const override {
    return mrt::cli::proc_stat_cpu_seconds("/proc/" + std::to_string(process_.pid()) + "/stat");
  }
  bool in_process() const override { return false; }

 private:
  mrt::testing::ServerProcess process_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bad argument " << e.what()
              << "\nusage: mrt_node_bench [--messages N] [--samples N] [--warmup N] [--chunk N] "
                 "[--body-bytes N] [--carriers to_device,room] [--durability full,off] [--dir DIR] "
                 "[--no-primitives]\n";
    return 2;
  }
  bool ok = false;
  const fs::path root = o.dir / ("mrt-node-bench-" + std::to_string(::getpid()));
  mrt::cli::NodeBenchHooks hooks;
  hooks.start_homeserver = [](const fs::path& dir) -> std::unique_ptr<mrt::cli::BenchHomeserver> {
    return std::make_unique<ChildHomeserver>(dir);
  };
  hooks.emit = [](const nlohmann::json& line) { std::cout << line.dump() << std::endl; };
  try {
    ok = mrt::cli::run_node_benchmark(o, root, hooks);
  } catch (const std::exception& e) {
    std::cerr << "mrt_node_bench: " << e.what() << "\n";
    ok = false;
  }
  return ok ? 0 : 1;
}
