// Profiles, presence, account data and the user directory (over all users: Raiden finds peers
// by address).
#include <algorithm>
#include <cctype>

#include "state.hpp"

namespace mrt::devserver {

namespace {

User& known_user(Ctx& c, const std::string& user_id) {
  auto it = c.s.users.find(user_id);
  if (it == c.s.users.end()) not_found("unknown user");
  return it->second;
}

Response get_profile(Ctx& c) {
  const User& u = known_user(c, c.params[0]);
  Json out = Json::object();
  if (!u.displayname.empty()) out["displayname"] = u.displayname;
  if (!u.avatar_url.empty()) out["avatar_url"] = u.avatar_url;
  return {200, out};
}

Response get_profile_field(Ctx& c, const char* field) {
  const User& u = known_user(c, c.params[0]);
  const std::string& v = std::string(field) == "displayname" ? u.displayname : u.avatar_url;
  if (v.empty()) not_found(std::string("no ") + field);
  return {200, {{field, v}}};
}

// The new profile is also announced in every joined room, as a new member event.
Response put_profile_field(Ctx& c, const char* field) {
  require_self(c, c.params[0]);
  const std::string value = opt_string(c.body, field).value_or("");
  if (value.size() > 1024) throw ApiError(400, "M_TOO_LARGE", std::string(field) + " too long");
  (std::string(field) == "displayname" ? c.user->displayname : c.user->avatar_url) = value;
  c.touch(*c.user);
  if (auto it = c.s.user_rooms.find(c.user->id); it != c.s.user_rooms.end()) {
    for (const auto& room_id : it->second) {
      Room& room = c.s.rooms.at(room_id);
      if (membership(c.s, room, c.user->id) != "join") continue;
      Json content = c.s.events.at(room.state.at({"m.room.member", c.user->id}))["content"];
      if (value.empty())
        content.erase(field);
      else
        content[field] = value;
      append_event(c, room, "m.room.member", c.user->id, std::move(content), c.user->id);
    }
  }
  return {};
}

Response get_presence(Ctx& c) {
  const User& u = known_user(c, c.params[0]);
  Json out = {{"presence", u.presence},
              {"last_active_ago", std::max<std::int64_t>(0, now_ms() - u.last_active_ts)},
              {"currently_active", u.presence == "online"}};
  if (!u.status_msg.empty()) out["status_msg"] = u.status_msg;
  return {200, out};
}

Response put_presence(Ctx& c) {
  require_self(c, c.params[0]);
  const std::string presence = req_string(c.body, "presence");
  if (presence != "online" && presence != "offline" && presence != "unavailable") {
    throw ApiError(400, "M_INVALID_PARAM", "presence is online, offline or unavailable");
  }
  c.user->presence = presence;
  c.user->status_msg = opt_string(c.body, "status_msg").value_or("");
  c.user->last_active_ts = now_ms();
  c.user->presence_pos = c.next_pos();
  c.s.last_presence = c.user->presence_pos;
  c.touch(*c.user);
  c.wake.insert(c.user->id);
  for (const auto& peer : room_peers(c.s, c.user->id)) c.wake.insert(peer);
  return {};
}

Response get_account_data(Ctx& c) {
  require_self(c, c.params[0]);
  auto it = c.user->account_data.find(c.params[1]);
  if (it == c.user->account_data.end()) not_found("no account data of this type");
  return {200, it->second.content};
}

Response put_account_data(Ctx& c) {
  require_self(c, c.params[0]);
  c.user->account_data[c.params[1]] = {c.body, c.next_pos()};
  c.touch(*c.user);
  c.wake.insert(c.user->id);
  return {};
}

Response get_room_account_data(Ctx& c) {
  require_self(c, c.params[0]);
  auto room = c.user->room_account_data.find(c.params[1]);
  if (room == c.user->room_account_data.end()) not_found("no account data of this type");
  auto it = room->second.find(c.params[2]);
  if (it == room->second.end()) not_found("no account data of this type");
  return {200, it->second.content};
}

Response put_room_account_data(Ctx& c) {
  require_self(c, c.params[0]);
  room_or_404(c, c.params[1]);
  c.user->room_account_data[c.params[1]][c.params[2]] = {c.body, c.next_pos()};
  c.touch(*c.user);
  c.wake.insert(c.user->id);
  return {};
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

Response search_users(Ctx& c) {
  const std::string term = lower(req_string(c.body, "search_term"));
  const auto limit = std::clamp<std::int64_t>(opt_int(c.body, "limit").value_or(10), 1, 1000);
  Json results = Json::array();
  bool limited = false;
  for (const auto& [id, u] : c.s.users) {
    if (lower(id).find(term) == std::string::npos &&
        lower(u.displayname).find(term) == std::string::npos) {
      continue;
    }
    if (static_cast<std::int64_t>(results.size()) == limit) {
      limited = true;
      break;
    }
    Json entry = {{"user_id", id}};
    if (!u.displayname.empty()) entry["display_name"] = u.displayname;
    if (!u.avatar_url.empty()) entry["avatar_url"] = u.avatar_url;
    results.push_back(std::move(entry));
  }
  return {200, {{"results", results}, {"limited", limited}}};
}

}  // namespace

std::vector<Route> profile_routes() {
  return {
      {"GET", "profile/{}", get_profile, false},
      {"GET", "profile/{}/displayname", [](Ctx& c) { return get_profile_field(c, "displayname"); },
       false},
      {"GET", "profile/{}/avatar_url", [](Ctx& c) { return get_profile_field(c, "avatar_url"); },
       false},
      {"PUT", "profile/{}/displayname", [](Ctx& c) { return put_profile_field(c, "displayname"); }},
      {"PUT", "profile/{}/avatar_url", [](Ctx& c) { return put_profile_field(c, "avatar_url"); }},
      {"GET", "presence/{}/status", get_presence},
      {"PUT", "presence/{}/status", put_presence},
      {"GET", "user/{}/account_data/{}", get_account_data},
      {"PUT", "user/{}/account_data/{}", put_account_data},
      {"GET", "user/{}/rooms/{}/account_data/{}", get_room_account_data},
      {"PUT", "user/{}/rooms/{}/account_data/{}", put_room_account_data},
      {"POST", "user_directory/search", search_users},
  };
}

}  // namespace mrt::devserver
