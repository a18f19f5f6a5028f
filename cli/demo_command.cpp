// `mrt demo`: the README's first command. A dev homeserver (devserver/) on 127.0.0.1 and two
// nodes, alice and bob, in this process, with fresh keys in a temporary directory; they
// exchange encrypted messages both ways on each carrier, and the demo tells what happened and
// how long it took, then cleans up.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <mrt/node.hpp>

#include "args.hpp"
#include "command.hpp"
#include "dev_homeserver.hpp"
#include "node_setup.hpp"

namespace mrt::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Where the demo speaks: stdout, or stderr when --json keeps stdout for the summary.
std::ostream* say_to = &std::cout;
std::ostream& say() {
  return *say_to;
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string ms_text(double ms) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(ms < 10 ? 1 : 0) << ms << " ms";
  return s.str();
}

// What one node's events said, for the demo thread to wait on.
class Recorder {
 public:
  struct Arrival {
    Clock::time_point at;
    Carrier carrier;
    std::string body;
    std::optional<Address> from;
  };

  void on_event(const NodeEvent& event) {
    const auto now = Clock::now();
    {
      const std::lock_guard lock(mutex_);
      switch (event.type) {
        case NodeEventType::message:
          if (arrivals_.count(event.id)) {
            ++duplicates_;
          } else {
            arrivals_[event.id] = {now, event.carrier.value_or(Carrier::to_device), event.body,
                                   event.peer};
          }
          break;
        case NodeEventType::delivered:
          delivered_.emplace(event.id, now);
          break;
        case NodeEventType::failed:
          failed_.push_back(event.id);
          break;
        case NodeEventType::rejected:
          ++rejected_[event.reason ? std::string(to_string(*event.reason)) : "unknown"];
          break;
        case NodeEventType::reachability:
        case NodeEventType::squatted:
        case NodeEventType::store_failed:
          break;
      }
    }
    changed_.notify_all();
  }

  // Waits until `table` (arrivals or deliveries) holds message `id`; nullopt on timeout.
  // Throws CommandError when the message failed or SIGINT/SIGTERM came.
  template <class T>
  std::optional<T> wait(std::map<std::string, T> Recorder::*table, const std::string& id,
                        Clock::time_point deadline, StopSignals& signals) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (auto it = (this->*table).find(id); it != (this->*table).end()) return it->second;
      if (std::find(failed_.begin(), failed_.end(), id) != failed_.end()) {
        throw CommandError(kNotDelivered, "message " + id + " was reported failed");
      }
      if (Clock::now() >= deadline) return std::nullopt;
      changed_.wait_for(lock, 50ms);
      lock.unlock();
      const bool stop = signals.received();
      lock.lock();
      if (stop) throw CommandError(kNotDelivered, "interrupted");
    }
  }
  std::optional<Arrival> wait_arrival(const std::string& id, Clock::time_point deadline,
                                      StopSignals& signals) {
    return wait(&Recorder::arrivals_, id, deadline, signals);
  }
  std::optional<Clock::time_point> wait_delivered(const std::string& id, Clock::time_point deadline,
                                                  StopSignals& signals) {
    return wait(&Recorder::delivered_, id, deadline, signals);
  }

  std::uint64_t duplicates() const {
    const std::lock_guard lock(mutex_);
    return duplicates_;
  }
  std::map<std::string, std::uint64_t> rejected() const {
    const std::lock_guard lock(mutex_);
    return rejected_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Arrival> arrivals_;
  std::map<std::string, Clock::time_point> delivered_;
  std::vector<std::string> failed_;
  std::uint64_t duplicates_ = 0;
  std::map<std::string, std::uint64_t> rejected_;
};

struct Party {
  std::string name;
  PrivateKey key;
  fs::path data_dir;
  Recorder recorder;
  std::optional<Node> node;
  Homeserver home;  // where it logs in
};

// One message's measurements.
struct Trip {
  Carrier carrier_asked;
  Carrier carrier_used;
  double arrival_ms;
  double ack_ms;
};

// The temporary directory, removed whatever happens.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mrt-demo-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw CommandError(kBadInput, "cannot create a temp dir");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

class Demo {
 public:
  Demo(StopSignals& signals, std::chrono::milliseconds timeout)
      : signals_(signals), timeout_(timeout) {}

