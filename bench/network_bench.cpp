// The network benchmarks: many mrt::Node in this process on one `mrt serve` child
// (127.0.0.1, rate limits lifted, its data under --dir), whose CPU time and memory are read
// from /proc so that the nodes' cost and the homeserver's are two processes'.
//
//   mrt_network_bench fanout [--subscribers 1,10,100] [--broadcasts 300] [--warmup 20]
//                            [--unicast 200] [--body-bytes 128] [--durability off|full]
//                            [--dir /tmp]
//       broadcast latency, one publisher to every subscriber (bench/net_fanout.cpp)
//   mrt_network_bench scale --nodes N [--rate 200] [--seconds 10] [--idle 5]
//                           [--body-bytes 128] [--durability off|full] [--dir /tmp]
//       CPU per delivered message and memory per node, N/2 pairs (bench/net_scale.cpp);
//       bench/scale_run.sh runs it for 2, 10, 50, 100 nodes and draws docs/scale_curve.svg
//
// Prints one JSON object per line; exits 1 when a message was lost, duplicated or rejected,
// or one was late (30 s), 2 on a bad argument.
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "net_bench.hpp"
#include "testing/server_process.hpp"

namespace {

namespace fs = std::filesystem;

const char* const kUsage =
    "usage: mrt_network_bench fanout [--subscribers 1,10,100] [--broadcasts N] [--warmup N]\n"
    "                                [--unicast N] [--body-bytes N] [--durability off|full]\n"
    "                                [--dir DIR]\n"
    "       mrt_network_bench scale --nodes N [--rate MSG_PER_S] [--seconds S] [--idle S]\n"
    "                               [--body-bytes N] [--durability off|full] [--dir DIR]\n";

struct Args {
  std::string mode;
  mrt::bench::FanoutOptions fanout;
  mrt::bench::ScaleOptions scale;
  fs::path dir = fs::temp_directory_path();
};

Args parse(int argc, char** argv) {
  if (argc < 2) throw std::invalid_argument("no mode");
  Args a;
  a.mode = argv[1];
  if (a.mode != "fanout" && a.mode != "scale") throw std::invalid_argument(a.mode);
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag);
    const std::string value = argv[++i];
    auto count = [&] { return static_cast<std::size_t>(std::stoul(value)); };
    if (flag == "--dir") {
      a.dir = value;
    } else if (flag == "--durability") {
      if (value != "off" && value != "full") throw std::invalid_argument(flag);
      const auto d = value == "full" ? mrt::store::Durability::full : mrt::store::Durability::off;
      a.fanout.durability = a.scale.durability = d;
    } else if (flag == "--body-bytes") {
      a.fanout.body_bytes = a.scale.body_bytes = count();
    } else if (a.mode == "fanout" && flag == "--subscribers") {
      a.fanout.subscribers.clear();
      std::stringstream in(value);
      for (std::string item; std::getline(in, item, ',');)
        a.fanout.subscribers.push_back(std::stoul(item));
    } else if (a.mode == "fanout" && flag == "--broadcasts") {
      a.fanout.broadcasts = count();
    } else if (a.mode == "fanout" && flag == "--warmup") {
      a.fanout.warmup = count();
    } else if (a.mode == "fanout" && flag == "--unicast") {
      a.fanout.unicast_samples = count();
    } else if (a.mode == "scale" && flag == "--nodes") {
      a.scale.nodes = count();
    } else if (a.mode == "scale" && flag == "--rate") {
      a.scale.rate = std::stod(value);
    } else if (a.mode == "scale" && flag == "--seconds") {
      a.scale.seconds = std::stod(value);
    } else if (a.mode == "scale" && flag == "--idle") {
      a.scale.idle_seconds = std::stod(value);
    } else {
      throw std::invalid_argument(flag);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bad argument " << e.what() << "\n" << kUsage;
    return 2;
  }
  const fs::path root = a.dir / ("mrt-network-bench-" + std::to_string(::getpid()));
  fs::remove_all(root);
  bool ok = false;
  try {
    // The same limits as the tests' kNoLimits: the benchmark's load must not meet them.
    mrt::testing::ServerProcess server(
        root / "server", {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"});
    const mrt::bench::ServerView view{server.base_url(), server.pid()};
    const mrt::bench::Emit emit = [](const nlohmann::json& line) {
      std::cout << line.dump() << std::endl;
    };
    if (a.mode == "fanout") {
      a.fanout.root = root / "nodes";
      ok = mrt::bench::run_fanout(a.fanout, view, emit);
    } else {
      a.scale.root = root / "nodes";
      ok = mrt::bench::run_scale(a.scale, view, emit);
    }
  } catch (const std::exception& e) {
    std::cerr << "mrt_network_bench: " << e.what() << "\n";
    ok = false;
  }
  std::error_code ignored;
  fs::remove_all(root, ignored);
  return ok ? 0 : 1;
}
