// The devices of the users we talk to: keys/query requests for outdated users, and each
// device's classification under PROTOCOL.md §3.
#include <mrt/matrix_signing.hpp>

#include "machine_impl.hpp"

namespace mrt {
namespace {

bool is_curve25519(const std::string* key) {
  if (!key) return false;
  const auto bytes = parse_base64_unpadded(*key);
  return bytes && bytes->size() == 32;
}

}  // namespace

DeviceInfo E2eeMachine::Impl::classify_device(const json& keys, const std::string& user,
                                              const std::string& device) const {
  DeviceInfo info{user,
                  device,
                  "",
                  "",
                  DeviceTrust::invalid,
                  std::nullopt,
                  AttestationError::malformed_device_keys,
                  keys};
  const auto* user_field = json_string(keys, "user_id");
  const auto* device_field = json_string(keys, "device_id");
  const auto* key_map = json_object(keys, "keys");
  // The server files a device under a user and id: the signed object must say the same.
  if (!user_field || *user_field != user || !device_field || *device_field != device || !key_map) {
    return info;
  }
  const auto* curve = json_string(*key_map, ("curve25519:" + device).c_str());
  const auto* ed = json_string(*key_map, ("ed25519:" + device).c_str());
  if (!is_curve25519(curve) || !is_curve25519(ed)) return info;
  info.curve25519 = *curve;
  info.ed25519 = *ed;
  auto address = verify_device_attestation(keys, now());
  if (address) {
    info.trust = DeviceTrust::attested;
    info.address = *address;
    info.problem.reset();
  } else {
    // missing_attestation is only reported once the self-signature verified.
    info.trust = address.error() == AttestationError::missing_attestation
                     ? DeviceTrust::not_attested
                     : DeviceTrust::invalid;
    info.problem = address.error();
  }
  return info;
}

void E2eeMachine::Impl::mark_outdated(const std::string& user, store::Changes& changes) {
  tracked[user] = true;
  changes.put(tracked_table, user, 1);
}

void E2eeMachine::Impl::queue_keys_query() {
  if (query_request) return;
  json users = json::object();
  for (const auto& [user, outdated] : tracked) {
    if (outdated) users[user] = json::array();
  }
  if (users.empty()) return;
  querying.clear();
  for (const auto& [user, _] : users.items()) querying.insert(user);
  const std::string id = new_request_id();
  requests[id] = {
      id, RequestType::keys_query, {{"device_keys", std::move(users)}, {"timeout", 10000}}, ""};
  query_request = id;
}

void E2eeMachine::Impl::save_device(store::Changes& changes, const DeviceInfo& info) {
  changes.put(devices_table, store::join_key({info.user_id, info.device_id}), info.keys);
}

void E2eeMachine::Impl::on_keys_query(const std::string&, const json& response) {
  query_request.reset();
  store::Changes changes;
  const auto* all = json_object(response, "device_keys");
  for (const auto& user : querying) {
    const json* listed = all ? json_object(*all, user.c_str()) : nullptr;
    tracked[user] = false;
    changes.put(tracked_table, user, 0);
    // A user the server could not answer for keeps the devices we knew, until their next
    // device-list change.
    if (!listed) continue;
    auto& known = devices[user];
    std::set<std::string> present;
    for (const auto& [device, keys] : listed->items()) {
      if (user == user_id && device == device_id) continue;
      if (device.find('\0') != std::string::npos) continue;  // no such device id in Matrix
      present.insert(device);
      DeviceInfo info = classify_device(keys, user, device);
      const auto old = known.find(device);
      if (old != known.end()) {
        // A device id whose keys changed is another device under a reused name: refused.
        if (old->second.curve25519 != info.curve25519 || old->second.ed25519 != info.ed25519) {
          continue;
        }
      }
      save_device(changes, info);
      known[device] = std::move(info);
    }
    for (auto it = known.begin(); it != known.end();) {
      if (present.contains(it->first)) {
        ++it;
        continue;
      }
      changes.erase(devices_table, store::join_key({user, it->first}));
      it = known.erase(it);
    }
  }
  querying.clear();
  commit(std::move(changes));
}

const DeviceInfo* E2eeMachine::Impl::device_by_curve(const std::string& user,
                                                     const std::string& curve) const {
  const auto it = devices.find(user);
  if (it == devices.end()) return nullptr;
  for (const auto& [id, info] : it->second) {
    if (info.curve25519 == curve) return &info;
  }
  return nullptr;
}

}  // namespace mrt
