// The cost of a live challenge (issue 19, docs/benchmarks.md "Live challenge") against a plain
// unicast message, in the same run: two nodes in this process on one `mrt serve` child
// (127.0.0.1), durability full, one operation at a time:
//   - challenge: Node::challenge(b, b's user id) on A until it returns (B answers by itself);
//   - unicast one way: send() on A until B's `message` event;
//   - unicast round trip: send() on A until A's `delivered` (B's ack back);
//   - broadcast one way: broadcast() on A into a topic both subscribed to, until B's `message`.
// The challenge and unicast are one to-device message each way; the challenge's are plaintext (no
// Olm), its answer a personal_sign and its check an ecrecover. Prints one JSON object: p50/p99 per
// operation and this process's CPU per operation (both nodes), and their ratios.
//
//   mrt_challenge_bench [--samples 200] [--dir /tmp]
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/node.hpp>

#include "net_bench.hpp"
#include "testing/server_process.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

mrt::Node open_node(const fs::path& dir, const std::string& url, const mrt::PrivateKey& key) {
  mrt::NodeConfig c;
  c.homeserver = url;
  c.server_name = "localhost";
  c.data_dir = dir;
  c.carrier = mrt::Carrier::to_device;
  c.policy.rate_per_second = c.policy.burst = 1e9;
  c.policy.challenge_answers_per_second = c.policy.challenge_answer_burst = 1e9;
  auto node = mrt::Node::open(c, key);
  if (!node || !node->start()) throw std::runtime_error("a node did not start");
  return std::move(*node);
}

struct Measured {
  std::vector<double> ms;
  double cpu_s = 0;
};

template <class Op>
Measured measure(int samples, Op op) {
  Measured m;
  const double cpu0 = mrt::bench::process_cpu_seconds();
  for (int i = 0; i < samples; ++i) {
    const auto t0 = Clock::now();
    op();
    m.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  m.cpu_s = mrt::bench::process_cpu_seconds() - cpu0;
  return m;
}

nlohmann::json summary(const Measured& m, int samples) {
  return {{"p50_ms", mrt::bench::round3(mrt::bench::percentile(m.ms, 0.5))},
          {"p99_ms", mrt::bench::round3(mrt::bench::percentile(m.ms, 0.99))},
          {"cpu_us_per_op", mrt::bench::round3(m.cpu_s * 1e6 / samples)}};
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 200;
  fs::path base = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--samples")
      samples = std::stoi(argv[i + 1]);
    else if (a == "--dir")
      base = argv[i + 1];
    else {
      std::cerr << "usage: mrt_challenge_bench [--samples 200] [--dir /tmp]\n";
      return 2;
    }
  }
  const fs::path dir = base / ("mrt-challenge-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int status = 0;
  try {
    mrt::testing::ServerProcess server(
        dir / "server", {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"});
    const auto ka = mrt::PrivateKey::generate(), kb = mrt::PrivateKey::generate();
    mrt::Node a = open_node(dir / "a", server.base_url(), ka);
    mrt::Node b = open_node(dir / "b", server.base_url(), kb);
    const auto drain = [](mrt::Node& n) {
      while (auto e = n.try_next_event()) n.consumed(*e);
    };
    const auto challenge = [&] {
      if (!a.challenge(kb.address(), b.user_id())) throw std::runtime_error("a challenge failed");
    };
    // Sends one message and waits for `on`'s event of `type` for it (B's message: one way; A's
    // delivered: there and back, B's ack held up to its ack delay for a message to ride with).
    const auto unicast = [&](mrt::Node& on, mrt::NodeEventType type) {
      auto id = a.send(kb.address(), "balance proof");
      if (!id) throw std::runtime_error("a send failed");
      while (auto e = on.next_event(std::chrono::seconds(30))) {
        on.consumed(*e);
        if (e->type != type || e->id != *id) continue;
        drain(a);
        drain(b);
        return;
      }
      throw std::runtime_error("no event in 30 s");
    };
    const auto one_way = [&] { unicast(b, mrt::NodeEventType::message); };
    const std::string topic = "raiden_1_path_finding";
    if (!a.subscribe(topic) || !b.subscribe(topic)) throw std::runtime_error("no broadcast room");
    int broadcasts = 0;
    const auto broadcast = [&] {
      const std::string body = "capacity update " + std::to_string(++broadcasts);
      if (!a.broadcast(topic, body)) throw std::runtime_error("a broadcast failed");
      while (auto e = b.next_event(std::chrono::seconds(30))) {
        b.consumed(*e);
        if (e->type == mrt::NodeEventType::message && e->body == body) return drain(a);
      }
      throw std::runtime_error("no broadcast in 30 s");
    };
    const auto round_trip = [&] { unicast(a, mrt::NodeEventType::delivered); };
    for (int i = 0; i < 10; ++i) {  // warm-up: sessions, ids, caches
      challenge();
      round_trip();
      broadcast();
    }
    const Measured c = measure(samples, challenge);
    const Measured one = measure(samples, one_way);
    const Measured round = measure(samples, round_trip);
    const Measured cast = measure(samples, broadcast);
    const auto p50 = [](const Measured& m) { return mrt::bench::percentile(m.ms, 0.5); };
    const nlohmann::json out = {{"samples", samples},
                                {"challenge", summary(c, samples)},
                                {"unicast_one_way", summary(one, samples)},
                                {"unicast_round_trip", summary(round, samples)},
                                {"broadcast_one_way", summary(cast, samples)},
                                {"challenge_vs_broadcast",
                                 {{"p50", mrt::bench::round3(p50(c) / p50(cast))},
                                  {"cpu", mrt::bench::round3(c.cpu_s / cast.cpu_s)}}},
                                {"broadcast_vs_unicast_one_way",
                                 {{"p50", mrt::bench::round3(p50(cast) / p50(one))},
                                  {"cpu", mrt::bench::round3(cast.cpu_s / one.cpu_s)}}},
                                {"challenge_vs_one_way",
                                 {{"p50", mrt::bench::round3(p50(c) / p50(one))},
                                  {"cpu", mrt::bench::round3(c.cpu_s / one.cpu_s)}}},
                                {"challenge_vs_round_trip",
                                 {{"p50", mrt::bench::round3(p50(c) / p50(round))},
                                  {"cpu", mrt::bench::round3(c.cpu_s / round.cpu_s)}}}};
    std::cout << out.dump() << "\n";
    a.stop();
    b.stop();
  } catch (const std::exception& e) {
    std::cerr << "mrt_challenge_bench: " << e.what() << "\n";
    status = 1;
  }
  fs::remove_all(dir);
  return status;
}
