// Login (Ethereum auth provider), registration, logout, whoami and the device endpoints.
#include <mrt/matrix_identity.hpp>

#include "state.hpp"

namespace mrt::devserver {

namespace {

User& user_or_create(Ctx& c, const std::string& user_id) {
  auto [it, fresh] = c.s.users.try_emplace(user_id);
  if (fresh) it->second.id = user_id;
  c.touch(it->second);
  return it->second;
}

// Logs `user` in on `device_id` (new or existing: an existing device keeps its keys and gets a
// new token, the old one stops working).
Response log_in(Ctx& c, User& user, std::optional<std::string> device_id,
                const std::optional<std::string>& display_name) {
  if (device_id && (device_id->empty() || device_id->size() > 255)) {
    throw ApiError(400, "M_INVALID_PARAM", "bad device_id");
  }
  const std::string id = device_id.value_or(random_id(10));
  auto [it, fresh] = user.devices.try_emplace(id);
  Device& d = it->second;
  d.id = id;
  if (!d.access_token.empty()) c.s.tokens.erase(d.access_token);
  if (display_name) d.display_name = *display_name;
  d.access_token = "mrt_" + random_id(40);
  d.last_seen_ts = now_ms();
  c.s.tokens[d.access_token] = {user.id, id};
  c.touch(user);
  if (fresh) record_device_change(c, user.id);
  return {200,
          {{"user_id", user.id},
           {"access_token", d.access_token},
           {"device_id", id},
           {"home_server", server_name_of(c)}}};
}

void delete_device(Ctx& c, User& user, const std::string& device_id) {
  auto it = user.devices.find(device_id);
  if (it == user.devices.end()) return;
  c.s.tokens.erase(it->second.access_token);
  user.devices.erase(it);
  c.touch(user);
  record_device_change(c, user.id);
}

// User-interactive auth for device deletion: the Ethereum password of the caller (or, for a
// user registered with m.login.dummy, the dummy stage).
void require_uia(Ctx& c) {
  const bool ethereum = address_of_user_id(c.user->id).ok();
  const std::string stage = ethereum ? "m.login.password" : "m.login.dummy";
  const Json& auth = opt_object(c.body, "auth");
  if (auth.empty()) {
    const std::string session = random_id(16);
    throw ApiError(
        401, "M_FORBIDDEN", "authentication required",
        {{"flows", {{{"stages", {stage}}}}}, {"params", Json::object()}, {"session", session}});
  }
  const std::string type = req_string(auth, "type");
  if (type != stage) throw ApiError(401, "M_FORBIDDEN", "use " + stage);
  if (ethereum && ethereum_login_user(c, auth) != c.user->id) {
    forbidden("the password proves another user");
  }
}

Json device_json(const Device& d) {
  Json j = {{"device_id", d.id}, {"last_seen_ts", d.last_seen_ts}};
  if (!d.display_name.empty()) j["display_name"] = d.display_name;
  return j;
}

Response login_flows(Ctx&) {
  return {200, {{"flows", {{{"type", "m.login.password"}}}}}};
}

Response login(Ctx& c) {
  const std::string type = req_string(c.body, "type");
  if (type != "m.login.password") throw ApiError(400, "M_UNKNOWN", "unsupported login type");
  // Rate limit by the claimed user (the caller has no account yet).
  std::string claimed = "?";
  if (auto u = opt_string(opt_object(c.body, "identifier"), "user")) claimed = *u;
  if (auto it = c.s.limiter.take("login:" + claimed, Action::login)) {
    throw ApiError(429, "M_LIMIT_EXCEEDED", "too many logins", {{"retry_after_ms", *it}});
  }
  const std::string user_id = ethereum_login_user(c, c.body);
  User& user = user_or_create(c, user_id);
  return log_in(c, user, opt_string(c.body, "device_id"),
                opt_string(c.body, "initial_device_display_name"));
}

Response register_user(Ctx& c) {
  if (!c.s.config.open_registration) {
    forbidden(
        "registration is closed: log in with an Ethereum key (or start with "
        "--open-registration)");
  }
  if (c.query.count("kind") && c.query.at("kind") != "user") {
    throw ApiError(403, "M_GUEST_ACCESS_FORBIDDEN", "guest access is not supported");
  }
  const Json& auth = opt_object(c.body, "auth");
  if (auth.empty() || opt_string(auth, "type") != "m.login.dummy") {
    throw ApiError(401, "M_FORBIDDEN", "authentication required",
                   {{"flows", {{{"stages", {"m.login.dummy"}}}}},
                    {"params", Json::object()},
                    {"session", random_id(16)}});
  }
  std::string localpart = opt_string(c.body, "username").value_or("u" + random_id(12));
  for (char& ch : localpart) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (localpart.empty() || localpart.size() > 200 ||
      localpart.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._=-/") !=
          std::string::npos) {
    throw ApiError(400, "M_INVALID_USERNAME", "bad username");
  }
  if (localpart.starts_with("0x")) {
    throw ApiError(400, "M_INVALID_USERNAME",
                   "0x localparts belong to Ethereum addresses: log in with the key instead");
  }
  const std::string user_id = "@" + localpart + ":" + server_name_of(c);
  if (c.s.users.count(user_id)) throw ApiError(400, "M_USER_IN_USE", "user id taken");
  User& user = user_or_create(c, user_id);
  if (opt_bool(c.body, "inhibit_login").value_or(false)) return {200, {{"user_id", user_id}}};
  return log_in(c, user, opt_string(c.body, "device_id"),
                opt_string(c.body, "initial_device_display_name"));
}

Response register_available(Ctx& c) {
  const auto it = c.query.find("username");
  if (it == c.query.end()) throw ApiError(400, "M_MISSING_PARAM", "username is required");
  if (c.s.users.count("@" + it->second + ":" + server_name_of(c))) {
    throw ApiError(400, "M_USER_IN_USE", "user id taken");
  }
  return {200, {{"available", true}}};
}

Response logout(Ctx& c) {
  delete_device(c, *c.user, c.device->id);
  return {};
}

Response logout_all(Ctx& c) {
  std::vector<std::string> ids;
  for (const auto& [id, d] : c.user->devices) ids.push_back(id);
  for (const auto& id : ids) delete_device(c, *c.user, id);
  return {};
}

Response whoami(Ctx& c) {
  return {200, {{"user_id", c.user->id}, {"device_id", c.device->id}, {"is_guest", false}}};
}

Response list_devices(Ctx& c) {
  Json list = Json::array();
  for (const auto& [id, d] : c.user->devices) list.push_back(device_json(d));
  return {200, {{"devices", list}}};
}

Response get_device(Ctx& c) {
  auto it = c.user->devices.find(c.params[0]);
  if (it == c.user->devices.end()) not_found("no such device");
  return {200, device_json(it->second)};
}

Response put_device(Ctx& c) {
  auto it = c.user->devices.find(c.params[0]);
  if (it == c.user->devices.end()) not_found("no such device");
  if (auto name = opt_string(c.body, "display_name")) {
    it->second.display_name = *name;
    c.touch(*c.user);
    record_device_change(c, c.user->id);
  }
  return {};
}

Response delete_one_device(Ctx& c) {
  if (!c.user->devices.count(c.params[0])) not_found("no such device");
  require_uia(c);
  delete_device(c, *c.user, c.params[0]);
  return {};
}

Response delete_devices(Ctx& c) {
  const Json& ids = opt_array(c.body, "devices");
  for (const auto& id : ids) {
    if (!id.is_string()) throw ApiError(400, "M_BAD_JSON", "'devices' must hold strings");
  }
  require_uia(c);
  for (const auto& id : ids) delete_device(c, *c.user, id.get<std::string>());
  return {};
}

}  // namespace

std::vector<Route> auth_routes() {
  return {
      {"GET", "login", login_flows, false},
      {"POST", "login", login, false},
      {"POST", "register", register_user, false},
      {"GET", "register/available", register_available, false},
      {"POST", "logout", logout},
      {"POST", "logout/all", logout_all},
      {"GET", "account/whoami", whoami},
      {"GET", "devices", list_devices},
      {"GET", "devices/{}", get_device},
      {"PUT", "devices/{}", put_device},
      {"DELETE", "devices/{}", delete_one_device},
      {"POST", "delete_devices", delete_devices},
  };
}

}  // namespace mrt::devserver
