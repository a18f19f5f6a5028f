// Internal to the homeserver: its whole state, the per-request context handlers work in, and
// the helpers handler files share. Not included by the HTTP layer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api.hpp"
#include "homeserver.hpp"
#include "json_body.hpp"
#include "model.hpp"
#include "rate_limit.hpp"
#include "storage.hpp"

namespace mrt::devserver {

struct State {
  State(Config c, Storage st)
      : config(std::move(c)), storage(std::move(st)), limiter(config.rate_limits) {}
  Config config;
  Storage storage;
  RateLimiter limiter;
  std::map<std::string, User> users;
  std::map<std::string, std::pair<std::string, std::string>> tokens;  // token -> (user, device)
  std::map<StreamPos, Json> events;
  std::map<std::string, StreamPos> event_ids;
  std::map<std::string, Room> rooms;
  std::map<std::string, std::set<std::string>> user_rooms;  // rooms with a member event for user
  std::map<std::string, std::string> aliases;               // "#a:server" -> room id
  std::vector<std::pair<StreamPos, std::string>> device_changes;
  std::map<std::string, Json> uia_sessions;  // session id -> what it was for
  StreamPos last_presence = 0;  // newest presence change: idle syncs skip the presence scan
  StreamPos position = 0;       // last assigned
  StreamPos durable = 0;        // last known durable
};

struct Ctx {
  State& s;
  const Request& req;
  std::vector<std::string> params;  // the path's {} segments, decoded
  Query query;
  Json body;
  User* user = nullptr;
  Device* device = nullptr;

  // What the request changed, persisted in one Changes set.
  std::set<std::string> dirty_users;
  std::vector<StreamPos> new_events;
  std::vector<std::pair<std::string, std::optional<std::string>>> alias_changes;
  std::vector<StreamPos> new_device_changes;
  std::set<std::string> wake;
  bool answer_after_commit = true;

  StreamPos next_pos() { return ++s.position; }
  void touch(const User& u) { dirty_users.insert(u.id); }
};

using Handler = std::function<Response(Ctx&)>;

// --- helpers shared by the handler files (util.cpp, rooms.cpp) ---
std::string random_id(std::size_t length);
std::int64_t now_ms();
[[noreturn]] void forbidden(const std::string& why);
[[noreturn]] void not_found(const std::string& why);
void rate_limit(Ctx& c, Action action);
// A user id of this server (of any name it serves): "@local:server_name".
bool is_local_user_id(const State& s, const std::string& user_id);
// The server name the request addressed: its Host when this state serves that name
// (Config::also_serves), else the configured one.
const std::string& server_name_of(const Ctx& c);
// The user named in the path must be the caller.
void require_self(Ctx& c, const std::string& user_id);

// Rooms.
Room& room_or_404(Ctx& c, const std::string& room_id);
std::string membership(const State& s, const Room& room, const std::string& user);
std::string membership_at(const State& s, const Room& room, const std::string& user, StreamPos pos);
std::vector<std::string> members_with(const State& s, const Room& room,
                                      std::initializer_list<const char*> memberships);
bool share_room(const State& s, const std::string& a, const std::string& b);
std::set<std::string> room_peers(const State& s, const std::string& user);
// The event as a client sees it (internal fields removed, transaction_id for its sender).
Json client_event(const State& s, StreamPos pos, const Ctx* viewer);
Json stripped_state(const State& s, const Room& room, const std::string& invitee);
void apply_event(State& s, StreamPos pos, Json event);
StreamPos append_event(Ctx& c, Room& room, const std::string& type, const std::string& sender,
                       Json content, std::optional<std::string> state_key, Json txn = nullptr);
void record_device_change(Ctx& c, const std::string& user);
// Config::broadcast_rules: throws 403 when a `type` event with the request's body may not join
// `room` (broadcast_rules.cpp).
void check_broadcast_rules(const Ctx& c, const Room& room, const std::string& type);

// Ethereum login (PROTOCOL.md section 2): the user id that `password` proves, or ApiError.
std::string ethereum_login_user(const Ctx& c, const Json& login_body);

// Handler tables, one per file.
struct Route {
  const char* method;
  const char* pattern;  // after /_matrix/client/<version>; "{}" matches one segment
  Handler handler;
  bool needs_auth = true;
};
std::vector<Route> auth_routes();
std::vector<Route> room_routes();
std::vector<Route> key_routes();
std::vector<Route> profile_routes();
std::vector<Route> server_info_routes();

// Sync (sync.cpp): the response, or nullopt when there is nothing to report.
std::optional<Response> compute_sync(Ctx& c, bool last_try);

}  // namespace mrt::devserver
