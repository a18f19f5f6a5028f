#include "model.hpp"

namespace mrt::devserver {

namespace {

Json streamed_map(const std::map<std::string, StreamedJson>& m) {
  Json out = Json::object();
  for (const auto& [type, v] : m) out[type] = {{"content", v.content}, {"pos", v.pos}};
  return out;
}

std::map<std::string, StreamedJson> streamed_from(const Json& j) {
  std::map<std::string, StreamedJson> out;
  for (const auto& [type, v] : j.items())
    out[type] = {v.at("content"), v.at("pos").get<StreamPos>()};
  return out;
}

}  // namespace

Json to_json(const User& u) {
  Json devices = Json::object();
  for (const auto& [id, d] : u.devices) {
    Json inbox = Json::array();
    for (const auto& [pos, m] : d.inbox) inbox.push_back({{"pos", pos}, {"message", m}});
    devices[id] = {{"display_name", d.display_name},
                   {"access_token", d.access_token},
                   {"device_keys", d.device_keys},
                   {"one_time_keys", d.one_time_keys},
                   {"fallback_keys", d.fallback_keys},
                   {"fallback_used", d.fallback_used},
                   {"inbox", inbox},
                   {"send_txns", d.send_txns},
                   {"to_device_txns", d.to_device_txns},
                   {"last_seen_ts", d.last_seen_ts}};
  }
  Json rooms = Json::object();
  for (const auto& [room, m] : u.room_account_data) rooms[room] = streamed_map(m);
  return {{"id", u.id},
          {"displayname", u.displayname},
          {"avatar_url", u.avatar_url},
          {"presence", u.presence},
          {"status_msg", u.status_msg},
          {"presence_pos", u.presence_pos},
          {"last_active_ts", u.last_active_ts},
          {"devices", devices},
          {"account_data", streamed_map(u.account_data)},
          {"room_account_data", rooms},
          {"filters", u.filters},
          {"forgotten_rooms", u.forgotten_rooms}};
}

User user_from_json(const Json& j) {
  User u;
  u.id = j.at("id");
  u.displayname = j.at("displayname");
  u.avatar_url = j.at("avatar_url");
  u.presence = j.at("presence");
  u.status_msg = j.at("status_msg");
  u.presence_pos = j.at("presence_pos");
  u.last_active_ts = j.at("last_active_ts");
  for (const auto& [id, dj] : j.at("devices").items()) {
    Device d;
    d.id = id;
    d.display_name = dj.at("display_name");
    d.access_token = dj.at("access_token");
    d.device_keys = dj.at("device_keys");
    d.one_time_keys = dj.at("one_time_keys").get<std::map<std::string, Json>>();
    d.fallback_keys = dj.at("fallback_keys").get<std::map<std::string, Json>>();
    d.fallback_used = dj.at("fallback_used");
    for (const auto& item : dj.at("inbox")) d.inbox[item.at("pos")] = item.at("message");
    d.send_txns = dj.at("send_txns").get<std::map<std::string, std::string>>();
    d.to_device_txns = dj.at("to_device_txns").get<std::deque<std::string>>();
    d.last_seen_ts = dj.at("last_seen_ts");
    u.devices.emplace(id, std::move(d));
  }
  u.account_data = streamed_from(j.at("account_data"));
  for (const auto& [room, m] : j.at("room_account_data").items()) {
    u.room_account_data[room] = streamed_from(m);
  }
  u.filters = j.at("filters").get<std::map<std::string, Json>>();
  u.forgotten_rooms = j.at("forgotten_rooms").get<std::set<std::string>>();
  return u;
}

}  // namespace mrt::devserver
