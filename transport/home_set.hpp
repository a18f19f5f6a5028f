// transport/home_set.hpp (internal): what a node's homes share (multi-homing).
//
// A node may keep accounts on several homeservers at once, one NodeWorker (its own thread,
// Matrix client, E2EE account and rooms) per homeserver. They share the store's outbox, inbox
// and replay window, and this object: the one place, behind one lock, where they agree
//  - that an envelope arriving over two homeservers at once is accepted once (claim);
//  - that a message is reported delivered or failed once (settle);
//  - which homeserver carries a message first: the fastest healthy one the peer is proven to
//    use; resends go over every healthy homeserver the peer uses, so one that fails costs a
//    resend, not the message;
//  - when a homeserver stopped answering (failover), and what an address's reachability is
//    over all homes;
//  - each sender's budget of accepted envelopes (PROTOCOL §4 rule 8), and the gate before any
//    envelope is verified (per Matrix user and for all of them), which a second homeserver must
//    not double.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mrt/node.hpp>

#include "core/token_bucket.hpp"

namespace mrt::transport {

class NodeWorker;

class HomeSet {
 public:
  // `failing` is called (on a worker's thread) when a home's /sync starts failing.
  HomeSet(std::function<void(NodeEvent)> emit, std::function<void()> failing, const Policy& policy);

  // A home joins when its worker runs and leaves when it is retired.
  void attach(const std::string& server, NodeWorker* worker, std::int64_t rtt_ms);
  void detach(const std::string& server);

  // An accepted envelope's sender\0nonce, held from acceptance until its step is committed:
  // false when another home holds it (the envelope is being accepted there).
  bool claim(const std::string& key);
  void release(const std::vector<std::string>& keys);

  // True once per message: the home that gets it reports delivered or failed; every other home
  // forgets the message (their resends stop).
  bool settle(const std::string& nonce, const NodeWorker* by);
  // A settlement whose step was not committed: the message may settle again.
  void unsettle(const std::string& nonce);
  void consumed(const std::string& nonce);

  // `peer`'s user id on `server` is proven by its displayname.
  void peer_uses(const std::string& server, const Address& peer);
  // Whether `server` carries a message's first transmission to `peer`.
  bool first_choice(const std::string& server, const Address& peer) const;
  // Whether `server` carries resends to `peer`: a healthy homeserver the peer uses (any home
  // when the peer is proven on none yet).
  bool carries(const std::string& server, const Address& peer) const;

  // The sync loop's news: a home whose /sync fails is not chosen while it does, and is replaced
  // (Node's failover) once it has failed for NodeConfig::failover_after.
  void sync_ok(const std::string& server);
  void sync_failed(const std::string& server, std::int64_t now_steady_ms);
  std::vector<std::string> failing_since(std::int64_t before_steady_ms) const;
  bool any_failing() const;

  // One home's view of `peer`; a change of the combined view (reachable on any home wins,
  // then unreachable, then unknown) is emitted.
  void reachability(const std::string& server, const Address& peer, Reachability r);
  Reachability reachability(const Address& peer) const;

  bool within_budget(const Address& sender, std::int64_t now_steady_ms);
  // Whether one more envelope from Matrix user `user_id` may be verified at all
  // (Policy::max_verified_per_second).
  bool may_verify(const std::string& user_id, std::int64_t now_steady_ms);
  // Whether `user_id`'s gate still has room (nothing is taken): an event from a user whose
  // envelopes would all be gated is not even decrypted.
  bool gate_open(const std::string& user_id, std::int64_t now_steady_ms) const;

 private:
  struct Home {
    NodeWorker* worker = nullptr;
    std::int64_t rtt_ms = 0;
    std::int64_t failing_since = 0;  // steady ms of the first failed /sync in a row; 0: fine
  };
  const std::string* best_for(const Address& peer) const;  // needs mutex_
  Reachability combined(const Address& peer) const;        // needs mutex_

  std::function<void(NodeEvent)> emit_;
  std::function<void()> failing_;

  mutable std::mutex mutex_;
  std::map<std::string, Home> homes_;
  std::set<std::string> claims_;
  std::set<std::string> settled_;
  std::map<Address, std::set<std::string>> peer_servers_;
  std::map<Address, std::map<std::string, Reachability>> reachability_;
  std::map<Address, Reachability> reported_;
  TokenBuckets<Address> budgets_;
  TokenBuckets<std::string> verify_per_user_;
  const TokenRate verify_rate_;
  TokenBucket verify_all_;
};

}  // namespace mrt::transport