  void start_nodes(Carrier carrier, Party& a, Party& b, bool first) {
    for (Party* p : {&a, &b}) {
      NodeConfig config;
      config.homeserver = p->home.url;
      config.server_name = p->home.server_name;
      // Each knows both servers (PROTOCOL §8): a peer elsewhere is found by its displayname.
      config.known_servers = {a.home.server_name};
      if (b.home.server_name != a.home.server_name)
        config.known_servers.push_back(b.home.server_name);
      config.data_dir = p->data_dir;
      config.carrier = carrier;
      config.on_event = [p](const NodeEvent& e) { p->recorder.on_event(e); };
      const auto t0 = Clock::now();
      p->node.emplace(open_and_start(std::move(config), p->key));
      const double took = ms_between(t0, Clock::now());
      say() << "  " << std::left << std::setw(6) << p->name
            << (first ? "logged in as " : "restarted on its store: still ") << p->node->user_id()
            << ", device " << p->node->device_id() << " (" << ms_text(took) << ")\n";
    }
  }

  void stop_nodes(Party& a, Party& b) {
    for (Party* p : {&a, &b}) {
      if (p->node) p->node->stop();
      p->node.reset();
    }
  }

  // Sends one message and waits for it at the other side and for the ack back.
  Trip exchange(Party& from, Party& to, const std::string& body, Carrier asked, bool quiet) {
    const auto t0 = Clock::now();
    auto id = from.node->send(to.key.address(), body);
    if (!id)
      throw CommandError(kNotDelivered, from.name + " could not send: " + id.error().message);
    const auto deadline = t0 + timeout_;
    auto arrival = to.recorder.wait_arrival(*id, deadline, signals_);
    if (!arrival) {
      throw CommandError(kNotDelivered, "message " + *id + " from " + from.name + " to " + to.name +
                                            " did not arrive within " +
                                            ms_text(static_cast<double>(timeout_.count())));
    }
    if (arrival->body != body || arrival->from != from.key.address()) {
      throw CommandError(kNotDelivered, "message " + *id + " arrived changed");
    }
    auto acked = from.recorder.wait_delivered(*id, deadline, signals_);
    if (!acked) {
      throw CommandError(kNotDelivered, "message " + *id + " from " + from.name + " to " + to.name +
                                            " arrived but was not acknowledged within " +
                                            ms_text(static_cast<double>(timeout_.count())));
    }
    Trip trip{asked, arrival->carrier, ms_between(t0, arrival->at), ms_between(t0, *acked)};
    if (!quiet) {
      say() << "  " << std::left << std::setw(6) << from.name << "-> " << std::setw(6) << to.name
            << std::setw(28) << ("\"" + body + "\"") << " arrived over " << std::setw(9)
            << to_string(trip.carrier_used) << " after " << std::right << std::setw(8)
            << ms_text(trip.arrival_ms) << ", acked after " << std::setw(8) << ms_text(trip.ack_ms)
            << std::left << "\n";
    }
    trips_.push_back(trip);
    return trip;
  }

  // Room carrier: until the DM room is joined by both, messages go over to_device (PROTOCOL
  // §5). Ping both ways until both directions arrive over the room.
  void wait_for_room(Party& lower, Party& higher) {
    const auto t0 = Clock::now();
    int over_to_device = 0;
    for (int round = 1;; ++round) {
      const Trip ab = exchange(lower, higher, "ping " + std::to_string(round), Carrier::room, true);
      const Trip ba = exchange(higher, lower, "pong " + std::to_string(round), Carrier::room, true);
      trips_.erase(trips_.end() - 2, trips_.end());  // setup, not measured
      over_to_device += (ab.carrier_used != Carrier::room) + (ba.carrier_used != Carrier::room);
      if (ab.carrier_used == Carrier::room && ba.carrier_used == Carrier::room) break;
      if (Clock::now() - t0 > timeout_) {
        throw CommandError(kNotDelivered, "the DM room was not in use both ways within " +
                                              ms_text(static_cast<double>(timeout_.count())));
      }
      std::this_thread::sleep_for(100ms);
    }
    say() << "  the DM room is in use both ways after " << ms_text(ms_between(t0, Clock::now()))
          << " (" << lower.name << ", the lower address, created it and invited " << higher.name
          << ")";
    if (over_to_device > 0) {
      say() << ";\n  meanwhile " << over_to_device
            << " setup ping(s) went over to_device, as PROTOCOL.md section 5 prescribes";
    }
    say() << "\n";
  }

