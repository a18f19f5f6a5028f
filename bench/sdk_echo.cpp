// The SDK benchmark's C++ baseline (bench/sdk_compare.py runs it beside bench/sdk_echo.py and
// bench/sdk_echo.mjs, which do the same through the Python and Node.js SDKs): two mrt::Node in
// this process on one homeserver; A sends N messages to B at R per second, B's event thread takes
// and consumes them, A's takes the acks. Prints one JSON object: latency send -> B's event (ms)
// and this process's CPU per message (both nodes, all their threads; the homeserver is another
// process).
//
//   mrt_sdk_echo --homeserver http://127.0.0.1:8008 --server-name localhost --dir /tmp/x
//                --messages 2000 --rate 1000
#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/node.hpp>

#include "net_bench.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using mrt::bench::percentile;
using mrt::bench::process_cpu_seconds;

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string homeserver = arg(argc, argv, "--homeserver", "");
  const std::string server_name = arg(argc, argv, "--server-name", "localhost");
  const std::string dir = arg(argc, argv, "--dir", "");
  const int messages = std::stoi(arg(argc, argv, "--messages", "2000"));
  const double rate = std::stod(arg(argc, argv, "--rate", "1000"));
  if (homeserver.empty() || dir.empty()) {
    std::cerr << "usage: mrt_sdk_echo --homeserver URL --dir DIR [--server-name NAME] "
                 "[--messages N] [--rate R]\n";
    return 2;
  }
  const auto open = [&](const std::string& name, const mrt::PrivateKey& key) {
    mrt::NodeConfig c{.homeserver = homeserver, .server_name = server_name};
    c.data_dir = dir + "/" + name;
    c.carrier = mrt::Carrier::to_device;
    c.durability = mrt::store::Durability::off;
    auto node = mrt::Node::open(c, key);
    if (!node || !node->start()) {
      std::cerr << "mrt_sdk_echo: node " << name << " did not start\n";
      std::exit(1);
    }
    return std::move(*node);
  };
  const mrt::PrivateKey ka = mrt::PrivateKey::generate(), kb = mrt::PrivateKey::generate();
  mrt::Node a = open("a", ka), b = open("b", kb);

  std::vector<Clock::time_point> sent(static_cast<std::size_t>(messages));
  std::vector<double> latency_ms;
  latency_ms.reserve(sent.size());
  std::atomic<int> received{0}, delivered{0};
  std::thread receiver([&] {
    while (received < messages) {
      auto e = b.next_event(std::chrono::seconds(30));
      if (!e) break;
      if (e->type == mrt::NodeEventType::message) {
        const auto i = static_cast<std::size_t>(std::stoul(e->body));
        latency_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - sent[i]).count());
        ++received;
      }
      b.consumed(*e);
    }
  });
  std::thread acks([&] {
    while (delivered < messages) {
      auto e = a.next_event(std::chrono::seconds(30));
      if (!e) break;
      if (e->type == mrt::NodeEventType::delivered) ++delivered;
      a.consumed(*e);
    }
  });

  const double cpu0 = process_cpu_seconds();
  const auto start = Clock::now();
  for (int i = 0; i < messages; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(i / rate)));
    sent[static_cast<std::size_t>(i)] = Clock::now();
    if (!a.send(kb.address(), std::to_string(i))) return 1;
  }
  receiver.join();
  acks.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = process_cpu_seconds() - cpu0;
  nlohmann::json out = {{"sdk", "c++"},
                        {"messages", messages},
                        {"rate", rate},
                        {"received", received.load()},
                        {"delivered", delivered.load()},
                        {"p50_ms", percentile(latency_ms, 0.5)},
                        {"p99_ms", percentile(latency_ms, 0.99)},
                        {"cpu_us_per_msg", cpu * 1e6 / messages},
                        {"seconds", seconds}};
  std::cout << out.dump() << std::endl;
  a.stop();
  b.stop();
  return received == messages && delivered == messages ? 0 : 1;
}
