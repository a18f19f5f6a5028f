// Broadcast fan-out: one publisher's Node::broadcast(topic, body) to the `message`
// event at each subscriber, through one homeserver. Stages of 1, 10, 100 subscribers in one
// run, each stage adding nodes to the last; one broadcast at a time, the next once every
// subscriber has the last, so a figure is the fan-out's own latency, not a queue's. The
// reference of the same run: the 1-subscriber stage, and the unicast latency between the
// publisher and the first subscriber (room carrier, send() to the `message` event).
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "net_bench.hpp"
#include "net_fleet.hpp"
#include "net_receipts.hpp"

namespace mrt::bench {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kPatience = 30s;
const std::string kTopic = "raiden_1_monitoring";

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// send() on `from` to the `message` event on `to`, waiting for its `delivered` too.
std::pair<double, std::optional<Carrier>> exchange(Fleet& fleet, Receipts& receipts,
                                                   std::size_t from, std::size_t to,
                                                   const std::string& body) {
  const auto t0 = Clock::now();
  auto id = fleet[from].send(fleet[to].address(), body);
  if (!id) throw std::runtime_error("send: " + id.error().message);
  const Receipt got = receipts.wait(Receipts::message_key(body), 1, kPatience).front();
  receipts.wait(Receipts::delivered_key(*id), 1, kPatience);
  return {ms_between(t0, got.at), got.carrier};
}

json measure_unicast(Fleet& fleet, Receipts& receipts, const FanoutOptions& o) {
  // First contact: until both directions use the DM room (PROTOCOL §5).
  const auto deadline = Clock::now() + 60s;
  for (std::size_t round = 0;; ++round) {
    const std::string tag = "ready" + std::to_string(round);
    const bool ab = exchange(fleet, receipts, 0, 1, tag + "a").second == Carrier::room;
    const bool ba = exchange(fleet, receipts, 1, 0, tag + "b").second == Carrier::room;
    if (ab && ba) break;
    if (Clock::now() > deadline) throw std::runtime_error("the DM room never became ready");
    std::this_thread::sleep_for(50ms);
  }
  std::vector<double> ms;
  for (std::size_t i = 0; i < o.unicast_samples; ++i) {
    const bool forth = i % 2 == 0;
    ms.push_back(exchange(fleet, receipts, forth ? 0 : 1, forth ? 1 : 0,
                          body_of("u" + std::to_string(i), o.body_bytes))
                     .first);
  }
  return {{"kind", "unicast_reference"},
          {"carrier", "room"},
          {"samples", ms.size()},
          {"p50_ms", round3(percentile(ms, 0.5))},
          {"p99_ms", round3(percentile(ms, 0.99))},
          {"max_ms", round3(percentile(ms, 1.0))}};
}

// One stage: `broadcasts` measured (after `warmup`) with every node but the publisher (node 0)
// subscribed.
json measure_stage(Fleet& fleet, Receipts& receipts, const FanoutOptions& o, const ServerView& s,
                   bool& ok) {
  const std::size_t subscribers = fleet.size() - 1;
  const std::string stage = "s" + std::to_string(subscribers) + "-";
  // Every receipt; and per broadcast, its first and its last (the fan-out's spread).
  std::vector<double> ms, accepted_ms, first_ms, last_ms;
  std::vector<std::string> bodies;
  // CPU over the measured broadcasts as a whole (the server's is counted in 10 ms ticks).
  double cpu0 = 0, server0 = 0;
  for (std::size_t i = 0; i < o.warmup + o.broadcasts; ++i) {
    const bool measured = i >= o.warmup;
    const std::string body = body_of(stage + std::to_string(i), o.body_bytes);
    if (i == o.warmup) {
      cpu0 = process_cpu_seconds();
      server0 = cpu_seconds_of(s.pid);
    }
    const auto t0 = Clock::now();
    auto sent = fleet[0].broadcast(kTopic, body);
    if (!sent) throw std::runtime_error("broadcast: " + sent.error().message);
    const auto t_accepted = Clock::now();
    const auto got = receipts.wait(Receipts::message_key(body), subscribers, kPatience);
    if (!measured) continue;
    accepted_ms.push_back(ms_between(t0, t_accepted));
    Clock::time_point first = got.front().at, last = got.front().at;
    for (const auto& r : got) {
      ms.push_back(ms_between(t0, r.at));
      first = std::min(first, r.at);
      last = std::max(last, r.at);
    }
    first_ms.push_back(ms_between(t0, first));
    last_ms.push_back(ms_between(t0, last));
    bodies.push_back(body);
  }
  const double cpu = process_cpu_seconds() - cpu0, server_cpu = cpu_seconds_of(s.pid) - server0;
  // Anything more (a duplicate, a receipt at the publisher) would have come by now.
  std::this_thread::sleep_for(500ms);
  std::size_t extra = 0, missing = 0;
  for (const auto& b : bodies) {
    const auto got = receipts.of(Receipts::message_key(b));
    std::set<std::size_t> nodes;
    for (const auto& r : got) nodes.insert(r.node);
    if (nodes.count(0) || nodes.size() != got.size() || got.size() > subscribers) ++extra;
    if (nodes.size() < subscribers) ++missing;
  }
  const std::size_t rejected = receipts.rejected_or_failed();
  ok = ok && extra == 0 && missing == 0 && rejected == 0;
  const double n = static_cast<double>(o.broadcasts);
  return {{"kind", "fanout"},
          {"subscribers", subscribers},
          {"nodes", fleet.size()},
          {"broadcasts", o.broadcasts},
          {"receipts", ms.size()},
          {"p50_ms", round3(percentile(ms, 0.5))},
          {"p99_ms", round3(percentile(ms, 0.99))},
          {"max_ms", round3(percentile(ms, 1.0))},
          {"first_receipt_p50_ms", round3(percentile(first_ms, 0.5))},
          {"last_receipt_p50_ms", round3(percentile(last_ms, 0.5))},
          {"last_receipt_p99_ms", round3(percentile(last_ms, 0.99))},
          {"broadcast_call_p50_ms", round3(percentile(accepted_ms, 0.5))},
          {"cpu_us_per_receipt", round3(cpu * 1e6 / static_cast<double>(ms.size()))},
          {"server_cpu_us_per_broadcast", round3(server_cpu * 1e6 / n)},
          {"server_cpu_us_per_receipt", round3(server_cpu * 1e6 / static_cast<double>(ms.size()))},
          {"rss_mib", round3(rss_mib_of(0))},
          {"server_rss_mib", round3(rss_mib_of(s.pid))},
          {"broadcasts_with_extra_receipts", extra},
          {"broadcasts_missing_receipts", missing},
          {"rejected_or_failed_since_start", rejected}};
}

}  // namespace

