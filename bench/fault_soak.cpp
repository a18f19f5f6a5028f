// Faults under load (issue 17, docs/security.md "Faults"): two `mrt node` child processes (A
// sends to B, fsync on) on a homeserver (`mrt serve`, or Synapse with --homeserver synapse),
// A sending ops of 10 messages one after another, while one kind of fault is applied again and
// again:
//   - kill:   each cycle kills A, then B, then the homeserver with SIGKILL, each in the middle of
//             the load, and starts it again on the same store (same port and data);
//   - proxy:  the nodes reach the homeserver through bench/fault_proxy.hpp; each cycle is a
//             second of normal traffic, then a second of one fault, in turn: every chunk from
//             the homeserver delayed 300 ms, connections cut, every request answered 429, or 502;
//   - disk:   each cycle makes A's store, then B's, refuse writes for a second (RLIMIT_FSIZE
//             below its data file, as a full disk would: no root needed).
// Then the load stops and the nodes get up to --settle seconds (180) to settle. Counted per
// fault: messages accepted (A's "sent"), arrived at B, lost (A's "delivered" came, B never
// handed it over), unsettled (neither arrived nor failed by then: still resent from A's
// outbox), failed (A's "failed"), duplicated (written out twice by one B process, or again by a
// later one after a fault other than B's own kill), repeated after B's kill (written by the
// killed process and again by the next one: allowed, its consumption was not yet durable), and
// the time to recover: from the end of each fault (the restart done, the proxy or the disk
// healthy again) to the arrival of the first message A accepted after it. One JSON object per
// fault on stdout, with both nodes' counters; exit 1 when a message was lost, unsettled or
// duplicated.
//
//   mrt_fault_soak [--faults kill,proxy,disk] [--cycles 100] [--homeserver devserver|synapse]
//                  [--carrier to_device|room] [--settle 180] [--dir /tmp]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>

#include "bench/fault_proxy.hpp"
#include "bench/net_bench.hpp"
#include "testing/node_process.hpp"
#include "testing/test_homeserver.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using mrt::bench::FaultProxy;
using mrt::bench::ProxyFault;
using mrt::testing::NodeProcess;

constexpr int kPerOp = 10;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// One run of the soak: a homeserver, maybe the proxy, A and B, and what they wrote out.
class Soak {
 public:
  Soak(mrt::testing::HomeserverKind kind, const fs::path& root, std::string carrier, bool via_proxy)
      : root_(root), carrier_(std::move(carrier)) {
    fs::create_directories(root_);
    server_ = mrt::testing::make_test_homeserver(
        root_ / "homeserver",
        {"--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"}, kind);
    if (via_proxy) proxy_ = std::make_unique<FaultProxy>(server_->base_url());
    for (auto* n : {&a_, &b_}) {
      n->key = mrt::PrivateKey::generate();
      n->name = n == &a_ ? "a" : "b";
      mrt::testing::write_key_file(root_ / (n->name + ".key"), n->key);
    }
    start(a_);
    start(b_);
  }

  // ---- the faults ----
  void kill_and_restart(const std::string& victim) {
    if (victim == "homeserver") {
      server_->kill_hard();
      server_->restart();
    } else {
      Node& n = victim == "sender" ? a_ : b_;
      n.process->signal(SIGKILL);
      n.process->wait_exit(10s);
      while (auto e = n.process->next(0ms)) record(n, *e);  // what it wrote before it died
      start(n);
    }
    fault_ended();
  }
  // B's run that a kill ends (what it wrote may come again from the next run).
  void note_receiver_killed() { b_killed_runs_.insert(b_.run); }
  FaultProxy& proxy() { return *proxy_; }
  void proxy_healthy() {
    proxy_->set_fault(ProxyFault::none);
    fault_ended();
  }
  // RLIMIT_FSIZE of A's or B's process: 8 KiB (LMDB's two meta pages) or what it was.
  void refuse_writes(const std::string& victim, bool refuse) {
    Node& n = victim == "sender" ? a_ : b_;
    if (refuse) {
      ::prlimit(n.process->pid(), RLIMIT_FSIZE, nullptr, &n.fsize);
      const rlimit meta_pages_only{8192, n.fsize.rlim_max};
      ::prlimit(n.process->pid(), RLIMIT_FSIZE, &meta_pages_only, nullptr);
    } else {
      ::prlimit(n.process->pid(), RLIMIT_FSIZE, &n.fsize, nullptr);
      fault_ended();
    }
  }

