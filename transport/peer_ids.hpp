// transport/peer_ids.hpp (internal): PROTOCOL.md §8, from an address to the user ids it uses on
// any homeserver of the federation.
//
// Pure bookkeeping, no I/O: the node feeds it candidates (ids the application supplies, ids met
// in rooms and to-device messages, @A:S for every known server S) and the outcome of each
// profile look-up, and asks it which look-ups are due. A user id counts as the address's only
// once its displayname proved it (PROTOCOL §2); nothing is ever sent to another. Look-ups that
// get no usable answer, and ids whose displayname does not prove them (on Synapse a new
// account's displayname is its localpart until the node sets its own), are retried with
// exponential backoff; a validated id is re-checked after `ttl` and whenever the node asks for
// a re-check (deliveries keep failing: the peer may have moved to another homeserver).
//
//   PeerIds ids({"hs1.example", "hs2.example"}, {});
//   for (auto& user_id : ids.due(peer, now)) look_up(user_id);   // GET /profile/{id}/displayname
//   ids.proven(user_id, peer, now);                               // or refused() / failed()
//   for (auto& user_id : ids.ids(peer)) send_to(user_id);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mrt/eth.hpp>

namespace mrt::transport {

class PeerIds {
 public:
  struct Timing {
    std::int64_t retry_initial_ms = 1000;  // first retry of a failed or refused look-up
    std::int64_t retry_max_ms = 300'000;   // backoff doubles up to this
    std::int64_t ttl_ms = 3'600'000;       // a validated id is checked again after this
  };
  // Most candidates kept per address besides the known servers' (the application's and those
  // met): the rest are ignored, so that a peer cannot make the node look up ids without end.
  static constexpr std::size_t kMaxCandidates = 16;

  PeerIds(std::vector<std::string> known_servers, Timing timing);

  const std::vector<std::string>& known_servers() const { return known_servers_; }

  // Validated ids: the address each one's displayname proved.
  bool validated(const std::string& user_id, const Address& address) const;
  const Address* address_of(const std::string& user_id) const;
  const std::set<std::string>& ids(const Address& address) const;
  const std::map<std::string, Address>& all_validated() const { return validated_; }
  // The last look-up of `user_id` found a displayname that does not prove it.
  bool refused(const std::string& user_id) const;
  bool in_flight(const std::string& user_id) const;

  // A candidate id of `address` (the application's, or met in a room or message): false when it
  // is not @<address>:server or the address has kMaxCandidates already.
  bool add_candidate(const Address& address, const std::string& user_id);

  // Look-ups to start now for `address`: its candidates whose backoff has passed and, while it
  // has no validated id, @address:S for every known server S; validated ids older than the ttl
  // too. Each returned id is marked in flight until its outcome is reported.
  std::vector<std::string> due(const Address& address, std::int64_t now_ms);
  // Whether one id may be looked up now (not in flight, backoff passed); marks it in flight.
  bool start(const std::string& user_id, std::int64_t now_ms);
  // Every id of `address` (candidates, known servers', validated) becomes due at once.
  void recheck(const Address& address);

  // Outcomes. `proven`: the displayname proved `user_id` for `address` (true when it is new).
  bool proven(const std::string& user_id, const Address& address, std::int64_t now_ms);
  // The displayname does not prove it: no longer validated (true when it was).
  bool refused(const std::string& user_id, std::int64_t now_ms);
  // No usable answer (404, unreachable, garbage): as it was, tried again after the backoff.
  void failed(const std::string& user_id, std::int64_t now_ms);
  // The look-up ended without an outcome (the node stopped): not in flight any more.
  void abandoned(const std::string& user_id);

  // A validated id restored from the store, proven at `validated_at_ms` (unknown: it is checked
  // again when next needed).
  void restore(const std::string& user_id, const Address& address,
               std::optional<std::int64_t> validated_at_ms);

 private:
  struct Check {
    bool in_flight = false;
    bool refused = false;
    int failures = 0;          // in a row
    std::int64_t next_at = 0;  // not before (ms)
    std::int64_t validated_at = 0;
    bool stale = false;  // a validated id to check again at once (a re-check, an old record)
  };
  void back_off(Check& c, std::int64_t now_ms) const;
  bool take(const std::string& user_id, std::int64_t now_ms, std::vector<std::string>& out);

  std::vector<std::string> known_servers_;
  Timing timing_;
  std::map<std::string, Address> validated_;
  std::map<Address, std::set<std::string>> by_address_;
  std::map<Address, std::set<std::string>> candidates_;
  std::map<std::string, Check> checks_;
  std::set<Address> rechecks_;  // asked for a re-check since the last due()
};

}  // namespace mrt::transport
