// mrt's side of the vodozemac interop test (tests/interop/e2ee_vodozemac.mjs): one E2eeMachine
// driven over JSON lines. Each line on stdin is one request object {"cmd": ..., ...}; each
// answer is one line on stdout, a result object or {"error": "..."} for a request the peer
// cannot carry out (bad JSON, unknown command, wrong argument types). Results the machine
// reports as values (a room event that does not decrypt, a key that was not shared) come back
// as {"reason": "..."}, because they are what the test checks, not failures of the peer.
//
//   {"cmd": "open", "dir": "/tmp/x", "key": "0x…", "user_id": "@0x…:hs.test", "device_id": "D"}
//   {"cmd": "outgoing_requests"}
//   {"cmd": "mark_request_as_sent", "id": "…", "response": {…}}
//   {"cmd": "receive_sync_changes", "to_device": […], "changed": […], "left": […],
//    "otk_counts": {"signed_curve25519": 50}, "unused_fallback": ["signed_curve25519"]}
//   {"cmd": "update_tracked_users", "users": […]}     {"cmd": "devices_of", "user": "…"}
//   {"cmd": "share_room_key", "room": "!r:hs", "members": […]}
//   {"cmd": "set_room_encryption", "room": "…", "content": {m.room.encryption content}}
//   {"cmd": "encrypt_room_event", "room": "…", "type": "…", "content": {…}}
//   {"cmd": "decrypt_room_event", "event": {…}}
//   {"cmd": "encrypt_to_device", "user": "…", "type": "…", "content": {…}}
//   {"cmd": "device_keys"}   {"cmd": "restart"}   {"cmd": "close"}
//   {"cmd": "snapshot"}   {"cmd": "restore"}      (a copy of the store beside it, and back)
//
// The Ethereum key arrives on stdin, not in argv, so that it never shows in a process list.
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>
#include <mrt/owner_store_key.hpp>
#include <mrt/store/env.hpp>

#include "matrix_client.hpp"

namespace {

using json = nlohmann::json;

// A request the peer cannot carry out; its message goes back as {"error": message}.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& member(const json& request, const char* name) {
  const auto it = request.find(name);
  if (it == request.end()) throw BadRequest(std::string("missing \"") + name + "\"");
  return *it;
}

std::string string_member(const json& request, const char* name) {
  const json& value = member(request, name);
  if (!value.is_string()) throw BadRequest(std::string("\"") + name + "\" must be a string");
  return value.get<std::string>();
}

const json& object_member(const json& request, const char* name) {
  const json& value = member(request, name);
  if (!value.is_object()) throw BadRequest(std::string("\"") + name + "\" must be an object");
  return value;
}

