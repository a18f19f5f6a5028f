// NodeWorker, DM rooms (PROTOCOL §5): invites, joins, judging, leaving, creating; and the
// displayname check of other users' ids (§2) that the rules rest on.
#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

void NodeWorker::persist_room(const std::string& room_id, store::Changes& changes) {
  const Room& room = *rooms_.at(room_id);
  changes.put(ctx_.tables.dm_rooms, room_id,
              json{{"state", room.state.to_json()}, {"left", room.left}, {"home", server_name_}});
}

bool NodeWorker::validated(const std::string& user_id, const Address& address) const {
  auto it = validated_.find(user_id);
  return it != validated_.end() && it->second == address;
}

void NodeWorker::remember_validated(const std::string& user_id, const Address& address,
                                    store::Changes& changes) {
  validated_[user_id] = address;
  changes.put(ctx_.tables.meta, validated_key(user_id), address.to_hex());
  if (!user_id.ends_with(":" + server_name_)) return;
  ctx_.homes.peer_uses(server_name_, address);
  // A peer whose id just proved itself has logged in: its devices may be new to us.
  if (auto p = peers_.find(address); p != peers_.end() && p->second->user_id == user_id)
    machine_.refresh_devices({user_id});
}

void NodeWorker::validate_user(const std::string& user_id) {
  if (validated_.count(user_id) || invalid_users_.count(user_id) || validating_.count(user_id))
    return;
  if (!address_of_user_id(user_id)) {
    invalid_users_.insert(user_id);
    return;
  }
  validating_.insert(user_id);
  ctx_.client.call(
      calls::request("GET", "/_matrix/client/v3/profile/" + url_encode(user_id) + "/displayname",
                     json::object()),
      [this, user_id](MatrixResult r) {
        post([this, user_id, r = std::move(r)] {
          validating_.erase(user_id);
          if (!r) {
            // Not there yet (never logged in) or unreachable: ask again later.
            if (r.error().kind != MatrixErrorKind::cancelled)
              post_after(kValidateRetryMs, [this, user_id] { validate_user(user_id); });
            return;
          }
          const std::string name =
              r->is_object() && r->contains("displayname") && (*r)["displayname"].is_string()
                  ? (*r)["displayname"].get<std::string>()
                  : "";
          auto proven = displayname_proves_user_id(user_id, name);
          if (!proven) {
            if (name.empty()) {
              post_after(kValidateRetryMs, [this, user_id] { validate_user(user_id); });
            } else {
              invalid_users_.insert(user_id);
            }
          } else {
            store::Changes c;
            remember_validated(user_id, *proven, c);
            ctx_.env.commit(std::move(c));
          }
          for (auto& [room_id, room] : rooms_) judge_room(room_id, nullptr);
          if (presence_of_.count(user_id)) recompute_reachability(user_id);
          for (auto& [address, p] : peers_) ensure_room(*p);
          if (auto waiting = after_validation_.extract(user_id))
            for (auto& then : waiting.mapped()) then();
        });
      });
}

void NodeWorker::handle_invite(const std::string& room_id, const json& invite_state) {
  if (invites_handled_.count(room_id) || rooms_.count(room_id)) return;
  std::string inviter;
  for (const auto& e : invite_state) {
    if (e.value("type", "") == "m.room.member" && e.value("state_key", "") == my_user_id_ &&
        e.is_object() && e.contains("sender") && e["sender"].is_string())
      inviter = e["sender"].get<std::string>();
  }
  auto inviter_address = address_of_user_id(inviter);
  const auto reject_invite = [this, &room_id](std::uint64_t NodeStats::*counter) {
    invites_handled_.insert(room_id);
    ctx_.counters.update([counter](NodeStats& s) { ++(s.*counter); });
    ctx_.client.call(
        calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                       json::object()),
        [](MatrixResult) {});
  };
  // Only the lower address of a pair invites (PROTOCOL §5); anything else is refused.
  if (inviter.empty() || !inviter_address || !(*inviter_address < me_)) {
    reject_invite(&NodeStats::invites_refused);
    return;
  }
  // Over the hourly cap (Policy::max_new_dm_rooms_per_hour) before the inviter's displayname
  // is checked, so that a flood of invites costs no signature check. Rejected rather than left
  // pending: the inviter invites again after 60 s (PROTOCOL §5), by when there may be room.
  if (!admit_dm_invite(false)) {
    reject_invite(&NodeStats::invites_over_limit);
    return;
  }
  if (!validated(inviter, *inviter_address)) {
    validate_user(inviter);
    if (!invalid_users_.count(inviter)) {
      // Decide once the inviter's displayname has been checked.
      post_after(500, [this, room_id, invite_state] { handle_invite(room_id, invite_state); });
      return;
    }
    // An inviter whose displayname does not prove its user id: never joined (left pending).
    invites_handled_.insert(room_id);
    ctx_.counters.update([](NodeStats& s) { ++s.invites_refused; });
    return;
  }
  // Counted now, not when the join succeeds: a join that fails costs as much.
  if (!admit_dm_invite(true)) {
    reject_invite(&NodeStats::invites_over_limit);
    return;
  }
  invites_handled_.insert(room_id);
  join_room(room_id, *inviter_address);
}

void NodeWorker::join_room(const std::string& room_id, const Address& partner) {
  ctx_.client.call(calls::join(room_id), [this, room_id, partner](MatrixResult r) {
    post([this, room_id, partner, ok = bool(r)] {
      if (!ok) {
        // An invite that cannot be joined is rejected (PROTOCOL §5); the creator invites again
        // or makes a new room.
        ctx_.client.call(
            calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                           json::object()),
            [](MatrixResult) {});
        return;
      }
      // Judged on the state of the first sync after the join, and on the member list: the
      // sync loads members lazily (broadcast rooms are large), a DM room needs all of them.
      if (!rooms_.count(room_id)) {
        auto room = std::make_unique<Room>();
        room->partner = partner;
        rooms_[room_id] = std::move(room);
      }
      load_members(room_id);
    });
  });
}

