// Room endpoints: createRoom, membership (join, invite, leave, kick, ban, unban, forget), state,
// send, messages, members, aliases. Power levels and join rules are enforced here.
#include <algorithm>

#include "state.hpp"

namespace mrt::devserver {

namespace {

constexpr std::size_t kMaxEventBytes = 65536;

std::int64_t int_or(const Json& object, const std::string& key, std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

Json power_levels(const State& s, const Room& room) {
  auto it = room.state.find({"m.room.power_levels", ""});
  if (it == room.state.end()) return Json::object();
  return s.events.at(it->second)["content"];
}

std::int64_t user_level(const Json& pl, const std::string& user) {
  if (pl.empty()) return 0;
  return int_or(pl.value("users", Json::object()), user, int_or(pl, "users_default", 0));
}

std::int64_t event_level(const Json& pl, const std::string& type, bool is_state) {
  return int_or(pl.value("events", Json::object()), type,
                is_state ? int_or(pl, "state_default", 50) : int_or(pl, "events_default", 0));
}

void require_joined(const Ctx& c, const Room& room) {
  if (membership(c.s, room, c.user->id) != "join") forbidden("you are not joined to this room");
}

void require_level(const Ctx& c, const Room& room, std::int64_t needed, const std::string& what) {
  if (user_level(power_levels(c.s, room), c.user->id) < needed) {
    forbidden("your power level is too low to " + what);
  }
}

Json member_content(const State& s, const std::string& user_id, const std::string& membership) {
  Json content = {{"membership", membership}};
  auto it = s.users.find(user_id);
  if (it != s.users.end()) {
    if (!it->second.displayname.empty()) content["displayname"] = it->second.displayname;
    if (!it->second.avatar_url.empty()) content["avatar_url"] = it->second.avatar_url;
  }
  return content;
}

void check_event_size(const Json& content) {
  if (to_wire(content).size() > kMaxEventBytes - 1024) {
    throw ApiError(413, "M_TOO_LARGE", "event too large");
  }
}

std::string target_user(Ctx& c) {
  std::string user = req_string(c.body, "user_id");
  if (!is_local_user_id(c.s, user))
    throw ApiError(400, "M_INVALID_PARAM", "not a user of this server");
  return user;
}

// Power-levels content must hold integers where the spec has levels, and may not give anyone
// (or any event) more than the sender has.
void check_power_levels_change(const Ctx& c, const Json& old_pl, const Json& new_pl) {
  const std::int64_t mine = user_level(old_pl, c.user->id);
  auto check_map = [&](const char* field, bool is_users) {
    if (!new_pl.contains(field)) return;
    if (!new_pl[field].is_object())
      throw ApiError(400, "M_BAD_JSON", std::string(field) + " must be an object");
    const Json old_map = old_pl.value(field, Json::object());
    for (const auto& [k, v] : new_pl[field].items()) {
      if (!v.is_number_integer()) throw ApiError(400, "M_BAD_JSON", "levels must be integers");
      const bool had = old_map.contains(k) && old_map[k].is_number_integer();
      if (had && old_map[k] == v) continue;
      if (v.get<std::int64_t>() > mine || (had && old_map[k].get<std::int64_t>() > mine)) {
        forbidden("cannot change a level above your own");
      }
      if (is_users && k != c.user->id && had && old_map[k].get<std::int64_t>() >= mine) {
        forbidden("cannot change the level of a user at or above your own");
      }
    }
  };
  check_map("users", true);
  check_map("events", false);
  for (const char* f :
       {"ban", "kick", "redact", "invite", "events_default", "state_default", "users_default"}) {
    if (!new_pl.contains(f)) continue;
    if (!new_pl[f].is_number_integer())
      throw ApiError(400, "M_BAD_JSON", std::string(f) + " must be an integer");
    if (old_pl.contains(f) && old_pl[f] == new_pl[f]) continue;
    if (new_pl[f].get<std::int64_t>() > mine || int_or(old_pl, f, 0) > mine) {
      forbidden("cannot change a level above your own");
    }
  }
}

Json default_power_levels(const std::string& creator) {
  return {{"users", {{creator, 100}}},
          {"users_default", 0},
          {"events",
           {{"m.room.name", 50},
            {"m.room.power_levels", 100},
            {"m.room.history_visibility", 100},
            {"m.room.canonical_alias", 50},
            {"m.room.avatar", 50},
            {"m.room.tombstone", 100},
            {"m.room.server_acl", 100},
            {"m.room.encryption", 100}}},
          {"events_default", 0},
          {"state_default", 50},
          {"ban", 50},
          {"kick", 50},
          {"redact", 50},
          {"invite", 0},
          {"historical", 100}};
}

std::string local_alias(const Ctx& c, const std::string& name) {
  if (name.empty() || name.size() > 200 || name.find_first_of(":# \t\n") != std::string::npos) {
    throw ApiError(400, "M_INVALID_PARAM", "bad room_alias_name");
  }
  return "#" + name + ":" + server_name_of(c);
}

void invite_user(Ctx& c, Room& room, const std::string& target, bool is_direct) {
  const std::string m = membership(c.s, room, target);
  if (m == "join") forbidden(target + " is already in the room");
  if (m == "ban") forbidden(target + " is banned");
  if (m == "invite") return;
  Json content = member_content(c.s, target, "invite");
  if (is_direct) content["is_direct"] = true;
  append_event(c, room, "m.room.member", c.user->id, std::move(content), target);
}

Response create_room(Ctx& c) {
  rate_limit(c, Action::create_room);
  const Json& b = c.body;
  const std::string visibility = opt_string(b, "visibility").value_or("private");
  if (visibility != "private" && visibility != "public") {
    throw ApiError(400, "M_INVALID_PARAM", "visibility must be public or private");
  }
  const std::string preset =
      opt_string(b, "preset").value_or(visibility == "public" ? "public_chat" : "private_chat");
  if (preset != "private_chat" && preset != "public_chat" && preset != "trusted_private_chat") {
    throw ApiError(400, "M_INVALID_PARAM", "unknown preset");
  }
  const std::string version = opt_string(b, "room_version").value_or("10");
  if (version != "10" && version != "9" && version != "11") {
    throw ApiError(400, "M_UNSUPPORTED_ROOM_VERSION", "room versions 9, 10 and 11 only");
  }
  std::optional<std::string> alias;
  if (auto name = opt_string(b, "room_alias_name")) {
    alias = local_alias(c, *name);
    if (c.s.aliases.count(*alias)) throw ApiError(400, "M_ROOM_IN_USE", "alias already taken");
  }
  std::vector<std::string> invites;
  for (const auto& i : opt_array(b, "invite")) {
    if (!i.is_string() || !is_local_user_id(c.s, i.get<std::string>())) {
      throw ApiError(400, "M_INVALID_PARAM", "invite must list user ids of this server");
    }
    invites.push_back(i);
  }
  for (std::size_t i = 0; i < invites.size(); ++i) rate_limit(c, Action::invite);
  const bool is_direct = opt_bool(b, "is_direct").value_or(false);
  const Json& initial_state = opt_array(b, "initial_state");
  for (const auto& e : initial_state) {
    if (!e.is_object()) throw ApiError(400, "M_BAD_JSON", "initial_state entries must be objects");
    const std::string type = req_string(e, "type");
    opt_string(e, "state_key");
    opt_object(e, "content");
    if (type == "m.room.create" || type == "m.room.member") {
      throw ApiError(400, "M_INVALID_PARAM", type + " cannot be in initial_state");
    }
  }
  const Json& creation = opt_object(b, "creation_content");
  const Json& override_pl = opt_object(b, "power_level_content_override");
  const auto name = opt_string(b, "name");
  const auto topic = opt_string(b, "topic");

  const std::string room_id = "!" + random_id(18) + ":" + server_name_of(c);
  Room& room = c.s.rooms[room_id];
  room.id = room_id;
  const std::string& me = c.user->id;
  Json create = creation;
  create["creator"] = me;
  create["room_version"] = version;
  check_event_size(create);
  append_event(c, room, "m.room.create", me, create, "");
  append_event(c, room, "m.room.member", me, member_content(c.s, me, "join"), me);
  Json pl = default_power_levels(me);
  if (preset == "trusted_private_chat") {
    for (const auto& u : invites) pl["users"][u] = 100;
  }
  for (const auto& [k, v] : override_pl.items()) pl[k] = v;
  append_event(c, room, "m.room.power_levels", me, pl, "");
  if (alias) {
    append_event(c, room, "m.room.canonical_alias", me, {{"alias", *alias}}, "");
    c.s.aliases[*alias] = room_id;
    room.aliases.insert(*alias);
    c.alias_changes.emplace_back(*alias, room_id);
  }
  append_event(c, room, "m.room.join_rules", me,
               {{"join_rule", preset == "public_chat" ? "public" : "invite"}}, "");
  append_event(c, room, "m.room.history_visibility", me, {{"history_visibility", "shared"}}, "");
  if (preset != "public_chat") {
    append_event(c, room, "m.room.guest_access", me, {{"guest_access", "can_join"}}, "");
  }
  for (const auto& e : initial_state) {
    Json content = e.value("content", Json::object());
    check_event_size(content);
    append_event(c, room, e["type"], me, std::move(content), e.value("state_key", ""));
  }
  if (name) append_event(c, room, "m.room.name", me, {{"name", *name}}, "");
  if (topic) append_event(c, room, "m.room.topic", me, {{"topic", *topic}}, "");
  for (const auto& u : invites) invite_user(c, room, u, is_direct);
  return {200, {{"room_id", room_id}}};
}

std::string resolve_room(Ctx& c, const std::string& id_or_alias) {
  if (id_or_alias.starts_with("#")) {
    auto it = c.s.aliases.find(id_or_alias);
    if (it == c.s.aliases.end()) not_found("unknown room alias");
    return it->second;
  }
  if (!id_or_alias.starts_with("!"))
    throw ApiError(400, "M_INVALID_PARAM", "not a room id or alias");
  room_or_404(c, id_or_alias);
  return id_or_alias;
}

Response join_room(Ctx& c, const std::string& id_or_alias) {
  const std::string room_id = resolve_room(c, id_or_alias);
  Room& room = c.s.rooms.at(room_id);
  const std::string m = membership(c.s, room, c.user->id);
  if (m == "join") return {200, {{"room_id", room_id}}};
  if (m == "ban") forbidden("you are banned from this room");
  std::string rule = "invite";
  if (auto it = room.state.find({"m.room.join_rules", ""}); it != room.state.end()) {
    const Json& content = c.s.events.at(it->second)["content"];
    if (content.contains("join_rule") && content["join_rule"].is_string())
      rule = content["join_rule"];
  }
  if (rule != "public" && m != "invite") forbidden("you are not invited to this room");
  append_event(c, room, "m.room.member", c.user->id, member_content(c.s, c.user->id, "join"),
               c.user->id);
  c.user->forgotten_rooms.erase(room_id);
  c.touch(*c.user);
  return {200, {{"room_id", room_id}}};
}

Response join_by_id_or_alias(Ctx& c) {
  return join_room(c, c.params[0]);
}
Response join_by_id(Ctx& c) {
  return join_room(c, c.params[0]);
}

Response invite(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  require_joined(c, room);
  require_level(c, room, int_or(power_levels(c.s, room), "invite", 0), "invite");
  const std::string target = target_user(c);
  rate_limit(c, Action::invite);
  invite_user(c, room, target, false);
  return {};
}

Response leave(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  const std::string m = membership(c.s, room, c.user->id);
  if (m == "leave") return {};
  if (m != "join" && m != "invite") forbidden("you are not in this room");
  Json content = {{"membership", "leave"}};
  if (auto reason = opt_string(c.body, "reason")) content["reason"] = *reason;
  append_event(c, room, "m.room.member", c.user->id, std::move(content), c.user->id);
  return {};
}

Response kick_or_ban(Ctx& c, const char* what) {
  Room& room = room_or_404(c, c.params[0]);
  require_joined(c, room);
  const std::string target = target_user(c);
  const Json pl = power_levels(c.s, room);
  const bool ban = std::string(what) == "ban";
  require_level(c, room, int_or(pl, ban ? "ban" : "kick", 50), what);
  if (target != c.user->id && user_level(pl, target) >= user_level(pl, c.user->id)) {
    forbidden("the target's power level is not below yours");
  }
  const std::string m = membership(c.s, room, target);
  if (!ban && m != "join" && m != "invite") forbidden("the user is not in the room");
  Json content = {{"membership", ban ? "ban" : "leave"}};
  if (auto reason = opt_string(c.body, "reason")) content["reason"] = *reason;
  append_event(c, room, "m.room.member", c.user->id, std::move(content), target);
  return {};
}

Response kick(Ctx& c) {
  return kick_or_ban(c, "kick");
}
Response ban(Ctx& c) {
  return kick_or_ban(c, "ban");
}

Response unban(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  require_joined(c, room);
  const std::string target = target_user(c);
  require_level(c, room, int_or(power_levels(c.s, room), "ban", 50), "unban");
  if (membership(c.s, room, target) != "ban") forbidden("the user is not banned");
  append_event(c, room, "m.room.member", c.user->id, {{"membership", "leave"}}, target);
  return {};
}

Response forget(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  const std::string m = membership(c.s, room, c.user->id);
  if (m == "join" || m == "invite") forbidden("leave the room before forgetting it");
  c.user->forgotten_rooms.insert(room.id);
  c.touch(*c.user);
  return {};
}

Response send(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  const std::string& type = c.params[1];
  const std::string txn_key = room.id + "|" + type + "|" + c.params[2];
  if (auto it = c.device->send_txns.find(txn_key); it != c.device->send_txns.end()) {
    return {200, {{"event_id", it->second}}};  // a retry: the same event, not a second one
  }
  require_joined(c, room);
  require_level(c, room, event_level(power_levels(c.s, room), type, false), "send " + type);
  check_event_size(c.body);
  rate_limit(c, Action::send);  // first: a refused event spends the budget its ecrecovers cost
  check_broadcast_rules(c, room, type);
  const StreamPos pos = append_event(c, room, type, c.user->id, c.body, std::nullopt,
                                     {{"device", c.device->id}, {"txn_id", c.params[2]}});
  const std::string event_id = c.s.events.at(pos)["event_id"];
  c.device->send_txns[txn_key] = event_id;
  c.touch(*c.user);
  return {200, {{"event_id", event_id}}};
}

Response put_state(Ctx& c, const std::string& type, const std::string& key) {
  Room& room = room_or_404(c, c.params[0]);
  require_joined(c, room);
  if (type == "m.room.create") forbidden("m.room.create cannot change");
  if (type == "m.room.member") {
    // Only one's own profile in a room; membership changes use their endpoints.
    if (key != c.user->id || opt_string(c.body, "membership") != "join") {
      forbidden("use the membership endpoints");
    }
  }
  if (key.starts_with("@") && key != c.user->id) forbidden("state keys of other users are theirs");
  const Json pl = power_levels(c.s, room);
  require_level(c, room, event_level(pl, type, true), "set " + type);
  if (type == "m.room.power_levels") check_power_levels_change(c, pl, c.body);
  check_event_size(c.body);
  const StreamPos pos = append_event(c, room, type, c.user->id, c.body, key);
  return {200, {{"event_id", c.s.events.at(pos)["event_id"]}}};
}

Response put_state_no_key(Ctx& c) {
  return put_state(c, c.params[1], "");
}
Response put_state_key(Ctx& c) {
  return put_state(c, c.params[1], c.params[2]);
}

// The last position the caller may see in `room`: now if joined, its leave if it left.
StreamPos visible_until(const Ctx& c, const Room& room) {
  const std::string m = membership(c.s, room, c.user->id);
  if (m == "join") return c.s.durable;
  if (m == "leave" || m == "ban") {
    const StreamPos left = room.state.at({"m.room.member", c.user->id});
    if (membership_at(c.s, room, c.user->id, left - 1) == "join")
      return std::min(left, c.s.durable);
  }
  forbidden("you are not joined to this room");
}

Response get_state(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  visible_until(c, room);
  Json out = Json::array();
  for (const auto& [key, pos] : room.state) out.push_back(client_event(c.s, pos, &c));
  return {200, out};
}

Response get_state_event(Ctx& c, const std::string& type, const std::string& key) {
  Room& room = room_or_404(c, c.params[0]);
  visible_until(c, room);
  auto it = room.state.find({type, key});
  if (it == room.state.end()) not_found("no such state event");
  return {200, c.s.events.at(it->second)["content"]};
}

Response get_state_no_key(Ctx& c) {
  return get_state_event(c, c.params[1], "");
}
Response get_state_key(Ctx& c) {
  return get_state_event(c, c.params[1], c.params[2]);
}

StreamPos parse_token(const std::string& token) {
  if (token.size() < 2 || token[0] != 's' ||
      token.find_first_not_of("0123456789", 1) != std::string::npos || token.size() > 18) {
    throw ApiError(400, "M_INVALID_PARAM", "bad pagination token");
  }
  return std::stoull(token.substr(1));
}

Json parse_filter_param(const Ctx& c, const char* name) {
  auto it = c.query.find(name);
  if (it == c.query.end() || it->second.empty()) return Json::object();
  Json f = Json::parse(it->second, nullptr, false);
  if (f.is_discarded() || !f.is_object())
    throw ApiError(400, "M_NOT_JSON", "filter is not a JSON object");
  return f;
}

Response messages(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  const StreamPos upto = visible_until(c, room);
  const std::string dir = c.query.count("dir") ? c.query.at("dir") : "b";
  if (dir != "b" && dir != "f") throw ApiError(400, "M_INVALID_PARAM", "dir must be b or f");
  const auto limit = std::clamp<std::int64_t>(query_int(c.query, "limit").value_or(10), 1, 1000);
  const bool backwards = dir == "b";
  StreamPos from = backwards ? upto : 0;
  if (auto it = c.query.find("from"); it != c.query.end() && !it->second.empty()) {
    from = std::min(parse_token(it->second), upto);
  }
  const Json filter = parse_filter_param(c, "filter");
  const bool lazy = filter.value("lazy_load_members", false) == true;
  Json chunk = Json::array();
  std::set<std::string> senders;
  StreamPos last = from;
  bool more = false;
  if (backwards) {
    auto it = std::upper_bound(room.timeline.begin(), room.timeline.end(), from);
    while (it != room.timeline.begin()) {
      --it;
      if (static_cast<std::int64_t>(chunk.size()) == limit) {
        more = true;
        break;
      }
      chunk.push_back(client_event(c.s, *it, &c));
      senders.insert(c.s.events.at(*it)["sender"]);
      last = *it - 1;
    }
  } else {
    for (auto it = std::upper_bound(room.timeline.begin(), room.timeline.end(), from);
         it != room.timeline.end() && *it <= upto; ++it) {
      if (static_cast<std::int64_t>(chunk.size()) == limit) {
        more = true;
        break;
      }
      chunk.push_back(client_event(c.s, *it, &c));
      senders.insert(c.s.events.at(*it)["sender"]);
      last = *it;
    }
  }
  Json out = {{"chunk", chunk}, {"start", "s" + std::to_string(from)}};
  if (more) out["end"] = "s" + std::to_string(last);
  if (lazy) {
    Json state = Json::array();
    for (const auto& u : senders) {
      auto it = room.state.find({"m.room.member", u});
      if (it != room.state.end()) state.push_back(client_event(c.s, it->second, &c));
    }
    out["state"] = state;
  }
  return {200, out};
}

Response members(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  visible_until(c, room);
  const auto want = c.query.find("membership");
  const auto not_want = c.query.find("not_membership");
  Json chunk = Json::array();
  for (auto it = room.state.lower_bound({"m.room.member", ""});
       it != room.state.end() && it->first.first == "m.room.member"; ++it) {
    const std::string m = membership(c.s, room, it->first.second);
    if (want != c.query.end() && m != want->second) continue;
    if (not_want != c.query.end() && m == not_want->second) continue;
    chunk.push_back(client_event(c.s, it->second, &c));
  }
  return {200, {{"chunk", chunk}}};
}

Response joined_members(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  require_joined(c, room);
  Json joined = Json::object();
  for (const auto& u : members_with(c.s, room, {"join"})) {
    const Json& content = c.s.events.at(room.state.at({"m.room.member", u}))["content"];
    Json entry = Json::object();
    if (content.contains("displayname")) entry["display_name"] = content["displayname"];
    if (content.contains("avatar_url")) entry["avatar_url"] = content["avatar_url"];
    joined[u] = entry;
  }
  return {200, {{"joined", joined}}};
}

Response joined_rooms(Ctx& c) {
  Json rooms = Json::array();
  if (auto it = c.s.user_rooms.find(c.user->id); it != c.s.user_rooms.end()) {
    for (const auto& id : it->second) {
      if (membership(c.s, c.s.rooms.at(id), c.user->id) == "join") rooms.push_back(id);
    }
  }
  return {200, {{"joined_rooms", rooms}}};
}

Response get_event(Ctx& c) {
  Room& room = room_or_404(c, c.params[0]);
  const StreamPos upto = visible_until(c, room);
  auto it = c.s.event_ids.find(c.params[1]);
  if (it == c.s.event_ids.end() || it->second > upto ||
      c.s.events.at(it->second)["room_id"] != room.id) {
    not_found("no such event");
  }
  return {200, client_event(c.s, it->second, &c)};
}

Response get_alias(Ctx& c) {
  auto it = c.s.aliases.find(c.params[0]);
  if (it == c.s.aliases.end()) not_found("unknown room alias");
  const std::string& alias = it->first;
  return {200, {{"room_id", it->second}, {"servers", {alias.substr(alias.find(':') + 1)}}}};
}

Response put_alias(Ctx& c) {
  const std::string& alias = c.params[0];
  if (!alias.starts_with("#") || !alias.ends_with(":" + server_name_of(c))) {
    throw ApiError(400, "M_INVALID_PARAM", "not an alias of this server");
  }
  Room& room = room_or_404(c, req_string(c.body, "room_id"));
  require_joined(c, room);
  if (c.s.aliases.count(alias)) throw ApiError(409, "M_UNKNOWN", "alias already exists");
  c.s.aliases[alias] = room.id;
  room.aliases.insert(alias);
  c.alias_changes.emplace_back(alias, room.id);
  return {};
}

Response delete_alias(Ctx& c) {
  auto it = c.s.aliases.find(c.params[0]);
  if (it == c.s.aliases.end()) not_found("unknown room alias");
  Room& room = c.s.rooms.at(it->second);
  require_joined(c, room);
  require_level(c, room, event_level(power_levels(c.s, room), "m.room.canonical_alias", true),
                "remove aliases");
  room.aliases.erase(it->first);
  c.alias_changes.emplace_back(it->first, std::nullopt);
  c.s.aliases.erase(it);
  return {};
}

}  // namespace

std::vector<Route> room_routes() {
  return {
      {"POST", "createRoom", create_room},
      {"POST", "join/{}", join_by_id_or_alias},
      {"POST", "rooms/{}/join", join_by_id},
      {"POST", "rooms/{}/invite", invite},
      {"POST", "rooms/{}/leave", leave},
      {"POST", "rooms/{}/kick", kick},
      {"POST", "rooms/{}/ban", ban},
      {"POST", "rooms/{}/unban", unban},
      {"POST", "rooms/{}/forget", forget},
      {"PUT", "rooms/{}/send/{}/{}", send},
      {"GET", "rooms/{}/state", get_state},
      {"GET", "rooms/{}/state/{}", get_state_no_key},
      {"GET", "rooms/{}/state/{}/{}", get_state_key},
      {"PUT", "rooms/{}/state/{}", put_state_no_key},
      {"PUT", "rooms/{}/state/{}/{}", put_state_key},
      {"GET", "rooms/{}/messages", messages},
      {"GET", "rooms/{}/members", members},
      {"GET", "rooms/{}/joined_members", joined_members},
      {"GET", "joined_rooms", joined_rooms},
      {"GET", "rooms/{}/event/{}", get_event},
      {"GET", "directory/room/{}", get_alias, false},
      {"PUT", "directory/room/{}", put_alias},
      {"DELETE", "directory/room/{}", delete_alias},
  };
}

}  // namespace mrt::devserver