  const std::vector<Trip>& trips() const { return trips_; }

 private:
  StopSignals& signals_;
  std::chrono::milliseconds timeout_;
  std::vector<Trip> trips_;
};

struct Figures {
  double p50 = 0, max = 0;
};

Figures figures(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  return {values[(values.size() - 1) / 2], values.back()};
}

// "NAME=URL" -> the homeserver.
Homeserver named_homeserver(const std::string& option, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw UsageError(option + " wants NAME=URL (server name, then the client API's base URL)");
  return {text.substr(eq + 1), text.substr(0, eq)};
}

int demo(const std::vector<std::string>& argv, bool json_out) {
  const Args args(
      argv, {"--carrier", "--messages", "--timeout-ms", "--alice-homeserver", "--bob-homeserver"},
      {"--json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument " + args.positional()[0]);
  const std::string which = args.get("--carrier").value_or("both");
  std::vector<Carrier> carriers;
  if (which == "both" || which == "to_device") carriers.push_back(Carrier::to_device);
  if (which == "both" || which == "room") carriers.push_back(Carrier::room);
  if (carriers.empty()) throw UsageError("--carrier is both, room or to_device");
  const int messages = static_cast<int>(int_option(args, "--messages", 3, 1, 1000));
  const auto timeout =
      std::chrono::milliseconds(int_option(args, "--timeout-ms", 30000, 100, 3'600'000));
  say_to = json_out ? &std::cerr : &std::cout;

  StopSignals signals;         // before any thread: Ctrl-C ends the demo, which still cleans up
  ::signal(SIGPIPE, SIG_IGN);  // `mrt demo | head` too: a closed stdout must not skip it
  const auto alice_home = args.get("--alice-homeserver");
  const auto bob_home = args.get("--bob-homeserver");
  if (alice_home.has_value() != bob_home.has_value())
    throw UsageError("give both --alice-homeserver and --bob-homeserver, or neither");
  TempDir dir;
  const auto t_start = Clock::now();
  std::optional<InProcessHomeserver> homeserver;
  Party alice{"alice", PrivateKey::generate(), dir.path / "alice", {}, {}, {}};
  Party bob{"bob", PrivateKey::generate(), dir.path / "bob", {}, {}, {}};
  if (alice_home) {
    alice.home = named_homeserver("--alice-homeserver", *alice_home);
    bob.home = named_homeserver("--bob-homeserver", *bob_home);
    say() << "mrt demo: two Raiden transport nodes, alice and bob, each on its own Matrix\n"
             "homeserver; the homeservers federate. Every message is signed with its sender's\n"
             "Ethereum key and end-to-end encrypted between the two nodes.\n\n";
    for (const Party* p : {&alice, &bob})
      say() << "  " << std::left << std::setw(6) << p->name << p->key.address().to_checksummed()
            << " (a new key) on " << p->home.url << " (server name \"" << p->home.server_name
            << "\")\n";
  } else {
    homeserver.emplace(dir.path / "homeserver");
    alice.home = bob.home = {homeserver->url(), "localhost"};
    say() << "mrt demo: a dev Matrix homeserver and two Raiden transport nodes, alice and bob,\n"
             "in this process; every message is signed with its sender's Ethereum key and\n"
             "end-to-end encrypted between the two nodes.\n\n";
    say() << "  homeserver " << homeserver->url() << " (server name \"localhost\", data in "
          << dir.path.string() << ")\n"
          << "  alice      " << alice.key.address().to_checksummed() << " (a new key)\n"
          << "  bob        " << bob.key.address().to_checksummed() << " (a new key)\n";
  }
  say().flush();

  Demo demo(signals, timeout);
  std::map<Carrier, std::vector<std::string>> devices;
  int step = 0;
  for (const Carrier carrier : carriers) {
    say() << "\n"
          << ++step << ". "
          << (carrier == Carrier::to_device
                  ? "to_device carrier: Olm-encrypted to-device messages, no room needed\n"
                  : "room carrier: a Megolm-encrypted DM room for the pair\n");
    demo.start_nodes(carrier, alice, bob, step == 1);
    Party& lower = alice.key.address() < bob.key.address() ? alice : bob;
    Party& higher = &lower == &alice ? bob : alice;
    if (carrier == Carrier::room) demo.wait_for_room(lower, higher);
    for (int i = 1; i <= messages; ++i) {
      const std::string suffix = " " + std::to_string(i) + "/" + std::to_string(messages);
      demo.exchange(alice, bob, "hello bob" + suffix, carrier, false);
      demo.exchange(bob, alice, "hi alice" + suffix, carrier, false);
    }
    say().flush();
    demo.stop_nodes(alice, bob);
  }

  // Exactly once: no message event was seen twice.
  if (alice.recorder.duplicates() + bob.recorder.duplicates() > 0) {
    throw CommandError(kNotDelivered, "a message was handed to the application twice");
  }
  say() << "\nLatency (send -> message event at the other node; send -> delivered at the sender)\n";
  json summary = {{"result", "ok"},
                  {"homeserver", alice.home.url},
                  {"homeservers", {{"alice", alice.home.url}, {"bob", bob.home.url}}},
                  {"alice", alice.key.address().to_hex()},
                  {"bob", bob.key.address().to_hex()},
                  {"carriers", json::object()}};
  for (const Carrier carrier : carriers) {
    std::vector<double> arrivals, acks;
    int over_room = 0;
    for (const Trip& t : demo.trips()) {
      if (t.carrier_asked != carrier) continue;
      arrivals.push_back(t.arrival_ms);
      acks.push_back(t.ack_ms);
      over_room += t.carrier_used == Carrier::room;
    }
    const Figures arrival = figures(arrivals), ack = figures(acks);
    say() << "  " << std::left << std::setw(10) << to_string(carrier) << " arrival p50 "
          << std::right << std::setw(8) << ms_text(arrival.p50) << ", max " << std::setw(8)
          << ms_text(arrival.max) << "   ack p50 " << std::setw(8) << ms_text(ack.p50) << ", max "
          << std::setw(8) << ms_text(ack.max) << std::left << "   (" << arrivals.size()
          << " messages)\n";
    summary["carriers"][std::string(to_string(carrier))] = {
        {"messages", arrivals.size()},   {"arrival_p50_ms", arrival.p50},
        {"arrival_max_ms", arrival.max}, {"ack_p50_ms", ack.p50},
        {"ack_max_ms", ack.max},         {"over_room", over_room}};
  }
  std::map<std::string, std::uint64_t> rejected = alice.recorder.rejected();
  for (const auto& [reason, n] : bob.recorder.rejected()) rejected[reason] += n;
  say() << "\nEvery message arrived exactly once, from the address that signed it, and was\n"
           "acknowledged back to its sender.";
  if (!rejected.empty()) {
    say() << " Envelopes dropped on the way (resends and acks that crossed are normal):";
    for (const auto& [reason, n] : rejected) say() << " " << reason << " " << n;
  }
  summary["rejected"] = rejected;
  say() << "\nEach message was made durable (fsync) by its sender before send() returned and by\n"
           "its receiver before the ack, so these figures include disk flushes.\n";
  summary["seconds"] = ms_between(t_start, Clock::now()) / 1000.0;
  say() << "Done in " << std::fixed << std::setprecision(1)
        << ms_between(t_start, Clock::now()) / 1000.0 << " s; removing " << dir.path.string()
        << ".\n"
        << "Next: docs/cli.md runs the same by hand with mrt serve, mrt node (JSON lines),\n"
           "mrt send and mrt listen.\n";
  say().flush();
  if (json_out) std::cout << json_line(summary) << std::flush;
  return kOk;
}

}  // namespace

Command demo_command() {
  return {"demo",
          "mrt demo [--carrier both|room|to_device] [--messages N] [--timeout-ms MS] [--json]\n"
          "         [--alice-homeserver NAME=URL --bob-homeserver NAME=URL]\n"
          "  Starts a dev homeserver on 127.0.0.1 and two nodes with new keys in a temporary\n"
          "  directory, in this process; they exchange N (default 3) encrypted messages each\n"
          "  way on each carrier; prints what happened and the latency, cleans up. Exit 0, or\n"
          "  8 if a message did not arrive or was not acknowledged within MS (default 30000).\n"
          "  With --alice-homeserver and --bob-homeserver the nodes log in there instead (two\n"
          "  federating homeservers: scripts/dev demo-federation), each knowing both servers.\n"
          "  With --json the story goes to stderr and stdout gets one summary object.",
          demo};
}

}  // namespace mrt::cli
