// The state of one E2eeMachine, shared by the files that implement its parts: account keys
// (account_keys.cpp), device tracking (device_tracking.cpp), Olm to-device messages
// (olm_channel.cpp) and Megolm room keys (room_keys.cpp).
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/megolm.hpp>
#include <mrt/olm.hpp>
#include <mrt/store/changes.hpp>
#include <mrt/store/codecs.hpp>
#include <mrt/store/env.hpp>

namespace mrt {

namespace machine_tables {
inline constexpr const char* kAccount = "e2ee_account";               // sealed: pickle key, account
inline constexpr const char* kOlmSessions = "e2ee_olm_sessions";      // sealed
inline constexpr const char* kOlmSeen = "e2ee_olm_seen";              // keyed hash -> time
inline constexpr const char* kDevices = "e2ee_devices";               // user\0device -> keys
inline constexpr const char* kTrackedUsers = "e2ee_tracked_users";    // user -> 1 if outdated
inline constexpr const char* kMegolmInbound = "e2ee_megolm_inbound";  // sealed
inline constexpr const char* kMegolmOutbound = "e2ee_megolm_outbound";  // sealed
inline constexpr const char* kMegolmIndex = "e2ee_megolm_index";  // room\0session\0index -> event
inline constexpr const char* kRoomSettings = "e2ee_room_settings";
inline constexpr const char* kOutgoing = "e2ee_outgoing";  // queued to-device requests
inline constexpr const char* kWedged = "e2ee_wedged";      // user\0device -> last recovery
}  // namespace machine_tables

using json = nlohmann::json;
using store::JsonValue;
using store::SecretValue;
using store::StringKey;
using store::StringValue;
using store::U64Value;

// A Megolm index's record: the event id that first carried it, then "\n" and when (ms; records
// written before replay records were pruned hold the event id alone, and count as oldest).
inline std::string megolm_index_record(const std::string& event_id, std::int64_t at_ms) {
  return event_id + "\n" + std::to_string(at_ms);
}
inline std::string megolm_index_event(const std::string& record) {
  return record.substr(0, record.find('\n'));
}
inline std::uint64_t megolm_index_seen_at(const std::string& record) {
  const auto nl = record.find('\n');
  std::uint64_t at = 0;
  if (nl != std::string::npos)
    std::from_chars(record.data() + nl + 1, record.data() + record.size(), at);
  return at;
}

struct OlmSessionEntry {
  OlmSession session;
  std::string id;
  std::int64_t created_ms;
  std::uint64_t seq;  // creation order, for "prefer the newest"
};

struct InboundEntry {
  MegolmInboundSession session;
  // sender_key, sender_user, sender_device, ed25519, origin ("m.room_key", "own", "import")
  json info;
};

struct OutboundEntry {
  MegolmOutboundSession session;
  std::int64_t created_ms = 0;
  std::uint64_t messages = 0;
  // user -> device -> {"index": n} or {"withheld": true}
  json shared_with = json::object();
  bool invalidated = false;
};

struct RoomSettings {
  std::int64_t period_ms = kDefaultRotationPeriodMs;
  std::uint64_t messages = kDefaultRotationPeriodMsgs;
};

// The fields of a decrypted Olm plaintext the machine relies on.
struct OlmPlaintext {
  json value;
  std::string type;
  std::string sender_ed25519;
};

struct E2eeMachine::Impl {
  Impl(store::Env& e, const PrivateKey& k, std::string user, std::string device, MachineOptions o);

  store::Env& env;
  const PrivateKey& eth_key;
  std::string user_id;
  std::string device_id;
  MachineOptions options;
  E2eeMachine::RoomKeyFilter room_key_filter;  // none: every attested device's key is kept

  store::Table<StringKey, SecretValue> secrets;
  store::Table<StringKey, JsonValue> account_table;
  store::Table<StringKey, JsonValue> olm_sessions_table;
  store::Table<store::BytesKey, U64Value> olm_seen_table;
  store::Table<StringKey, JsonValue> devices_table;
  store::Table<StringKey, U64Value> tracked_table;
  store::Table<StringKey, JsonValue> inbound_table;
  store::Table<StringKey, JsonValue> outbound_table;
  store::Table<StringKey, StringValue> index_table;
  store::Table<StringKey, JsonValue> settings_table;
  store::Table<StringKey, JsonValue> outgoing_table;
  store::Table<StringKey, JsonValue> wedged_table;

  SecretBuffer pickle_key;
  std::optional<OlmAccount> account;
  IdentityKeys identity;
  json device_keys;
  json account_meta;  // device_id, issued_at, keys_published, fallback_created_ms, otk_count

  std::map<std::string, std::vector<OlmSessionEntry>> olm_sessions;  // by peer Curve25519
  std::uint64_t next_seq = 1;
  std::map<std::string, std::map<std::string, DeviceInfo>> devices;  // user -> device
  std::map<std::string, bool> tracked;                               // user -> outdated
  std::map<std::string, InboundEntry> inbound;                       // room\0session cache
  std::map<std::string, OutboundEntry> outbound;                     // by room
  std::map<std::string, RoomSettings> settings;
  std::map<std::string, std::int64_t> wedged;  // user\0device -> last recovery