  // Keeps one send op in flight from A to B and reads both nodes' events, for `how_long`.
  void load(Clock::duration how_long) {
    const auto until = Clock::now() + how_long;
    while (Clock::now() < until) {
      if (!op_in_flight_) {
        json bodies = json::array();
        for (int i = 0; i < kPerOp; ++i) bodies.push_back("m" + std::to_string(next_body_++));
        a_.process->write({{"op", "send"}, {"to", b_.key.address().to_hex()}, {"bodies", bodies}});
        op_in_flight_ = true;
      }
      pump(20ms);
    }
  }

  // Stops sending and waits (up to `limit`) for every accepted message to arrive at B and be
  // settled (delivered or failed) at A.
  void settle(Clock::duration limit) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until && !settled()) pump(100ms);
    pump(1s);  // anything written twice would show by now
  }

  // Each node's `stats` answer (after settle()).
  void ask_stats() {
    for (Node* n : {&a_, &b_}) n->process->write({{"op", "stats"}});
    const auto until = Clock::now() + 10s;
    while ((a_stats_.is_null() || b_stats_.is_null()) && Clock::now() < until) pump(20ms);
  }

  json report(const std::string& fault, int cycles) const {
    std::size_t arrived = 0, lost = 0, unsettled = 0, failed = 0;
    Clock::time_point first_unsettled = Clock::time_point::max();
    for (const auto& [id, when] : accepted_) {
      if (arrivals_.count(id)) {
        ++arrived;
      } else if (failed_.count(id)) {
        ++failed;
      } else if (delivered_.count(id)) {
        ++lost;  // A was told it was delivered; B never handed it over
      } else {
        ++unsettled;  // still in A's outbox, resent until acked or max_age
        first_unsettled = std::min(first_unsettled, when);
      }
    }
    std::vector<double> recover;
    std::size_t unrecovered = 0;
    for (const auto& end : fault_ends_) {
      std::optional<Clock::time_point> first;
      for (const auto& [id, accepted_at] : accepted_) {
        if (accepted_at < end) continue;
        auto it = arrivals_.find(id);
        if (it != arrivals_.end() && (!first || it->second < *first)) first = it->second;
      }
      if (first) {
        recover.push_back(ms_between(end, *first));
      } else {
        ++unrecovered;
      }
    }
    return {
        {"fault", fault},
        {"homeserver", mrt::testing::to_string(server_->kind())},
        {"carrier", carrier_},
        {"cycles", cycles},
        {"faults_applied", fault_ends_.size()},
        {"accepted", accepted_.size()},
        {"arrived", arrived},
        {"lost", lost},
        {"unsettled", unsettled},
        {"first_unsettled_s",
         unsettled ? std::chrono::duration<double>(first_unsettled - started_at_).count() : 0.0},
        {"failed", failed},
        {"duplicated", duplicated_},
        {"repeated_after_receiver_kill", repeated_},
        {"delivered_events", delivered_.size()},
        {"recover_ms_p50", mrt::bench::percentile(recover, 0.5)},
        {"recover_ms_p99", mrt::bench::percentile(recover, 0.99)},
        {"recover_ms_max",
         recover.empty() ? 0.0 : *std::max_element(recover.begin(), recover.end())},
        {"unrecovered", unrecovered},
        {"sender", pick(a_stats_, {"outbox", "resent", "failed", "http_retries", "relogins"})},
        {"receiver", pick(b_stats_, {"received", "inbox", "undecryptable",
                                     "undecryptable_by_reason", "rejected", "syncs"})}};
  }

 private:
  struct Node {
    std::string name;
    mrt::PrivateKey key = mrt::PrivateKey::generate();
    std::unique_ptr<NodeProcess> process;
    int run = 0;
    bool started = false;
    rlimit fsize{};
  };

  void start(Node& n) {
    n.process.reset();
    n.started = false;
    ++n.run;
    const std::string url = proxy_ ? proxy_->base_url() : server_->base_url();
    n.process = std::make_unique<NodeProcess>(
        std::vector<std::string>{"node", "--key-file", (root_ / (n.name + ".key")).string(),
                                 "--homeserver", url, "--data", (root_ / n.name).string(),
                                 "--server-name", server_->server_name(), "--carrier", carrier_},
        root_ / (n.name + ".stderr"));
    const auto until = Clock::now() + 60s;
    while (!n.started && Clock::now() < until) pump(20ms);
    if (!n.started) throw std::runtime_error("mrt node " + n.name + " did not start");
    if (&n == &a_) op_in_flight_ = false;  // the op the killed A was answering is gone
  }

  void fault_ended() { fault_ends_.push_back(Clock::now()); }

  static json pick(const json& stats, std::initializer_list<const char*> names) {
    json out = json::object();
    for (const char* name : names)
      if (stats.is_object() && stats.contains(name)) out[name] = stats[name];
    return out;
  }

  void pump(std::chrono::milliseconds wait) {
    const auto until = Clock::now() + wait;
    do {
      bool any = false;
      for (Node* n : {&a_, &b_}) {
        if (!n->process) continue;  // A waits for its start before B is made
        while (auto e = n->process->next(0ms)) {
          record(*n, *e);
          any = true;
        }
      }
      if (!any) std::this_thread::sleep_for(1ms);
    } while (Clock::now() < until);
  }

  void record(Node& n, const json& e) {
    const std::string event = e.value("event", "");
    const auto now = Clock::now();
    if (event == "started") n.started = true;
    if (event == "stats") (&n == &a_ ? a_stats_ : b_stats_) = e;
    if (std::getenv("MRT_FAULT_SOAK_TRACE") && event != "sent" && event != "delivered" &&
        event != "message")
      std::cerr << n.name << ": " << e.dump() << "\n";
    if (&n == &a_) {
      if (event == "sent" && e.contains("ids")) {
        for (const auto& id : e["ids"]) accepted_.emplace(id.get<std::string>(), now);
        op_in_flight_ = false;
      } else if (event == "error") {
        op_in_flight_ = false;  // refused (its store, say): nothing was accepted
      } else if (event == "delivered") {
        delivered_.insert(e.value("id", ""));
      } else if (event == "failed") {
        failed_.insert(e.value("id", ""));
      }
      return;
    }
    if (event != "message") return;
    const std::string id = e.value("id", "");
    auto [it, first] = written_by_run_.emplace(id, n.run);
    if (first) {
      arrivals_.emplace(id, now);
    } else if (it->second == n.run) {
      ++duplicated_;
    } else if (it->second == n.run - 1 && b_killed_runs_.count(it->second)) {
      ++repeated_;
      it->second = n.run;
    } else {
      ++duplicated_;
      it->second = n.run;
    }
  }

  bool settled() const {
    if (op_in_flight_) return false;
    for (const auto& [id, when] : accepted_) {
      if (!arrivals_.count(id) && !failed_.count(id)) return false;
      if (!delivered_.count(id) && !failed_.count(id)) return false;
    }
    return true;
  }

  fs::path root_;
  std::string carrier_;
  std::unique_ptr<mrt::testing::TestHomeserver> server_;
  std::unique_ptr<FaultProxy> proxy_;
  Node a_, b_;
  bool op_in_flight_ = false;
  std::size_t next_body_ = 0, duplicated_ = 0, repeated_ = 0;
  std::map<std::string, Clock::time_point> accepted_, arrivals_;
  std::map<std::string, int> written_by_run_;
  std::set<std::string> delivered_, failed_;
  std::set<int> b_killed_runs_;
  std::vector<Clock::time_point> fault_ends_;
  Clock::time_point started_at_ = Clock::now();
  json a_stats_, b_stats_;
};

