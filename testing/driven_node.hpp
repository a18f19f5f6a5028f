// `DrivenNode`: one node's worker on one homeserver of a `HomeserverHub`, run by the test in
// virtual time (NodeWorker::start_driven) instead of by mrt::Node's threads: its store (real
// LMDB, durability off), its E2EE account, its HomeSet, and the part of Node::send that writes
// the outbox record and hands it to the worker. `run_until` runs several such nodes and the hub.
// A node made again on the same directory and key is the same device after a restart: its
// E2EE account, rooms, `next_batch` and unsettled outbox come back from the store (destroying
// one without more ado is a crash between two steps).
//
//   HomeserverHub hub(dir);
//   hub.add_server("hs.test");
//   DrivenNode a(hub, dir / "a", "hs.test", key_a), b(hub, dir / "b", "hs.test", key_b);
//   a.send(b.address(), "hello");
//   ASSERT_TRUE(run_until(hub, {&a, &b}, [&] { return b.count(NodeEventType::message) == 1; }));
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mrt/node.hpp>
#include <mrt/store/env.hpp>

#include "testing/homeserver_hub.hpp"
#include "transport/home_set.hpp"
#include "transport/node_tables.hpp"
#include "transport/node_worker.hpp"

namespace mrt::testing {

class DrivenNode {
 public:
  // Logs in (creating the account), publishes the device's keys and the displayname that proves
  // the user id, and starts the worker. `config`'s homeserver fields are ignored.
  DrivenNode(HomeserverHub& hub, std::filesystem::path dir, std::string server_name,
             const PrivateKey& key, NodeConfig config = {});
  ~DrivenNode();

  const Address& address() const { return address_; }
  const std::string& user_id() const { return user_id_; }
  // The outbox record, durable, then handed to the worker; the message's id (its nonce).
  std::string send(const Address& to, std::string body);

  const std::vector<NodeEvent>& events() const { return events_; }
  std::size_t count(NodeEventType type) const;
  NodeStats stats() const { return counters_.snapshot(); }

  std::int64_t next_wake() const { return worker_->next_wake(); }
  void run_due() {
    ++steps_;
    worker_->run_due();
  }
  std::uint64_t steps() const { return steps_; }
  // The inbox records (accepted messages not consumed yet), by sender\0nonce, and the outbox
  // records (messages not acked, or settled and not yet seen by the application), by nonce.
  std::map<std::string, nlohmann::json> inbox() const;
  std::map<std::string, nlohmann::json> outbox() const;

 private:
  HomeserverHub& hub_;
  std::filesystem::path dir_;
  std::string server_name_;
  PrivateKey key_;
  Address address_;
  NodeConfig config_;
  std::optional<store::Env> env_;
  std::optional<transport::NodeTables> tables_;
  std::unique_ptr<transport::MatrixCaller> caller_;
  std::string user_id_;
  transport::NodeCounters counters_;
  std::vector<NodeEvent> events_;
  std::unique_ptr<transport::HomeSet> homes_;
  std::unique_ptr<transport::NodeWorker> worker_;
  std::uint64_t steps_ = 0;
};

// Runs the nodes and the hub, moving the virtual clock to the next thing due, until `done()`
// holds (true; asked after every step of every node) or `limit_ms` of virtual time have passed
// (false).
bool run_until(HomeserverHub& hub, const std::vector<DrivenNode*>& nodes,
               const std::function<bool()>& done, std::int64_t limit_ms = 60'000);

}  // namespace mrt::testing