void NodeWorker::load_members(const std::string& room_id) {
  ctx_.client.call(
      calls::request("GET", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/members",
                     json::object()),
      [this, room_id](MatrixResult r) {
        post([this, room_id, r = std::move(r)] {
          if (!r || !r->contains("chunk") || !(*r)["chunk"].is_array()) return;
          Intake intake;
          apply_room_state(room_id, (*r)["chunk"], intake);
          finish_intake(intake);
        });
      });
}

void NodeWorker::apply_room_state(const std::string& room_id, const json& events, Intake& intake) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) {
    // A room we did not create or join through an invite: only a DM room's state makes it ours.
    bool dm = false;
    for (const auto& e : events)
      if (e.is_object() && e.value("type", "") == kDmStateType) dm = true;
    if (!dm) return;
    it = rooms_.emplace(room_id, std::make_unique<Room>()).first;
    load_members(room_id);
  }
  Room& room = *it->second;
  if (room.left) return;
  for (const auto& e : events) {
    if (!e.is_object()) continue;
    room.state.apply(e);
    if (e.value("type", "") == "m.room.encryption") room.encryption_set = false;
  }
  room.partner = dm_partner(room.state, me_);
  judge_room(room_id, &intake);
}

void NodeWorker::judge_room(const std::string& room_id, Intake* intake) {
  Room& room = *rooms_.at(room_id);
  if (room.left) return;
  // Users not checked yet are checked first; the room is judged again when they are.
  bool pending = false;
  for (const auto& user : room.state.members()) {
    if (!validated_.count(user) && !invalid_users_.count(user)) {
      validate_user(user);
      pending = pending || !invalid_users_.count(user);
    }
  }
  if (!room.state.creator.empty() && !validated_.count(room.state.creator) &&
      !invalid_users_.count(room.state.creator)) {
    validate_user(room.state.creator);
    pending = pending || !invalid_users_.count(room.state.creator);
  }
  if (pending || room.state.creator.empty()) return;
  room.verdict = judge_dm_room(room.state, me_, validated_);
  room.judged = true;
  if (room.verdict != DmRoomVerdict::valid) {
    leave_room(room_id, room.verdict);
  }
  if (intake) persist_room(room_id, intake->changes);
}

void NodeWorker::leave_room(const std::string& room_id, DmRoomVerdict /*why*/) {
  Room& room = *rooms_.at(room_id);
  room.left = true;
  ctx_.client.call(
      calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                     json::object()),
      [](MatrixResult) {});
}

const std::string* NodeWorker::ready_room(const Address& partner) const {
  const std::string* best = nullptr;
  std::int64_t best_created = 0;
  for (const auto& [room_id, room] : rooms_) {
    if (room->left || room->verdict != DmRoomVerdict::valid || room->partner != partner) continue;
    bool partner_joined = false;
    for (const auto& [user, m] : room->state.membership)
      if (m == "join" && validated(user, partner)) partner_joined = true;
    if (!partner_joined || !room->state.joined(my_user_id_)) continue;
    if (!best || room->state.created_ts > best_created) {
      best = &room_id;
      best_created = room->state.created_ts;
    }
  }
  return best;
}

bool NodeWorker::has_live_room(const Address& partner) const {
  for (const auto& [room_id, room] : rooms_) {
    if (room->left || room->partner != partner) continue;
    if (room->judged && room->verdict != DmRoomVerdict::valid) continue;
    for (const auto& [user, m] : room->state.membership)
      if ((m == "join" || m == "invite") && validated(user, partner)) return true;
  }
  return false;
}

void NodeWorker::ensure_room(Peer& p) {
  if (ctx_.config.carrier != Carrier::room || !(me_ < p.address)) return;
  if (p.creating_room || steady_ms() < p.next_room_attempt || has_live_room(p.address)) return;
  if (!validated(p.user_id, p.address)) {
    validate_user(p.user_id);  // ensure_room runs again once it is checked
    return;
  }
  p.creating_room = true;
  const Address partner = p.address;
  ctx_.client.call(calls::create_room(dm_room_create_body(me_, partner, {p.user_id})),
                   [this, partner](MatrixResult r) {
                     post([this, partner, r = std::move(r)] {
                       Peer& partner_peer = peer(partner);
                       partner_peer.creating_room = false;
                       const std::string* room_id =
                           r && r->contains("room_id") && (*r)["room_id"].is_string()
                               ? &(*r)["room_id"].get_ref<const std::string&>()
                               : nullptr;
                       if (!room_id) {
                         partner_peer.next_room_attempt = steady_ms() + kRoomRetryMs;
                         return;
                       }
                       auto room = std::make_unique<Room>();
                       // What we asked for; the sync's state events confirm or correct it.
                       room->state.creator = my_user_id_;
                       room->state.created_ts = ctx_.now_ms();
                       room->state.join_rule = "invite";
                       const json body = dm_room_create_body(me_, partner, {});
                       for (const auto& e : body["initial_state"]) room->state.apply(e);
                       room->state.membership[my_user_id_] = "join";
                       room->state.membership[partner_peer.user_id] = "invite";
                       room->partner = partner;
                       room->invited_at = steady_ms();
                       const std::string id = *room_id;
                       rooms_[id] = std::move(room);
                       Intake intake;
                       judge_room(id, &intake);
                       finish_intake(intake);
                     });
                   });
}

}  // namespace mrt::transport
