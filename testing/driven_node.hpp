// `DrivenNode`: a whole mrt::Node (transport/node.cpp and node_homes.cpp: its start, homes,
// outbox, events and failover) run by the test in virtual time on a `HomeserverHub`, instead of
// by its own threads over HTTP (NodeInternals, NodeRunner): its store is real LMDB (durability
// off), its homes' workers are run by `run_until`, which moves the hub's clock to whatever is
// due next. A node made again on the same directory and key is the same device after a restart:
// its E2EE accounts, rooms, `next_batch` and outbox come back from the store, and what the
// application had not seen is reported again. Destroying one is a crash between two steps.
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

#include "testing/homeserver_hub.hpp"
#include "transport/node_impl.hpp"

namespace mrt::testing {

struct DrivenOptions {
  std::size_t homes = 0;  // accounts on the first `homes` servers (0: on all); the rest are spares
  // Runs on the store's writer before each group commit; what it throws fails that commit.
  std::function<void()> before_group_commit;
};

class DrivenNode {
 public:
  // Starts a node whose homeservers are `servers` of the hub, in that order. `config`'s
  // homeserver, data_dir and clock fields are set here; its known servers are `servers` unless
  // given.
  DrivenNode(HomeserverHub& hub, std::filesystem::path dir, const std::vector<std::string>& servers,
             const PrivateKey& key, NodeConfig config = {}, DrivenOptions options = {});
  DrivenNode(HomeserverHub& hub, std::filesystem::path dir, std::string server_name,
             const PrivateKey& key, NodeConfig config = {}, DrivenOptions options = {})
      : DrivenNode(hub, std::move(dir), std::vector{std::move(server_name)}, key, std::move(config),
                   std::move(options)) {}
  ~DrivenNode();

  // Node's calls that need no waiting on its homes (send, add_user_ids, consumed, homes, ...).
  Node& node() { return *node_; }
  const Address& address() const { return node_->address(); }
  // The fastest home's user id.
  std::string user_id() const { return node_->user_id(); }
  // Node::send, which must succeed; the message's id.
  std::string send(const Address& to, std::string body);

  // Node::subscribe and Node::broadcast wait for the homes' answers, which only run_until
  // brings: these ask the homes and keep the answers. Every home joins (or, homed on the
  // broadcast server, creates) the room of `topic`; the first home's answer, its room id or why
  // not, is room_of(topic) once it came (PROTOCOL §6, §8).
  using RoomAnswer = Result<std::string, transport::MatrixError>;
  void subscribe(const std::string& topic);
  std::optional<RoomAnswer> room_of(const std::string& topic) const;
  // A signed broadcast into the room of `topic` through the first home; the envelope's nonce.
  // The room event's id, or why not, is published(nonce) once it came.
  std::string broadcast(const std::string& topic, std::string body);
  std::optional<RoomAnswer> published(const std::string& nonce) const;

  // Every event the node has emitted, none consumed (an unconsumed message stays in the inbox).
  const std::vector<NodeEvent>& events() const { return events_; }
  std::size_t count(NodeEventType type) const;
  // The bodies of its message events, in the order they came.
  std::vector<std::string> bodies() const;
  NodeStats stats() const { return node_->stats(); }

  // When the node has something to do (the hub's steady ms); run_due() does it.
  std::int64_t next_wake() { return impl_->next_wake(); }
  void run_due();
  std::uint64_t steps() const { return steps_; }
  // The inbox records (accepted messages not consumed yet), by sender\0nonce, and the outbox
  // records (messages not acked, or settled and not yet seen by the application), by nonce.
  std::map<std::string, nlohmann::json> inbox() const;
  std::map<std::string, nlohmann::json> outbox() const;

 private:
  void take_events();

  HomeserverHub& hub_;
  std::optional<Node> node_;
  NodeInternals::Impl* impl_ = nullptr;
  std::vector<NodeEvent> events_;
  std::map<std::string, RoomAnswer> rooms_;      // by topic
  std::map<std::string, RoomAnswer> published_;  // by nonce
  std::uint64_t steps_ = 0;
};

// Names a scenario run on each carrier: "to_device", "room" (INSTANTIATE_TEST_SUITE_P's last
// argument).
struct CarrierName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    return std::string(to_string(info.param));
  }
};

// Runs the nodes and the hub, moving the virtual clock to the next thing due, until `done()`
// holds (true; asked after every step of every node) or `limit_ms` of virtual time have passed
// (false).
bool run_until(HomeserverHub& hub, const std::vector<DrivenNode*>& nodes,
               const std::function<bool()>& done, std::int64_t limit_ms = 60'000);

}  // namespace mrt::testing
