// The homeserver's data in memory: users with their devices and keys, rooms as ordered event
// streams with their current state, and one global stream position that orders everything a
// sync can report. storage.cpp persists it; the handlers change it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::devserver {

using Json = nlohmann::json;
using StreamPos = std::uint64_t;

inline constexpr std::size_t kRememberedToDeviceTxns = 1000;

struct Device {
  std::string id;
  std::string display_name;
  std::string access_token;
  Json device_keys;                           // exactly as uploaded; null until then
  std::map<std::string, Json> one_time_keys;  // "signed_curve25519:AAAA" -> key object
  std::map<std::string, Json> fallback_keys;  // "signed_curve25519:AAAB" -> key object
  bool fallback_used = false;
  std::map<StreamPos, Json> inbox;               // to-device messages, by stream position
  std::map<std::string, std::string> send_txns;  // txnId -> event id
  // The latest to-device transaction ids, newest last (a retry of one is answered as the first
  // was): at most kRememberedToDeviceTxns, as Synapse forgets them after a while, so that the
  // device's record, written at every request, stays small however much it sends.
  std::deque<std::string> to_device_txns;
  std::int64_t last_seen_ts = 0;
};

struct StreamedJson {
  Json content;
  StreamPos pos = 0;
};

struct User {
  std::string id;
  std::string displayname;  // empty: none
  std::string avatar_url;
  std::string presence = "offline";
  std::string status_msg;
  StreamPos presence_pos = 0;
  std::int64_t last_active_ts = 0;
  std::map<std::string, Device> devices;
  std::map<std::string, StreamedJson> account_data;                              // type -> content
  std::map<std::string, std::map<std::string, StreamedJson>> room_account_data;  // room -> type
  std::map<std::string, Json> filters;
  std::set<std::string> forgotten_rooms;
};

Json to_json(const User& user);
User user_from_json(const Json& j);

struct Room {
  std::string id;
  std::vector<StreamPos> timeline;                                 // every event, in order
  std::map<std::pair<std::string, std::string>, StreamPos> state;  // (type, state_key) -> event
  std::set<std::string> aliases;
  // Each user's member events in order, so that membership at a position is a binary search.
  std::map<std::string, std::vector<StreamPos>> member_history;
};

}  // namespace mrt::devserver
