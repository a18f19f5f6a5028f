// `DrivenNode`: one node's workers, one per homeserver of a `HomeserverHub` it has an account
// on, run by the test in virtual time (NodeWorker::start_driven) instead of by mrt::Node's
// threads: its store (real LMDB, durability off), an E2EE account per home, the HomeSet they
// share, and the part of Node::send that writes the outbox record and hands it to every home.
// `run_until` runs several such nodes and the hub. (Failover, which replaces a failing home with
// another, is Node's and is not driven here.)
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
  // Logs in on each of `servers` (creating the account), publishes each device's keys and the
  // displayname that proves the user id, and starts a worker per home; the first server's
  // account owns the store's plain names. `config`'s homeserver fields are ignored; its known
  // servers are `servers` unless given.
  DrivenNode(HomeserverHub& hub, std::filesystem::path dir, std::vector<std::string> servers,
             const PrivateKey& key, NodeConfig config = {});
  DrivenNode(HomeserverHub& hub, std::filesystem::path dir, std::string server_name,
             const PrivateKey& key, NodeConfig config = {})
      : DrivenNode(hub, std::move(dir), std::vector{std::move(server_name)}, key,
                   std::move(config)) {}
  ~DrivenNode();

  const Address& address() const { return address_; }
  // The first home's user id.
  const std::string& user_id() const { return homes_.front()->user_id; }
  // The outbox record, durable, then handed to the worker; the message's id (its nonce).
  std::string send(const Address& to, std::string body);

  // PROTOCOL §8 source 1: user ids the application supplies for `address`, on every home.
  void add_user_ids(const Address& address, const std::vector<std::string>& user_ids);

  // Every home joins (or, homed on the broadcast server, creates) the room of `topic`; the first
  // home's answer, its room id or why not, is room_of(topic) once it came (PROTOCOL §6, §8).
  using RoomAnswer = Result<std::string, transport::MatrixError>;
  void subscribe(const std::string& topic);
  std::optional<RoomAnswer> room_of(const std::string& topic) const;
  // A signed broadcast into the room of `topic` through the first home; the envelope's nonce.
  // The room event's id, or why not, is published(nonce) once it came.
  std::string broadcast(const std::string& topic, std::string body);
  std::optional<RoomAnswer> published(const std::string& nonce) const;

  const std::vector<NodeEvent>& events() const { return events_; }
  std::size_t count(NodeEventType type) const;
  NodeStats stats() const { return counters_.snapshot(); }

  // When the earliest home has something to do; run_due() runs every home that has.
  std::int64_t next_wake() const;
  void run_due();
  std::uint64_t steps() const { return steps_; }
  // The inbox records (accepted messages not consumed yet), by sender\0nonce, and the outbox
  // records (messages not acked, or settled and not yet seen by the application), by nonce.
  std::map<std::string, nlohmann::json> inbox() const;
  std::map<std::string, nlohmann::json> outbox() const;

 private:
  struct Home {
    transport::HomeNamespace ns;
    std::unique_ptr<transport::MatrixCaller> caller;
    std::string user_id;
    std::unique_ptr<transport::NodeWorker> worker;
  };
  std::unique_ptr<Home> start_home(const std::string& server_name, bool primary);

  HomeserverHub& hub_;
  std::filesystem::path dir_;
  PrivateKey key_;
  Address address_;
  NodeConfig config_;
  std::optional<store::Env> env_;
  std::optional<transport::NodeTables> tables_;
  transport::NodeCounters counters_;
  std::vector<NodeEvent> events_;
  std::unique_ptr<transport::HomeSet> home_set_;
  std::vector<std::unique_ptr<Home>> homes_;
  std::map<std::string, RoomAnswer> rooms_;      // by topic
  std::map<std::string, RoomAnswer> published_;  // by nonce
  std::uint64_t steps_ = 0;
};

// Runs the nodes and the hub, moving the virtual clock to the next thing due, until `done()`
// holds (true; asked after every step of every node) or `limit_ms` of virtual time have passed
// (false).
bool run_until(HomeserverHub& hub, const std::vector<DrivenNode*>& nodes,
               const std::function<bool()>& done, std::int64_t limit_ms = 60'000);

}  // namespace mrt::testing
