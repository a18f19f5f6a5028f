// Rooms as event streams: appending an event (ids, prev_content, indexes, who to wake),
// membership at a stream position, power levels, and the client form of an event.
#include <algorithm>

#include "state.hpp"

namespace mrt::devserver {

Room& room_or_404(Ctx& c, const std::string& room_id) {
  auto it = c.s.rooms.find(room_id);
  if (it == c.s.rooms.end()) not_found("unknown room");
  return it->second;
}

std::string membership(const State& s, const Room& room, const std::string& user) {
  auto it = room.state.find({"m.room.member", user});
  if (it == room.state.end()) return "";
  const Json& content = s.events.at(it->second)["content"];
  auto m = content.find("membership");
  return m != content.end() && m->is_string() ? m->get<std::string>() : "";
}

std::string membership_at(const State& s, const Room& room, const std::string& user,
                          StreamPos pos) {
  auto history = room.member_history.find(user);
  if (history == room.member_history.end()) return "";
  const auto& positions = history->second;
  auto it = std::upper_bound(positions.begin(), positions.end(), pos);
  if (it == positions.begin()) return "";
  return s.events.at(*std::prev(it))["content"].value("membership", "");
}

std::vector<std::string> members_with(const State& s, const Room& room,
                                      std::initializer_list<const char*> memberships) {
  std::vector<std::string> out;
  for (auto it = room.state.lower_bound({"m.room.member", ""});
       it != room.state.end() && it->first.first == "m.room.member"; ++it) {
    const std::string m = membership(s, room, it->first.second);
    for (const char* want : memberships) {
      if (m == want) out.push_back(it->first.second);
    }
  }
  return out;
}

bool share_room(const State& s, const std::string& a, const std::string& b) {
  auto it = s.user_rooms.find(a);
  if (it == s.user_rooms.end()) return false;
  for (const auto& room_id : it->second) {
    const Room& room = s.rooms.at(room_id);
    if (membership(s, room, a) == "join" && membership(s, room, b) == "join") return true;
  }
  return false;
}

std::set<std::string> room_peers(const State& s, const std::string& user) {
  std::set<std::string> out;
  auto it = s.user_rooms.find(user);
  if (it == s.user_rooms.end()) return out;
  for (const auto& room_id : it->second) {
    const Room& room = s.rooms.at(room_id);
    if (membership(s, room, user) != "join") continue;
    for (auto& m : members_with(s, room, {"join", "invite"})) out.insert(std::move(m));
  }
  return out;
}

Json client_event(const State& s, StreamPos pos, const Ctx* viewer) {
  Json e = s.events.at(pos);
  const Json txn = e.contains("_txn") ? e["_txn"] : Json();
  e.erase("_txn");
  e["unsigned"]["age"] =
      std::max<std::int64_t>(0, now_ms() - e["origin_server_ts"].get<std::int64_t>());
  if (viewer && viewer->device && txn.is_object() && txn["device"] == viewer->device->id &&
      e["sender"] == viewer->user->id) {
    e["unsigned"]["transaction_id"] = txn["txn_id"];
  }
  return e;
}

Json stripped_state(const State& s, const Room& room, const std::string& invitee) {
  Json out = Json::array();
  for (const char* type :
       {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias",
        "m.room.avatar", "m.room.encryption", "m.room.topic", "network.raiden.dm"}) {
    auto it = room.state.find({type, ""});
    if (it == room.state.end()) continue;
    const Json& e = s.events.at(it->second);
    out.push_back({{"type", e["type"]},
                   {"state_key", ""},
                   {"content", e["content"]},
                   {"sender", e["sender"]}});
  }
  // The invitee's own member event (the invite) and the inviter's.
  auto mine = room.state.find({"m.room.member", invitee});
  if (mine != room.state.end()) {
    const Json& invite = s.events.at(mine->second);
    auto theirs = room.state.find({"m.room.member", invite["sender"].get<std::string>()});
    if (theirs != room.state.end() && theirs != mine) {
      const Json& e = s.events.at(theirs->second);
      out.push_back({{"type", e["type"]},
                     {"state_key", e["state_key"]},
                     {"content", e["content"]},
                     {"sender", e["sender"]}});
    }
    out.push_back(client_event(s, mine->second, nullptr));
  }
  return out;
}

void apply_event(State& s, StreamPos pos, Json event) {
  const std::string room_id = event["room_id"];
  Room& room = s.rooms[room_id];
  room.id = room_id;
  room.timeline.push_back(pos);
  if (event.contains("state_key")) {
    const std::string key = event["state_key"];
    room.state[{event["type"], key}] = pos;
    if (event["type"] == "m.room.member") {
      s.user_rooms[key].insert(room_id);
      room.member_history[key].push_back(pos);
    }
  }
  s.event_ids[event["event_id"]] = pos;
  s.events[pos] = std::move(event);
}

StreamPos append_event(Ctx& c, Room& room, const std::string& type, const std::string& sender,
                       Json content, std::optional<std::string> state_key, Json txn) {
  const StreamPos pos = c.next_pos();
  Json e = {{"event_id", "$" + random_id(43)},
            {"type", type},
            {"sender", sender},
            {"room_id", room.id},
            {"origin_server_ts", now_ms()},
            {"content", std::move(content)},
            {"unsigned", Json::object()}};
  if (state_key) {
    e["state_key"] = *state_key;
    auto prev = room.state.find({type, *state_key});
    if (prev != room.state.end()) {
      const Json& p = c.s.events.at(prev->second);
      e["unsigned"]["prev_content"] = p["content"];
      e["unsigned"]["replaces_state"] = p["event_id"];
      e["unsigned"]["prev_sender"] = p["sender"];
    }
  }
  if (!txn.is_null()) e["_txn"] = std::move(txn);
  // Everyone in the room before and after this event hears of it.
  for (auto& m : members_with(c.s, room, {"join", "invite"})) c.wake.insert(std::move(m));
  if (type == "m.room.member" && state_key) c.wake.insert(*state_key);
  apply_event(c.s, pos, std::move(e));
  c.new_events.push_back(pos);
  // Whoever joins or leaves changes who sees whose devices.
  if (type == "m.room.member" && state_key) {
    for (auto& m : members_with(c.s, room, {"join", "invite"})) c.wake.insert(std::move(m));
  }
  return pos;
}

void record_device_change(Ctx& c, const std::string& user) {
  const StreamPos pos = c.next_pos();
  c.s.device_changes.emplace_back(pos, user);
  c.new_device_changes.push_back(pos);
  c.wake.insert(user);
  for (auto& peer : room_peers(c.s, user)) c.wake.insert(peer);
}

}  // namespace mrt::devserver
