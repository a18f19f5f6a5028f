// transport/node_impl.hpp (internal): Node's state, shared by node.cpp (the public calls) and
// node_homes.cpp (choosing homeservers, logging in, failover); and NodeInternals, through which
// a test runs a whole node in process and in virtual time (testing/driven_node.hpp).
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <mrt/matrix_identity.hpp>
#include <mrt/node.hpp>

#include "event_queue.hpp"
#include "home_set.hpp"
#include "http_io.hpp"
#include "intake_rules.hpp"
#include "matrix_client.hpp"
#include "node_tables.hpp"
#include "node_worker.hpp"
#include "outbox_records.hpp"

namespace mrt {

inline NodeError node_error(NodeErrorKind kind, std::string message) {
  return {kind, std::move(message)};
}
// A homeserver's failure as the application sees it: network, naming `what` it was about
// (squatted for a worker's kSquattedErrcode).
NodeError as_node_error(const transport::MatrixError& e, const std::string& what);
// bad_user_id unless `user_id` is `@<address>:<server>` (PROTOCOL §2).
Result<Unit, NodeError> check_user_id_of(const Address& address, const std::string& user_id);

// Who runs a node when not its own threads over HTTP: a caller that answers its homeserver calls
// (in process, maybe before call() returns) and a steady clock. The node then starts no thread;
// the runner calls Impl::run_due() whenever its clock reaches Impl::next_wake().
struct NodeRunner {
  std::function<std::unique_ptr<transport::MatrixCaller>(const Homeserver&)> connect;
  std::function<std::int64_t()> steady_ms;
  // The store's fault hook (store::Options::before_group_commit), for crash tests.
  std::function<void()> before_group_commit;
};

struct Node::Impl {
  // One homeserver account in use: its client, its worker and what identifies it.
  struct Home {
    Homeserver server;
    transport::HomeNamespace ns;
    std::int64_t rtt_ms = 0;
    std::unique_ptr<transport::MatrixCaller> client;
    transport::MatrixClient* http = nullptr;  // `client` over HTTP (its retry counts), or null
    std::unique_ptr<transport::NodeWorker> worker;
    std::string user_id;
    std::string device_id;
  };
  struct Candidate {
    Homeserver server;
    std::int64_t rtt_ms = 0;  // kUnreachable when the probe got no answer
  };
  static constexpr std::int64_t kUnreachable = std::numeric_limits<std::int64_t>::max();

  NodeConfig config;  // config.homeservers holds every homeserver, `homeserver` first
  std::optional<NodeRunner> runner;  // none: the node's own threads over HTTP
  PrivateKey key;
  Address address;
  store::Env env;
  transport::NodeTables tables;
  transport::NodeCounters counters;
  transport::IntakeRules rules{config.policy};
  EventQueue events;

  // Created by start(); stop() ends them in this order: workers, HTTP, dispatcher.
  std::unique_ptr<transport::HttpIo> io;
  std::unique_ptr<transport::HomeSet> home_set;
  std::thread dispatcher;  // runs config.on_event
  std::thread monitor;     // failover
  std::condition_variable monitor_wake;

  mutable std::mutex mutex;
  bool started = false;
  bool stopped = false;
  std::string user_id;                       // the fastest home's
  std::string device_id;                     // the fastest home's; before start(), the store's
  std::string primary_server;                // owner of the store's plain names
  std::vector<Candidate> ranking;            // fastest first
  std::vector<std::unique_ptr<Home>> homes;  // in use, fastest first
  std::set<Address> watched;                 // Node::watch, for homes that start later
  // NodeConfig::capabilities as published (Node::set_capabilities replaces it), or nullopt.
  std::optional<std::string> capabilities_url;
  // Replaced homes: their workers are stopped, but the HTTP thread may still complete calls
  // of their clients, so they live until stop().
  std::vector<std::unique_ptr<Home>> retired;

  Impl(NodeConfig c, std::optional<NodeRunner> r, PrivateKey k, store::Env e);
  ~Impl() { stop(); }

  void stop();
  // A crash between two steps, for a runner: the homes stop with no word to peers.
  void halt();
  std::int64_t steady() const { return runner ? runner->steady_ms() : transport::steady_ms(); }
  void emit(NodeEvent e) { events.push(std::move(e)); }
  // NodeConfig::on_log, one record at a time.
  void log(LogLevel level, const char* component, const char* event, nlohmann::json fields);
  std::mutex log_mutex;
  void consumed(const NodeEvent& e);

  // node_homes.cpp
  Result<Unit, NodeError> start();
  std::vector<Candidate> rank_homeservers();
  Result<std::unique_ptr<Home>, NodeError> start_home(const Candidate& candidate);
  Result<Unit, NodeError> send_requests_now(Home& home, E2eeMachine& machine);
  void delete_stale_devices(Home& home, const MatrixIdentity& identity);
  // node_metadata.cpp: `url` as the avatar_url of the home's user, unless it is that already.
  Result<Unit, NodeError> publish_capabilities(Home& home, const std::string& url);
  std::future<transport::MatrixResult> set_presence(Home& home, const char* presence);
  void adopt(std::unique_ptr<Home> home);
  void watch_homes();
  // One round of failover: every home failing for failover_after is replaced if it can be.
  void check_homes();
  bool replace_home(const std::string& failing);
  std::map<std::string, std::int64_t> next_replace_try;  // by server; the failover's only

  // For a runner: what is due on every home, then the failover round; and when that is next.
  void run_due();
  std::int64_t next_wake();
  std::int64_t next_failover_check = 0;

  // Every home in use, for a call that goes to all of them (under `mutex`).
  std::vector<transport::NodeWorker*> workers() const;

  // Asks every home's worker (through `call`, which hands it a callback) and waits at most
  // `patience` for all answers; in the homes' order, fastest first. Empty when not started.
  template <class T>
  using Answer = Result<T, transport::MatrixError>;
  template <class T>
  std::vector<Answer<T>> ask_homes(
      std::chrono::milliseconds patience,
      const std::function<void(transport::NodeWorker&, std::function<void(Answer<T>)>)>& call) {
    std::vector<std::shared_ptr<std::promise<Answer<T>>>> promises;
    {
      std::lock_guard lock(mutex);
      if (!started || stopped) return {};
      for (auto* w : workers()) {
        auto p = std::make_shared<std::promise<Answer<T>>>();
        promises.push_back(p);
        call(*w, [p](Answer<T> r) { p->set_value(std::move(r)); });
      }
    }
    std::vector<Answer<T>> answers;
    answers.reserve(promises.size());
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (auto& p : promises) {
      auto f = p->get_future();
      if (f.wait_until(deadline) == std::future_status::ready) {
        answers.emplace_back(f.get());
      } else {
        answers.emplace_back(fail(transport::MatrixError{
            transport::MatrixErrorKind::cancelled, 0, "", "no answer in time", std::nullopt, ""}));
      }
    }
    return answers;
  }
};

// The library's access to a Node's insides, for code that runs it itself.
struct NodeInternals {
  using Impl = Node::Impl;
  // Node::open with a runner in place of the node's threads; on_event is not supported then.
  static Result<Node, NodeError> open(NodeConfig config, const PrivateKey& key,
                                      std::optional<NodeRunner> runner);
  static Impl& impl(Node& node) { return *node.impl_; }
};

}  // namespace mrt
