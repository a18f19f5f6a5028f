// End-to-end encryption endpoints: device keys (kept byte-for-byte as uploaded, unknown fields
// such as network.raiden.attestation included), one-time and fallback keys, key queries and
// claims, device-list changes, and to-device messages.
#include <algorithm>

#include "state.hpp"

namespace mrt::devserver {

namespace {

Json otk_counts(const Device& d) {
  Json counts = {{"signed_curve25519", 0}};
  for (const auto& [id, key] : d.one_time_keys) {
    const std::string algorithm = id.substr(0, id.find(':'));
    counts[algorithm] = counts.value(algorithm, 0) + 1;
  }
  return counts;
}

void check_key_map(const Json& keys, const char* field) {
  for (const auto& [id, key] : keys.items()) {
    if (id.find(':') == std::string::npos || id.size() > 255) {
      throw ApiError(400, "M_INVALID_PARAM", std::string(field) + ": key ids are <algorithm>:<id>");
    }
    if (!key.is_string() && !key.is_object()) {
      throw ApiError(400, "M_BAD_JSON", std::string(field) + ": a key is a string or an object");
    }
  }
}

Response upload(Ctx& c) {
  const Json& device_keys = opt_object(c.body, "device_keys");
  const Json& otks = opt_object(c.body, "one_time_keys");
  Json fallback = opt_object(c.body, "fallback_keys");
  if (fallback.empty()) fallback = opt_object(c.body, "org.matrix.msc2732.fallback_keys");
  check_key_map(otks, "one_time_keys");
  check_key_map(fallback, "fallback_keys");
  if (!device_keys.empty()) {
    if (opt_string(device_keys, "user_id") != c.user->id ||
        opt_string(device_keys, "device_id") != c.device->id) {
      throw ApiError(400, "M_INVALID_PARAM", "device_keys must be for this user and device");
    }
    opt_array(device_keys, "algorithms");
    opt_object(device_keys, "keys");
    opt_object(device_keys, "signatures");
  }
  for (const auto& [id, key] : otks.items()) {
    auto it = c.device->one_time_keys.find(id);
    if (it != c.device->one_time_keys.end() && it->second != key) {
      throw ApiError(400, "M_INVALID_PARAM",
                     "one-time key " + id + " already uploaded with another value");
    }
  }
  if (!device_keys.empty() && device_keys != c.device->device_keys) {
    c.device->device_keys = device_keys;
    record_device_change(c, c.user->id);
  }
  for (const auto& [id, key] : otks.items()) c.device->one_time_keys[id] = key;
  if (!fallback.empty()) {
    c.device->fallback_keys = fallback.get<std::map<std::string, Json>>();
    c.device->fallback_used = false;
  }
  c.touch(*c.user);
  return {200, {{"one_time_key_counts", otk_counts(*c.device)}}};
}

Response query(Ctx& c) {
  const Json& wanted = opt_object(c.body, "device_keys");
  Json result = Json::object(), failures = Json::object();
  for (const auto& [user_id, devices] : wanted.items()) {
    if (!devices.is_array()) throw ApiError(400, "M_BAD_JSON", "device_keys values are lists");
    Json mine = Json::object();
    auto it = c.s.users.find(user_id);
    if (it != c.s.users.end()) {
      for (const auto& [id, d] : it->second.devices) {
        if (d.device_keys.is_null() || d.device_keys.empty()) continue;
        const bool asked =
            devices.empty() || std::find(devices.begin(), devices.end(), Json(id)) != devices.end();
        if (!asked) continue;
        Json keys = d.device_keys;
        if (!d.display_name.empty()) keys["unsigned"]["device_display_name"] = d.display_name;
        mine[id] = std::move(keys);
      }
    }
    result[user_id] = std::move(mine);
  }
  return {200,
          {{"device_keys", result},
           {"failures", failures},
           {"master_keys", Json::object()},
           {"self_signing_keys", Json::object()},
           {"user_signing_keys", Json::object()}}};
}

Response claim(Ctx& c) {
  const Json& wanted = opt_object(c.body, "one_time_keys");
  Json result = Json::object();
  for (const auto& [user_id, devices] : wanted.items()) {
    if (!devices.is_object()) throw ApiError(400, "M_BAD_JSON", "one_time_keys values are objects");
    for (const auto& [device_id, algorithm] : devices.items()) {
      if (!algorithm.is_string()) throw ApiError(400, "M_BAD_JSON", "algorithms are strings");
    }
  }
  for (const auto& [user_id, devices] : wanted.items()) {
    auto u = c.s.users.find(user_id);
    if (u == c.s.users.end()) continue;
    for (const auto& [device_id, algorithm] : devices.items()) {
      auto d = u->second.devices.find(device_id);
      if (d == u->second.devices.end()) continue;
      Device& dev = d->second;
      const std::string prefix = algorithm.get<std::string>() + ":";
      auto otk = dev.one_time_keys.lower_bound(prefix);
      if (otk != dev.one_time_keys.end() && otk->first.starts_with(prefix)) {
        result[user_id][device_id][otk->first] = otk->second;
        dev.one_time_keys.erase(otk);
        c.touch(u->second);
        continue;
      }
      // No one-time key left: the fallback key, used as often as needed until replaced.
      auto fb = dev.fallback_keys.lower_bound(prefix);
      if (fb != dev.fallback_keys.end() && fb->first.starts_with(prefix)) {
        result[user_id][device_id][fb->first] = fb->second;
        if (!dev.fallback_used) {
          dev.fallback_used = true;
          c.touch(u->second);
        }
      }
    }
  }
  return {200, {{"one_time_keys", result}, {"failures", Json::object()}}};
}

Response changes(Ctx& c) {
  auto parse = [&](const char* name) -> StreamPos {
    auto it = c.query.find(name);
    if (it == c.query.end())
      throw ApiError(400, "M_MISSING_PARAM", std::string(name) + " is required");
    const std::string& t = it->second;
    if (t.size() < 2 || t.size() > 18 || t[0] != 's' ||
        t.find_first_not_of("0123456789", 1) != std::string::npos) {
      throw ApiError(400, "M_INVALID_PARAM", std::string("bad ") + name + " token");
    }
    return std::stoull(t.substr(1));
  };
  const StreamPos from = parse("from"), to = std::min(parse("to"), c.s.durable);
  std::set<std::string> changed, left;
  for (const auto& [pos, user] : c.s.device_changes) {
    if (pos > from && pos <= to && (user == c.user->id || share_room(c.s, c.user->id, user))) {
      changed.insert(user);
    }
  }
  // Users who left a shared room in the range and share none now.
  if (auto it = c.s.user_rooms.find(c.user->id); it != c.s.user_rooms.end()) {
    for (const auto& room_id : it->second) {
      const Room& room = c.s.rooms.at(room_id);
      for (auto p = std::upper_bound(room.timeline.begin(), room.timeline.end(), from);
           p != room.timeline.end() && *p <= to; ++p) {
        const Json& e = c.s.events.at(*p);
        if (e["type"] != "m.room.member") continue;
        const std::string target = e.value("state_key", "");
        const std::string m = e["content"].value("membership", "");
        if (m == "join" && target != c.user->id) changed.insert(target);
        if ((m == "leave" || m == "ban") && target != c.user->id &&
            !share_room(c.s, c.user->id, target)) {
          left.insert(target);
        }
      }
    }
  }
  return {200, {{"changed", changed}, {"left", left}}};
}

Response send_to_device(Ctx& c) {
  const std::string& type = c.params[0];
  const std::string txn_key = type + "|" + c.params[1];
  auto& txns = c.device->to_device_txns;
  if (std::find(txns.begin(), txns.end(), txn_key) != txns.end()) return {};  // a retry
  const Json& messages = opt_object(c.body, "messages");
  for (const auto& [user_id, devices] : messages.items()) {
    if (!devices.is_object()) throw ApiError(400, "M_BAD_JSON", "messages values are objects");
    for (const auto& [device_id, content] : devices.items()) {
      if (!content.is_object()) throw ApiError(400, "M_BAD_JSON", "message contents are objects");
    }
  }
  rate_limit(c, Action::to_device);
  for (const auto& [user_id, devices] : messages.items()) {
    auto u = c.s.users.find(user_id);
    if (u == c.s.users.end()) continue;
    for (const auto& [device_id, content] : devices.items()) {
      for (auto& [id, d] : u->second.devices) {
        if (device_id != "*" && device_id != id) continue;
        d.inbox[c.next_pos()] = {{"type", type}, {"sender", c.user->id}, {"content", content}};
      }
    }
    c.touch(u->second);
    c.wake.insert(user_id);
  }
  txns.push_back(txn_key);
  if (txns.size() > kRememberedToDeviceTxns) txns.pop_front();
  c.touch(*c.user);
  return {};
}

Response room_keys_version(Ctx&) {
  throw ApiError(404, "M_NOT_FOUND", "no key backup on the dev homeserver");
}

}  // namespace

std::vector<Route> key_routes() {
  return {
      {"POST", "keys/upload", upload},
      {"POST", "keys/query", query},
      {"POST", "keys/claim", claim},
      {"GET", "keys/changes", changes},
      {"PUT", "sendToDevice/{}/{}", send_to_device},
      {"GET", "room_keys/version", room_keys_version},
  };
}

}  // namespace mrt::devserver
