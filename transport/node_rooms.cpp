// NodeWorker, DM rooms (PROTOCOL §5): invites, joins, judging, leaving, creating. The partner's
// user ids may be on any homeserver (§8): the room is created on this home and invites every
// validated id of the partner, who joins over federation.
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
    pending_invites_.erase(room_id);
    invited_by_.erase(room_id);
    invites_handled_.insert(room_id);
    ctx_.counters.update([counter](NodeStats& s) { ++(s.*counter); });
    ctx_.client.call(calls::leave(room_id), [](const MatrixResult&) {});
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
  // Its partner's room key may come before the join; as many remembered as the cap joins.
  if (invited_by_.size() < ctx_.config.policy.max_new_dm_rooms_per_hour)
    invited_by_.emplace(room_id, *inviter_address);
  if (!validated(inviter, *inviter_address)) {
    look_up(inviter);
    if (ids_.in_flight(inviter)) {
      // Decide once the inviter's displayname has been checked.
      after_look_ups({inviter},
                     [this, room_id, invite_state] { handle_invite(room_id, invite_state); });
      return;
    }
    if (ids_.refused(inviter)) {
      // An inviter whose displayname does not prove its user id: never joined (left pending).
      pending_invites_.erase(room_id);
      invited_by_.erase(room_id);
      invites_handled_.insert(room_id);
      ctx_.counters.update([](NodeStats& s) { ++s.invites_refused; });
    } else if (pending_invites_.count(room_id) ||
               pending_invites_.size() < ctx_.config.policy.max_new_dm_rooms_per_hour) {
      // Its look-up failed (its server unreachable?): the tick asks again after the backoff.
      // As many kept as may be joined in an hour; others wait for the inviter's next invite.
      pending_invites_.emplace(room_id, invite_state);
    }
    return;
  }
  pending_invites_.erase(room_id);
  // Counted now, not when the join succeeds: a join that fails costs as much.
  if (!admit_dm_invite(true)) {
    reject_invite(&NodeStats::invites_over_limit);
    return;
  }
  invites_handled_.insert(room_id);
  join_room(room_id, *inviter_address);
}

bool NodeWorker::room_key_expected(const std::string& room_id, const Address& sender) const {
  if (auto it = rooms_.find(room_id); it != rooms_.end())
    return !it->second->left && it->second->partner == sender;
  if (auto it = invited_by_.find(room_id); it != invited_by_.end()) return it->second == sender;
  auto it = dm_rooms_in_sync_.find(room_id);
  return it != dm_rooms_in_sync_.end() && it->second == sender;
}

bool NodeWorker::admit_dm_invite(bool count) {
  const std::size_t limit = ctx_.config.policy.max_new_dm_rooms_per_hour;
  return count ? dm_invites_joined_.admit("", limit, steady())
               : !dm_invites_joined_.full("", limit, steady());
}

void NodeWorker::join_room(const std::string& room_id, const Address& partner) {
  ctx_.client.call(calls::join(room_id), [this, room_id, partner](const MatrixResult& r) {
    post([this, room_id, partner, ok = bool(r)] {
      if (!ok) {
        // An invite that cannot be joined is rejected (PROTOCOL §5); the creator invites again
        // or makes a new room.
        invited_by_.erase(room_id);
        ctx_.client.call(calls::leave(room_id), [](const MatrixResult&) {});
        return;
      }
      // Judged on its whole state, loaded now: the sync loads members lazily (broadcast rooms
      // are large) and may bring only part of a room just joined.
      if (!rooms_.count(room_id)) {
        auto room = std::make_unique<Room>();
        room->partner = partner;
        rooms_[room_id] = std::move(room);
      }
      invited_by_.erase(room_id);  // known now
      load_state(room_id);
    });
  });
}