Clock::duration jitter(std::mt19937& rng, int low_ms, int high_ms) {
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(low_ms, high_ms)(rng));
}

json run_fault(const std::string& fault, int cycles, mrt::testing::HomeserverKind kind,
               const std::string& carrier, Clock::duration settle, const fs::path& root) {
  std::mt19937 rng(std::random_device{}());
  Soak soak(kind, root, carrier, fault == "proxy");
  soak.load(2s);  // first contact out of the way
  const ProxyFault proxy_faults[] = {ProxyFault::delay, ProxyFault::drop,
                                     ProxyFault::too_many_requests, ProxyFault::bad_gateway};
  for (int c = 0; c < cycles; ++c) {
    if (fault == "kill") {
      for (const std::string victim : {"sender", "receiver", "homeserver"}) {
        soak.load(jitter(rng, 200, 800));
        if (victim == "receiver") soak.note_receiver_killed();
        soak.kill_and_restart(victim);
      }
    } else if (fault == "proxy") {
      soak.load(1s);
      soak.proxy().set_fault(proxy_faults[c % 4]);
      soak.load(jitter(rng, 500, 1500));
      soak.proxy_healthy();
    } else if (fault == "disk") {
      for (const std::string victim : {"sender", "receiver"}) {
        soak.load(jitter(rng, 200, 800));
        soak.refuse_writes(victim, true);
        soak.load(1s);
        soak.refuse_writes(victim, false);
      }
    } else {
      throw std::runtime_error("unknown fault " + fault);
    }
  }
  soak.load(2s);
  soak.settle(settle);
  soak.ask_stats();
  return soak.report(fault, cycles);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> faults = {"kill", "proxy", "disk"};
  int cycles = 100;
  std::string carrier = "to_device", homeserver = "devserver";
  Clock::duration settle = 180s;
  fs::path dir = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--faults") {
      faults = split(argv[i + 1]);
    } else if (a == "--cycles") {
      cycles = std::stoi(argv[i + 1]);
    } else if (a == "--homeserver") {
      homeserver = argv[i + 1];
    } else if (a == "--carrier") {
      carrier = argv[i + 1];
    } else if (a == "--settle") {
      settle = std::chrono::seconds(std::stoi(argv[i + 1]));
    } else if (a == "--dir") {
      dir = argv[i + 1];
    } else {
      std::cerr << "usage: mrt_fault_soak [--faults kill,proxy,disk] [--cycles 100] "
                   "[--homeserver devserver|synapse] [--carrier to_device|room] [--settle 180] "
                   "[--dir /tmp]\n";
      return 2;
    }
  }
  const auto kind = homeserver == "synapse" ? mrt::testing::HomeserverKind::synapse
                                            : mrt::testing::HomeserverKind::devserver;
  int exit_code = 0;
  for (const auto& fault : faults) {
    const fs::path root = dir / ("mrt-faults-" + std::to_string(getpid()) + "-" + fault);
    try {
      const json row = run_fault(fault, cycles, kind, carrier, settle, root);
      std::cout << row.dump() << std::endl;
      if (row["lost"] != 0 || row["unsettled"] != 0 || row["duplicated"] != 0) exit_code = 1;
    } catch (const std::exception& e) {
      std::cerr << "mrt_fault_soak (" << fault << "): " << e.what() << "\n";
      exit_code = 2;
    }
    fs::remove_all(root);
  }
  return exit_code;
}