  std::map<std::string, OutgoingRequest> requests;  // by id
  std::optional<std::string> upload_request;
  std::optional<std::string> query_request;
  std::set<std::string> querying;      // users in the query in flight
  std::set<DeviceRef> claiming;        // devices in a claim in flight
  std::set<DeviceRef> needs_dummy;     // wedged: claim, then m.dummy on the new session
  std::int64_t upload_refused_at = 0;  // now() of the last keys upload the server refused
  std::optional<std::uint64_t> server_otk_count;
  bool fallback_used = false;

  // The change set of the step in progress (a public call): the caller's, or one the call
  // commits itself. Writes go into it and reads see them (read()); if it is abandoned, the
  // machine reloads itself from the store, so that memory is never ahead of disk.
  store::Changes* step = nullptr;
  class StepScope {
   public:
    StepScope(Impl& machine, store::Changes& changes);
    ~StepScope();
    StepScope(const StepScope&) = delete;
    StepScope& operator=(const StepScope&) = delete;

   private:
    Impl& machine_;
    store::Changes* outer_;
  };
  // Runs `body(step)` in a step of its own and commits it (the public calls without a step).
  template <class Body>
  auto in_own_step(Body&& body) {
    store::Changes own;
    StepScope scope(*this, own);
    if constexpr (std::is_void_v<decltype(body(own))>) {
      body(own);
      env.commit_now(std::move(own));
    } else {
      auto result = body(own);
      env.commit_now(std::move(own));
      return result;
    }
  }
  template <class Table, class Key>
  auto read(const Table& table, const Key& key) const {
    auto txn = env.read();
    return step ? step->get(table, txn, key) : table.get(txn, key);
  }
  void reload();
  std::optional<MachineOpenError> load_account();

  std::int64_t now() const;
  // Into the step in progress; committed at once outside of one (opening the machine).
  void commit(store::Changes&& changes);
  std::string new_request_id() const;
  void load();

  // account_keys.cpp
  void create_account(store::Changes& changes);
  void save_account(store::Changes& changes);
  json sign_object(json object) const;
  void queue_keys_upload();
  void on_keys_uploaded(const json& response);

  // device_tracking.cpp
  DeviceInfo classify_device(const json& keys, const std::string& user,
                             const std::string& device) const;
  void mark_outdated(const std::string& user, store::Changes& changes);
  void queue_keys_query();
  void on_keys_query(const std::string& id, const json& response);
  const DeviceInfo* device_by_curve(const std::string& user, const std::string& curve) const;
  void save_device(store::Changes& changes, const DeviceInfo& info);

  // olm_channel.cpp
  OlmSessionEntry* newest_session(const std::string& curve);
  void save_olm_session(store::Changes& changes, const std::string& curve,
                        const OlmSessionEntry& entry);
  void queue_claim(const std::vector<DeviceRef>& devices);
  void on_keys_claimed(const std::string& id, const json& response);
  // The Olm content for one device, or nullopt when there is no session with it yet.
  std::optional<json> olm_encrypt(store::Changes& changes, const DeviceInfo& device,
                                  const std::string& type, const json& content);
  std::string queue_to_device(store::Changes& changes, const std::string& event_type,
                              json messages);
  Result<DecryptedToDevice, ToDeviceError> receive_to_device(const json& event,
                                                             SyncOutcome& outcome);
  std::optional<std::string> olm_session_opener(const json& event) const;
  void start_wedged_recovery(const std::string& sender, const std::string& curve,
                             store::Changes& changes);
  void save_wedged(store::Changes& changes, const DeviceRef& device, bool pending);
  ShareOutcome encrypt_to_device(const std::string& user, const std::string& type,
                                 const json& content);

  // room_keys.cpp
  ShareOutcome share_room_key(const std::string& room, const std::vector<std::string>& members);
  Result<json, EncryptError> encrypt_room_event(const std::string& room, const std::string& type,
                                                const json& content);
  Result<DecryptedRoomEvent, RoomEventError> decrypt_room_event(const json& event);
  Result<Unit, ToDeviceError> receive_room_key(const json& content, const DeviceInfo& sender,
                                               store::Changes& changes);
  InboundEntry* find_inbound(const std::string& room, const std::string& session_id);
  // Saves `entry` unless a session with the same id and an earlier first index is known.
  bool keep_inbound(store::Changes& changes, const std::string& room, InboundEntry entry);
  void save_outbound(store::Changes& changes, const std::string& room, const OutboundEntry& e);
  bool outbound_expired(const std::string& room, const OutboundEntry& e) const;
  std::string export_room_keys(ByteView passphrase, std::uint32_t rounds) const;
  Result<std::size_t, KeyImportError> import_room_keys(std::string_view file, ByteView passphrase);
};

// Small JSON readers: a pointer to the member of that type, or nullptr (also for a string
// holding a NUL).
const std::string* json_string(const json& object, const char* key);
const json* json_object(const json& object, const char* key);

}  // namespace mrt