bool run_fanout(const FanoutOptions& o, const ServerView& s, const Emit& emit) {
  Receipts receipts;
  Fleet fleet({.homeserver = s.url, .root = o.root, .durability = o.durability});
  fleet.set_sink(receipts.sink());
  bool ok = true;
  fleet.grow(1);  // the publisher
  if (!fleet[0].subscribe(kTopic)) throw std::runtime_error("the publisher could not subscribe");
  for (const std::size_t target : o.subscribers) {
    if (target + 1 < fleet.size()) throw std::runtime_error("stages must grow");
    const std::size_t first = fleet.size();
    const auto t0 = Clock::now();
    fleet.grow(target + 1 - first);
    std::vector<std::thread> joining;
    std::atomic<std::size_t> refused{0};
    for (std::size_t i = first; i < fleet.size(); ++i)
      joining.emplace_back([&, i] { refused += fleet[i].subscribe(kTopic) ? 0 : 1; });
    for (auto& t : joining) t.join();
    if (refused > 0) throw std::runtime_error("a subscriber could not join");
    emit({{"kind", "setup"},
          {"subscribers", target},
          {"added_nodes", fleet.size() - first},
          {"ms", round3(ms_between(t0, Clock::now()))}});
    if (target == 1 && o.unicast_samples > 0) emit(measure_unicast(fleet, receipts, o));
    emit(measure_stage(fleet, receipts, o, s, ok));
  }
  return ok;
}

}  // namespace mrt::bench
