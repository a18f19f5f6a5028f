// NodeWorker, identities (PROTOCOL §2, §8): which user ids, on any homeserver of the federation,
// belong to an address. Candidates come from the application (Node::add_user_ids), from rooms,
// invites, presence and to-device messages, and, while an address has no validated id, from
// @address:S for every known server S; each is looked up (GET /profile/{id}/displayname
// through this home, answered over federation for a remote id) and counts only once its
// displayname proves it. PeerIds keeps the bookkeeping and the backoff.
#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

void NodeWorker::add_user_ids(const Address& address, std::vector<std::string> user_ids) {
  post([this, address, user_ids = std::move(user_ids)] {
    for (const auto& id : user_ids)
      if (ids_.add_candidate(address, id) && !validated(id, address)) look_up(id);
  });
}

void NodeWorker::send_look_up(const std::string& user_id) {
  ctx_.counters.update([](NodeStats& s) { ++s.id_lookups; });
  MatrixCall call = calls::displayname(user_id);
  // A remote server that never answers fails this look-up soon (it backs off), not in 30 s.
  call.timeout = std::chrono::milliseconds(kLookUpTimeoutMs);
  ctx_.client.call(std::move(call), [this, user_id](MatrixResult r) {
    post([this, user_id, r = std::move(r)]() mutable { on_looked_up(user_id, std::move(r)); });
  });
}

std::vector<std::string> NodeWorker::look_up_ids(const Address& address) {
  std::vector<std::string> due = ids_.due(address, steady());
  for (const auto& id : due) send_look_up(id);
  return due;
}

bool NodeWorker::look_up(const std::string& user_id) {
  auto address = address_of_user_id(user_id);
  if (!address) return false;
  // A met id is a candidate of its address; over the cap it is still checked once when asked.
  ids_.add_candidate(*address, user_id);
  if (!ids_.start(user_id, steady())) return false;
  send_look_up(user_id);
  return true;
}

void NodeWorker::on_looked_up(const std::string& user_id, MatrixResult r) {
  const std::int64_t now = steady();
  const auto address = address_of_user_id(user_id);
  std::optional<std::string> name;
  if (r && r->is_object() && r->contains("displayname") && (*r)["displayname"].is_string())
    name = (*r)["displayname"].get<std::string>();
  if (!r && r.error().kind == MatrixErrorKind::cancelled) {
    ids_.abandoned(user_id);
  } else if (!name || !address) {
    // 404 (no such user yet, or the server does not know it), the remote server unreachable, or
    // an answer without a displayname: ask again after the backoff.
    ids_.failed(user_id, now);
    ctx_.counters.update([](NodeStats& s) { ++s.id_lookups_failed; });
    ctx_.log(LogLevel::debug, "ids", "lookup_failed",
             {{"user_id", user_id}, {"http_status", r ? 0L : r.error().http_status}});
  } else if (auto proven = displayname_proves_user_id(user_id, *name); !proven) {
    // A displayname that does not prove the id (Synapse gives a new account its localpart until
    // the node sets its own): nothing is sent to it; checked again after the backoff.
    const bool was = ids_.refused(user_id, now);
    ctx_.counters.update([](NodeStats& s) { ++s.ids_refused; });
    ctx_.log(LogLevel::info, "ids", "id_refused",
             {{"user_id", user_id}, {"why", "its displayname does not prove it"}});
    if (was) {
      store::Changes c;
      c.erase(ctx_.tables.meta, validated_key(user_id));
      commit_in_background(std::move(c));
    }
  } else if (ctx_.config.challenge_candidates) {
    return challenge_then_validate(user_id, *proven);
  } else {
    store::Changes c;
    remember_validated(user_id, *proven, c);
    commit_in_background(std::move(c));
  }
  after_id_outcome(user_id);
}

void NodeWorker::challenge_then_validate(const std::string& user_id, const Address& address) {
  // Still in flight for PeerIds until the answer: nothing goes to it meanwhile.
  challenge(user_id, kChallengeWaitMs,
            [this, user_id, address](const Result<Address, std::string>& r) {
              if (r) {
                store::Changes c;
                remember_validated(user_id, address, c);
                commit_in_background(std::move(c));
              } else {
                ids_.failed(user_id, steady());
                ctx_.log(LogLevel::info, "ids", "challenge_failed",
                         {{"user_id", user_id}, {"why", r.error()}});
              }
              after_id_outcome(user_id);
            });
}

void NodeWorker::add_proven_user_id(const Address& address, std::string user_id) {
  post([this, address, user_id = std::move(user_id)] {
    if (!ids_.add_candidate(address, user_id) || validated(user_id, address)) return;
    if (ctx_.config.challenge_candidates) {
      if (ids_.start(user_id, steady())) challenge_then_validate(user_id, address);
      return;
    }
    store::Changes c;
    remember_validated(user_id, address, c);
    commit_in_background(std::move(c));
    after_id_outcome(user_id);
  });
}

void NodeWorker::request(MatrixCall call, std::function<void(MatrixResult)> done) {
  post([this, call = std::move(call), done = std::move(done)]() mutable {
    ctx_.client.call(std::move(call), std::move(done));
  });
}

void NodeWorker::set_avatar_url(std::string url, std::function<void(MatrixResult)> done) {
  post([this, url = std::move(url), done = std::move(done)]() mutable {
    ctx_.client.call(calls::set_avatar_url(my_user_id_, url), std::move(done));
  });
}

void NodeWorker::after_id_outcome(const std::string& user_id) {
  for (auto& [room_id, room] : rooms_) judge_room(room_id, nullptr);
  if (presence_.knows(user_id)) recompute_reachability(user_id);
  for (auto& [peer_address, p] : peers_) ensure_room(*p);
  if (auto waiting = after_validation_.extract(user_id))
    for (auto& then : waiting.mapped()) then();
}

void NodeWorker::after_look_ups(const std::vector<std::string>& user_ids,
                                std::function<void()> then) {
  auto pending = std::make_shared<std::size_t>(0);
  auto shared = std::make_shared<std::function<void()>>(std::move(then));
  for (const auto& id : user_ids) {
    if (!ids_.in_flight(id)) continue;
    ++*pending;
    after_validation_[id].push_back([pending, shared] {
      if (--*pending == 0) (*shared)();
    });
  }
  if (*pending == 0) (*shared)();
}

void NodeWorker::remember_validated(const std::string& user_id, const Address& address,
                                    store::Changes& changes) {
  const std::int64_t now = ctx_.now_ms();
  const bool fresh = ids_.proven(user_id, address, steady());
  changes.put(ctx_.tables.meta, validated_key(user_id),
              address.to_hex() + " " + std::to_string(now));
  ctx_.homes.peer_uses(user_id.substr(user_id.find(':') + 1), address);
  if (!fresh) return;
  auto p = peers_.find(address);
  if (p == peers_.end()) return;
  // A new id of a peer: its devices may be new to us (to_device), and the rooms this node
  // created with it invite it at once (the peer may have moved to another homeserver).
  machine_.update_tracked_users({user_id});
  machine_.refresh_devices({user_id});
  for (auto& [room_id, room] : rooms_) {
    if (room->left || room->state.creator != my_user_id_ || room->partner != address) continue;
    auto m = room->state.membership.find(user_id);
    if (m != room->state.membership.end() && (m->second == "join" || m->second == "invite"))
      continue;
    room->state.membership[user_id] = "invite";
    room->invited_at = steady();
    ctx_.client.call(calls::invite(room_id, user_id), [](const MatrixResult&) {});
  }
}

}  // namespace mrt::transport
