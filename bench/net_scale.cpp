// The scale curve: what one delivered unicast message costs when N nodes share one
// homeserver. The nodes are N/2 pairs, each with its DM room ready before measuring (room
// carrier); then the pairs together carry a fixed total load, `rate` messages per second for
// `seconds`, message i from pair i mod P, each direction in turn, sent one by one on a fixed
// schedule (at 200/s and 1 to 50 pairs, hardly any two messages share a payload, so batching
// is the same at every N). Per delivered message (received and acked): this process's CPU time
// (every node) and the homeserver's, from the first send to the last `delivered`. Beforehand,
// the same CPU over `idle_seconds` with no traffic: the cost of N nodes existing at all. And
// resident memory: this process's growth since before the first node, per node, and the
// homeserver's.
#include <atomic>
#include <mutex>
#include <thread>

#include "net_bench.hpp"
#include "net_fleet.hpp"
#include "net_receipts.hpp"

namespace mrt::bench {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kPatience = 30s;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// send() on `from` to `to` and waits for the message and its `delivered`; the carrier it came by.
std::optional<Carrier> exchange(Fleet& fleet, Receipts& receipts, std::size_t from, std::size_t to,
                                const std::string& body) {
  auto id = fleet[from].send(fleet[to].address(), body);
  if (!id) throw std::runtime_error("send: " + id.error().message);
  const Receipt got = receipts.wait(Receipts::message_key(body), 1, kPatience).front();
  receipts.wait(Receipts::delivered_key(*id), 1, kPatience);
  return got.carrier;
}

// First contact of pair p (nodes 2p, 2p+1): until both directions use the DM room.
void make_ready(Fleet& fleet, Receipts& receipts, std::size_t p) {
  const auto deadline = Clock::now() + 90s;
  for (std::size_t round = 0;; ++round) {
    const std::string tag = "ready" + std::to_string(p) + "-" + std::to_string(round);
    const bool ab = exchange(fleet, receipts, 2 * p, 2 * p + 1, tag + "a") == Carrier::room;
    const bool ba = exchange(fleet, receipts, 2 * p + 1, 2 * p, tag + "b") == Carrier::room;
    if (ab && ba) return;
    if (Clock::now() > deadline) throw std::runtime_error("a DM room never became ready");
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

bool run_scale(const ScaleOptions& o, const ServerView& s, const Emit& emit) {
  if (o.nodes < 2 || o.nodes % 2 != 0) throw std::runtime_error("--nodes must be even, >= 2");
  const std::size_t pairs = o.nodes / 2;
  Receipts receipts;
  const double rss_before = rss_mib_of(0), server_rss_before = rss_mib_of(s.pid);
  Fleet fleet({.homeserver = s.url, .root = o.root, .durability = o.durability});
  fleet.set_sink(receipts.sink());
  const auto t0 = Clock::now();
  fleet.grow(o.nodes);
  const double start_ms = ms_between(t0, Clock::now());
  {
    // Pairs get ready side by side (each waits on its own messages).
    std::atomic<std::size_t> next{0};
    std::string failure;
    std::mutex failure_mutex;
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < std::min<std::size_t>(pairs, 10); ++t) {
      threads.emplace_back([&] {
        for (std::size_t p; (p = next++) < pairs;) {
          try {
            make_ready(fleet, receipts, p);
          } catch (const std::exception& e) {
            std::lock_guard lock(failure_mutex);
            failure = e.what();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!failure.empty()) throw std::runtime_error(failure);
  }
  const double ready_ms = ms_between(t0, Clock::now()) - start_ms;
  // Resends and acks of the first contact settle, then nothing happens for a while.
  std::this_thread::sleep_for(1s);
  const double idle_cpu0 = process_cpu_seconds(), idle_server0 = cpu_seconds_of(s.pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.idle_seconds));
  const double idle_cpu = (process_cpu_seconds() - idle_cpu0) / o.idle_seconds;
  const double idle_server = (cpu_seconds_of(s.pid) - idle_server0) / o.idle_seconds;

  const auto messages = static_cast<std::size_t>(o.rate * o.seconds);
  std::vector<std::string> ids(messages);
  std::vector<Clock::time_point> sent_at(messages);
  auto totals = [&] {
    std::pair<std::uint64_t, std::uint64_t> payloads_resent{0, 0};
    for (std::size_t i = 0; i < fleet.size(); ++i) {
      const auto st = fleet[i].stats();
      payloads_resent.first += st.payloads;
      payloads_resent.second += st.resent;
    }
    return payloads_resent;
  };
  const auto before = totals();
  const double cpu0 = process_cpu_seconds(), server0 = cpu_seconds_of(s.pid);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < messages; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(i) / o.rate)));
    const std::size_t p = i % pairs;
    const bool forth = (i / pairs) % 2 == 0;
    const std::size_t from = forth ? 2 * p : 2 * p + 1, to = forth ? 2 * p + 1 : 2 * p;
    sent_at[i] = Clock::now();
    auto id = fleet[from].send(fleet[to].address(), body_of("s" + std::to_string(i), o.body_bytes));
    if (!id) throw std::runtime_error("send: " + id.error().message);
    ids[i] = *id;
  }
  const double send_ms = ms_between(start, Clock::now());
  // Every message received and acked, in the order sent.
  std::size_t received = 0, delivered = 0;
  std::vector<double> latency;
  Clock::time_point last = start;
  const auto deadline = Clock::now() + kPatience;
  for (std::size_t i = 0; i < messages; ++i) {
    const std::string body = body_of("s" + std::to_string(i), o.body_bytes);
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(deadline - Clock::now(), Clock::duration::zero()));
    try {
      const auto got = receipts.wait(Receipts::message_key(body), 1, remaining);
      ++received;
      latency.push_back(ms_between(sent_at[i], got.front().at));
      last = std::max(last, got.front().at);
      const auto acked = receipts.wait(Receipts::delivered_key(ids[i]), 1, remaining);
      ++delivered;
      last = std::max(last, acked.front().at);
    } catch (const std::runtime_error&) {
      break;  // late: reported below
    }
  }
  const double cpu = process_cpu_seconds() - cpu0, server_cpu = cpu_seconds_of(s.pid) - server0;
  const double busy_s = ms_between(start, last) / 1000;
  // Duplicates and strays, after a moment for them to arrive.
  std::this_thread::sleep_for(500ms);
  std::size_t duplicates = 0;
  for (std::size_t i = 0; i < messages; ++i)
    duplicates +=
        receipts.of(Receipts::message_key(body_of("s" + std::to_string(i), o.body_bytes))).size() >
        1;
  const auto after = totals();
  const std::size_t rejected = receipts.rejected_or_failed();
  const bool ok = received == messages && delivered == messages && duplicates == 0 && rejected == 0;
  const double n = static_cast<double>(messages);
  const double rss = rss_mib_of(0), server_rss = rss_mib_of(s.pid);
  emit({{"kind", "scale"},
        {"nodes", o.nodes},
        {"pairs", pairs},
        {"durability", o.durability == store::Durability::full ? "full" : "off"},
        {"rate_per_s", o.rate},
        {"messages", messages},
        {"received", received},
        {"delivered", delivered},
        {"duplicates", duplicates},
        {"rejected_or_failed_since_start", rejected},
        {"resent", after.second - before.second},
        {"msgs_per_payload", round3(n / static_cast<double>(after.first - before.first))},
        {"start_ms", round3(start_ms)},
        {"ready_ms", round3(ready_ms)},
        {"send_loop_ms", round3(send_ms)},
        {"busy_s", round3(busy_s)},
        {"cpu_us_per_msg", round3(cpu * 1e6 / n)},
        {"server_cpu_us_per_msg", round3(server_cpu * 1e6 / n)},
        {"total_cpu_us_per_msg", round3((cpu + server_cpu) * 1e6 / n)},
        {"idle_cpu_ms_per_s", round3(idle_cpu * 1e3)},
        // What the nodes cost per message just by existing: their idle CPU spread over the load.
        {"idle_cpu_us_per_msg", round3(idle_cpu * 1e6 / o.rate)},
        {"idle_server_cpu_ms_per_s", round3(idle_server * 1e3)},
        {"latency_p50_ms", round3(percentile(latency, 0.5))},
        {"latency_p99_ms", round3(percentile(latency, 0.99))},
        {"rss_mib", round3(rss)},
        {"rss_mib_per_node", round3((rss - rss_before) / static_cast<double>(o.nodes))},
        {"server_rss_mib", round3(server_rss)},
        {"server_rss_growth_mib", round3(server_rss - server_rss_before)},
        {"ok", ok}});
  return ok;
}

}  // namespace mrt::bench