void NodeWorker::load_state(const std::string& room_id) {
  ctx_.client.call(calls::room_state(room_id), [this, room_id](MatrixResult r) {
    post([this, room_id, r = std::move(r)] {
      auto it = rooms_.find(room_id);
      if (it == rooms_.end() || it->second->left) return;
      if (!r) {
        // Not answered: asked again, so that the room does not stay unjudged. Refused (4xx: not
        // a member after all): the room stays unjudged, so unused.
        const MatrixError& e = r.error();
        const bool refused =
            e.kind == MatrixErrorKind::http && e.http_status < 500 && e.http_status != 429;
        if (e.kind != MatrixErrorKind::cancelled && !refused)
          post_after(kRoomRetryMs, [this, room_id] { load_state(room_id); });
        return;
      }
      it->second->complete = true;
      Intake intake;
      apply_room_state(room_id, *r, intake);
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
    load_state(room_id);
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
  if (room.left || !room.complete) return;
  // Users not checked yet are checked first; the room is judged again when they are (a look-up
  // that fails is tried again by the tick, after its backoff).
  std::vector<std::string> users = room.state.members();
  if (!room.state.creator.empty()) users.push_back(room.state.creator);
  bool pending = false;
  for (const auto& user : users) {
    if (ids_.address_of(user) || ids_.refused(user)) continue;
    look_up(user);
    pending = true;
  }
  if (pending || room.state.creator.empty()) return;
  room.verdict = judge_dm_room(room.state, me_, ids_.all_validated());
  room.judged = true;
  if (room.verdict != DmRoomVerdict::valid) {
    leave_room(room_id, room.verdict);
  }
  if (intake) persist_room(room_id, intake->changes);
}

bool NodeWorker::receives_in(const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  return it != rooms_.end() && !it->second->left && it->second->verdict == DmRoomVerdict::valid;
}

void NodeWorker::leave_room(const std::string& room_id, DmRoomVerdict /*why*/) {
  Room& room = *rooms_.at(room_id);
  room.left = true;
  ctx_.client.call(calls::leave(room_id), [](const MatrixResult&) {});
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

void NodeWorker::watch(const Address& address) {
  post([this, address] {
    if (address == me_) return;
    peer(address).watched = true;
    after_look_ups(look_up_ids(address), [this, address] {
      ensure_room(peer(address));
      reachability(address, [](Reachability) {});  // with the ids known; changes are events
    });
  });
}

void NodeWorker::ensure_room(Peer& p) {
  if (ctx_.config.carrier != Carrier::room || !(me_ < p.address)) return;
  if (p.creating_room || steady() < p.next_room_attempt || has_live_room(p.address)) return;
  const std::set<std::string>& partner_ids = ids_.ids(p.address);
  if (partner_ids.empty()) {
    look_up_ids(p.address);  // ensure_room runs again once one is validated
    return;
  }
  // A room for a partner that wrote first, with nothing of ours to send it, is one that other
  // nodes make this one keep: it counts against the same hourly cap as the invites it joins
  // (fresh addresses are free). Meanwhile envelopes go over to_device. A partner the application
  // watches is its own choice, like its sends.
  if (p.messages.empty() && !p.watched && !admit_dm_invite(true)) {
    p.next_room_attempt = steady() + kReinviteMs;
    ctx_.counters.update([](NodeStats& s) { ++s.dm_rooms_over_limit; });
    return;
  }
  p.creating_room = true;
  const Address partner = p.address;
  const std::vector<std::string> invite(partner_ids.begin(), partner_ids.end());
  ctx_.client.call(calls::create_room(dm_room_create_body(me_, partner, invite)),
                   [this, partner, invite](MatrixResult r) {
                     post([this, partner, invite, r = std::move(r)] {
                       Peer& partner_peer = peer(partner);
                       partner_peer.creating_room = false;
                       const std::string* room_id =
                           r && r->contains("room_id") && (*r)["room_id"].is_string()
                               ? &(*r)["room_id"].get_ref<const std::string&>()
                               : nullptr;
                       if (!room_id) {
                         partner_peer.next_room_attempt = steady() + kRoomRetryMs;
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
                       for (const auto& id : invite) room->state.membership[id] = "invite";
                       room->complete = true;
                       room->partner = partner;
                       room->invited_at = steady();
                       const std::string id = *room_id;
                       rooms_[id] = std::move(room);
                       Intake intake;
                       judge_room(id, &intake);
                       finish_intake(intake);
                     });
                   });
}

}  // namespace mrt::transport
