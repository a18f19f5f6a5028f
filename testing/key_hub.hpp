// `KeyHub`: the part of a homeserver that E2eeMachine requests reach (key directory,
// one-time-key claims, to-device queues), in memory, so that scenarios with several machines run
// in one process (tests/crypto/machine) and so does the intake fuzzer (fuzz/e2ee_intake_fuzz.cpp).
// Requests and responses have the Matrix client-server API's shapes; over real HTTP the machine
// is tested against vodozemac's OlmMachine (tests/interop/e2ee_vodozemac.mjs).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>

namespace mrt::testing {

using json = nlohmann::json;

class KeyHub {
 public:
  json handle(const std::string& user, const std::string& device, const OutgoingRequest& r) {
    switch (r.type) {
      case RequestType::keys_upload:
        return upload(user, device, r.body);
      case RequestType::keys_query: {
        json out = json::object();
        for (const auto& [u, _] : r.body.at("device_keys").items()) {
          out[u] = json::object();
          for (const auto& [d, keys] : device_keys[u]) out[u][d] = keys;
        }
        return {{"device_keys", out}, {"failures", json::object()}};
      }
      case RequestType::keys_claim: {
        json out = json::object();
        for (const auto& [u, per_device] : r.body.at("one_time_keys").items()) {
          for (const auto& [d, _] : per_device.items()) {
            auto& keys = otks[u][d];
            if (!keys.empty()) {
              out[u][d] = json{{keys.begin()->first, keys.begin()->second}};
              keys.erase(keys.begin());
            } else if (fallback[u].contains(d)) {
              out[u][d] = fallback[u][d];
            }
          }
        }
        return {{"one_time_keys", out}, {"failures", json::object()}};
      }
      case RequestType::to_device: {
        const std::string& type = r.event_type;
        for (const auto& [u, per_device] : r.body.at("messages").items()) {
          for (const auto& [d, content] : per_device.items()) {
            inbox[u][d].push_back({{"type", type}, {"sender", user}, {"content", content}});
          }
        }
        ++to_device_requests;
        return json::object();
      }
    }
    return json::object();
  }

  json upload(const std::string& user, const std::string& device, const json& body) {
    if (body.contains("device_keys")) device_keys[user][device] = body["device_keys"];
    if (body.contains("one_time_keys")) {
      for (const auto& [id, key] : body["one_time_keys"].items()) otks[user][device][id] = key;
    }
    if (body.contains("fallback_keys")) fallback[user][device] = body["fallback_keys"];
    return {{"one_time_key_counts", {{"signed_curve25519", otks[user][device].size()}}}};
  }

  std::map<std::string, std::map<std::string, json>> device_keys;
  std::map<std::string, std::map<std::string, std::map<std::string, json>>> otks;
  std::map<std::string, std::map<std::string, json>> fallback;
  std::map<std::string, std::map<std::string, std::vector<json>>> inbox;
  int to_device_requests = 0;
};

}  // namespace mrt::testing