std::vector<std::string> strings_member(const json& request, const char* name) {
  std::vector<std::string> out;
  const auto it = request.find(name);
  if (it == request.end() || it->is_null()) return out;
  if (!it->is_array()) throw BadRequest(std::string("\"") + name + "\" must be an array");
  for (const auto& item : *it) {
    if (!item.is_string()) throw BadRequest(std::string("\"") + name + "\" must hold strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

json address_json(const std::optional<mrt::Address>& address) {
  return address ? json(address->to_hex()) : json(nullptr);
}

json devices_json(const std::vector<mrt::DeviceRef>& refs) {
  json out = json::array();
  for (const auto& ref : refs)
    out.push_back({{"user_id", ref.user_id}, {"device_id", ref.device_id}});
  return out;
}

json share_json(const mrt::ShareOutcome& outcome) {
  return {{"users_pending_query", outcome.users_pending_query},
          {"devices_pending_session", devices_json(outcome.devices_pending_session)},
          {"sent", devices_json(outcome.sent)},
          {"withheld", devices_json(outcome.withheld)},
          {"rotated", outcome.rotated},
          {"complete", outcome.complete()}};
}

// The machine and what it borrows, destroyed in reverse order of creation.
class Peer {
 public:
  json handle(const json& request) {
    const std::string cmd = string_member(request, "cmd");
    if (cmd == "open") return open(request);
    if (cmd == "close") {
      close();
      return json::object();
    }
    if (!machine_) throw BadRequest("no machine: send \"open\" first");
    mrt::E2eeMachine& m = *machine_;
    if (cmd == "restart") {
      // The same device from its store, as after a process restart.
      close();
      reopen();
      return identity();
    }
    if (cmd == "snapshot" || cmd == "restore") {
      // A copy of the store, and going back to it: a node restored from a backup, whose Olm
      // sessions are behind its peers'.
      const std::filesystem::path copy = dir_ + ".snapshot";
      close();
      if (cmd == "snapshot") {
        std::filesystem::remove_all(copy);
        std::filesystem::copy(dir_, copy, std::filesystem::copy_options::recursive);
      } else {
        if (!std::filesystem::exists(copy)) {
          reopen();
          throw BadRequest("no snapshot to restore");
        }
        std::filesystem::remove_all(dir_);
        std::filesystem::copy(copy, dir_, std::filesystem::copy_options::recursive);
      }
      reopen();
      return identity();
    }
    if (cmd == "device_keys") return {{"device_keys", m.device_keys()}};
    if (cmd == "outgoing_requests") {
      json out = json::array();
      for (const auto& r : m.outgoing_requests()) {
        const auto call = mrt::transport::calls::machine_request(r);
        out.push_back({{"id", r.id},
                       {"type", std::string(mrt::to_string(r.type))},
                       {"method", call.method},
                       {"path", call.path},
                       {"body", r.body}});
      }
      return {{"requests", out}};
    }
    if (cmd == "mark_request_as_sent") {
      m.mark_request_as_sent(string_member(request, "id"), object_member(request, "response"));
      return json::object();
    }
    if (cmd == "receive_sync_changes") return receive_sync_changes(m, request);
    if (cmd == "update_tracked_users") {
      m.update_tracked_users(strings_member(request, "users"));
      return json::object();
    }
    if (cmd == "devices_of") {
      json out = json::array();
      for (const auto& d : m.devices_of(string_member(request, "user"))) {
        out.push_back({{"user_id", d.user_id},
                       {"device_id", d.device_id},
                       {"curve25519", d.curve25519},
                       {"ed25519", d.ed25519},
                       {"trust", std::string(mrt::to_string(d.trust))},
                       {"address", address_json(d.address)},
                       {"problem", d.problem ? json(std::string(mrt::to_string(*d.problem)))
                                             : json(nullptr)}});
      }
      return {{"devices", out}};
    }
    if (cmd == "set_room_encryption") {
      m.set_room_encryption(string_member(request, "room"), object_member(request, "content"));
      return json::object();
    }
    if (cmd == "share_room_key") {
      return share_json(
          m.share_room_key(string_member(request, "room"), strings_member(request, "members")));
    }
    if (cmd == "encrypt_room_event") {
      auto content =
          m.encrypt_room_event(string_member(request, "room"), string_member(request, "type"),
                               object_member(request, "content"));
      if (!content) return {{"reason", std::string(mrt::to_string(content.error()))}};
      return {{"content", *content}};
    }
    if (cmd == "decrypt_room_event") {
      auto event = m.decrypt_room_event(member(request, "event"));
      if (!event) return {{"reason", std::string(mrt::to_string(event.error()))}};
      return {{"type", event->type},
              {"content", event->content},
              {"sender", event->sender},
              {"sender_device", event->sender_device},
              {"sender_curve25519", event->sender_curve25519},
              {"trust", std::string(mrt::to_string(event->trust))},
              {"address", address_json(event->address)},
              {"session_id", event->session_id},
              {"message_index", event->message_index}};
    }
    if (cmd == "encrypt_to_device") {
      return share_json(m.encrypt_to_device(string_member(request, "user"),
                                            string_member(request, "type"),
                                            object_member(request, "content")));
    }
    throw BadRequest("unknown command \"" + cmd + "\"");
  }

 private:
  json open(const json& request) {
    if (machine_) throw BadRequest("already open");
    auto key = mrt::PrivateKey::from_hex(string_member(request, "key"));
    if (!key) throw BadRequest("\"key\" is not a private key");
    key_.emplace(std::move(*key));
    dir_ = string_member(request, "dir");
    user_id_ = string_member(request, "user_id");
    device_id_ = string_member(request, "device_id");
    try {
      reopen();
    } catch (...) {
      key_.reset();
      throw;
    }
    return identity();
  }

  void reopen() {
    // A test peer: no fsync, as in the machine's own scenario tests.
    mrt::store::Options options{.dir = dir_,
                                .tables = mrt::E2eeMachine::tables(),
                                .durability = mrt::store::Durability::off};
    auto env = mrt::store::Env::open(options, mrt::store_key_for(*key_));
    if (!env) throw BadRequest("store: " + env.error().message);
    env_.emplace(std::move(*env));
    auto machine = mrt::E2eeMachine::open(*env_, *key_, user_id_, device_id_);
    if (!machine) {
      env_.reset();
      throw BadRequest("machine: " + std::string(mrt::to_string(machine.error())));
    }
    machine_.emplace(std::move(*machine));
  }

  void close() {
    machine_.reset();
    env_.reset();
  }

  json identity() const {
    return {{"user_id", machine_->user_id()},
            {"device_id", machine_->device_id()},
            {"curve25519", machine_->curve25519_key()},
            {"ed25519", machine_->ed25519_key()},
            {"address", key_->address().to_hex()}};
  }

  static json receive_sync_changes(mrt::E2eeMachine& m, const json& request) {
    mrt::SyncChanges changes;
    if (const auto it = request.find("to_device"); it != request.end() && !it->is_null()) {
      if (!it->is_array()) throw BadRequest("\"to_device\" must be an array");
      changes.to_device_events = *it;
    }
    changes.changed_users = strings_member(request, "changed");
    changes.left_users = strings_member(request, "left");
    if (const auto it = request.find("otk_counts"); it != request.end() && !it->is_null()) {
      if (!it->is_object()) throw BadRequest("\"otk_counts\" must be an object");
      std::map<std::string, std::uint64_t> counts;
      for (const auto& [algorithm, count] : it->items()) {
        if (!count.is_number_unsigned()) throw BadRequest("key counts must be unsigned integers");
        counts[algorithm] = count.get<std::uint64_t>();
      }
      changes.one_time_key_counts = std::move(counts);
    }
    if (const auto it = request.find("unused_fallback"); it != request.end() && !it->is_null()) {
      changes.unused_fallback_key_types = strings_member(request, "unused_fallback");
    }
    const auto outcome = m.receive_sync_changes(changes);
    json events = json::array();
    for (const auto& e : outcome.events) {
      events.push_back({{"type", e.type},
                        {"content", e.content},
                        {"sender", e.sender},
                        {"sender_device", e.sender_device},
                        {"sender_curve25519", e.sender_curve25519},
                        {"trust", std::string(mrt::to_string(e.trust))},
                        {"address", address_json(e.address)}});
    }
    json rejected = json::array();
    for (const auto& r : outcome.rejected) {
      rejected.push_back({{"sender", r.sender}, {"reason", std::string(mrt::to_string(r.reason))}});
    }
    return {{"events", events},
            {"rejected", rejected},
            {"room_keys_received", outcome.room_keys_received}};
  }

  std::optional<mrt::PrivateKey> key_;
  std::string dir_;
  std::string user_id_;
  std::string device_id_;
  std::optional<mrt::store::Env> env_;
  std::optional<mrt::E2eeMachine> machine_;
};

void reply(const json& answer) {
  // Strings from peers may hold invalid UTF-8: replaced, never a throw from dump().
  std::cout << answer.dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  Peer peer;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    try {
      const json request = json::parse(line);
      if (!request.is_object()) throw BadRequest("a request is a JSON object");
      reply(peer.handle(request));
    } catch (const std::exception& e) {
      // Bad JSON, a bad request, or something the machine refused by throwing: the peer goes
      // on with the next line either way.
      reply({{"error", e.what()}});
    }
  }
  return 0;
}
