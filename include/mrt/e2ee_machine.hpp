// File: mrt/e2ee_machine.hpp
//
// The end-to-end encryption state machine of one Matrix device (PROTOCOL.md §3, §5): its Olm
// account bound to the node's Ethereum address by an attestation, the devices of the users it
// talks to (each attested for an address, not attested, or invalid), Olm sessions with them,
// and Megolm sessions for DM rooms. It is sans-I/O, like matrix-sdk-crypto's OlmMachine: sync
// data goes in, HTTP requests come out as values with ids, and the transport reports each
// response back. Each step writes its state changes into one store::Changes: the caller's,
// when it passes one (the node commits a whole /sync, the machine's writes and its own, at
// once), or one the machine commits before the call returns. Nothing a step produced (a
// request, a ciphertext) may leave before its Changes is durable, so a crash never loses a
// ratchet step that already left; a Changes dropped or failing to commit makes the machine
// reload itself from the store.
//
//   auto env = mrt::store::Env::open({.dir = dir, .tables = mrt::E2eeMachine::tables()}, key);
//   auto machine = mrt::E2eeMachine::open(*env, key, "@0xab…:hs", "DEVICEID").value();
//   for (auto& request : machine.outgoing_requests()) {
//     auto response = http(request.method, request.path, request.body);
//     machine.mark_request_as_sent(request.id, response);
//   }
//   auto received = machine.receive_sync_changes(changes_from(sync_response));
//   store::Changes step;                                   // or, a step the caller commits:
//   auto event = machine.decrypt_room_event(timeline_event, step);
//   env.commit_now(std::move(step));
//   machine.share_room_key(room_id, members);          // queues m.room_key to attested devices
//   auto content = machine.encrypt_room_event(room_id, "network.raiden.envelopes", payload);
//   auto event = machine.decrypt_room_event(timeline_event);  // plaintext + sender's address
//
// Not thread-safe: the transport drives one machine from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/attestation.hpp>
#include <mrt/bytes.hpp>
#include <mrt/eth.hpp>
#include <mrt/result.hpp>
#include <mrt/store/env.hpp>

namespace mrt {

inline constexpr const char* kOlmAlgorithm = "m.olm.v1.curve25519-aes-sha2";
inline constexpr const char* kMegolmAlgorithm = "m.megolm.v1.aes-sha2";
// Keys the machine keeps published on the homeserver, from the counts sync reports.
inline constexpr std::size_t kOneTimeKeyTarget = 50;
inline constexpr std::int64_t kFallbackKeyLifetimeMs = 7LL * 24 * 3600 * 1000;
// A wedged Olm channel to one device is repaired (new session + m.dummy) at most this often.
inline constexpr std::int64_t kWedgedRecoveryIntervalMs = std::int64_t{3600} * 1000;
// m.room.encryption defaults and the floor of rotation_period_ms.
inline constexpr std::int64_t kDefaultRotationPeriodMs = 604'800'000;
inline constexpr std::uint64_t kDefaultRotationPeriodMsgs = 100;
inline constexpr std::int64_t kMinRotationPeriodMs = 3'600'000;

// PROTOCOL.md §3: what a device's keys prove.
enum class DeviceTrust : int {
  attested = 1,      // self-signed, and attested for the address of its user id
  not_attested = 2,  // validly self-signed, with no attestation
  invalid = 3,       // a broken self-signature or a bad attestation: never trusted, never used
};
std::string_view to_string(DeviceTrust t);

struct DeviceInfo {
  std::string user_id;
  std::string device_id;
  std::string curve25519;
  std::string ed25519;
  DeviceTrust trust = DeviceTrust::invalid;
  std::optional<Address> address;           // set iff attested
  std::optional<AttestationError> problem;  // why it is not attested
  nlohmann::json keys;                      // the device_keys object as the server returned it
};

enum class RequestType : int { keys_upload = 1, keys_query = 2, keys_claim = 3, to_device = 4 };
enum class RequestFailure : int { transient = 1, permanent = 2 };
// A keys upload the server refused is not asked for again sooner.
inline constexpr std::int64_t kRefusedRequestRetryMs = 60'000;
std::string_view to_string(RequestType t);

// One Matrix client-server API call the transport makes for the machine, by what it is: the
// machine knows no HTTP (the transport's Matrix client maps `type` to its endpoint). `body` is
// the endpoint's JSON body; a to-device request's transaction id is its `id`, so a retry of
// the same request is idempotent on the server.
struct OutgoingRequest {
  std::string id;
  RequestType type;
  nlohmann::json body;
  std::string event_type;  // to_device: the type of the events in body.messages
};

// The parts of a /sync response the machine reads.
struct SyncChanges {
  nlohmann::json to_device_events = nlohmann::json::array();  // to_device.events
  std::vector<std::string> changed_users;                     // device_lists.changed
  std::vector<std::string> left_users;                        // device_lists.left
  std::optional<std::map<std::string, std::uint64_t>> one_time_key_counts;
  std::optional<std::vector<std::string>> unused_fallback_key_types;
};

// Why a to-device event was dropped. Every value is something a peer or a server can cause.
enum class ToDeviceError : int {
  malformed_event = 1,         // not {type, sender, content} of the right types
  not_encrypted = 2,           // a plaintext to-device event: mrt accepts only Olm
  unsupported_algorithm = 3,   // not m.olm.v1.curve25519-aes-sha2
  not_for_this_device = 4,     // no ciphertext for our Curve25519 key
  bad_ciphertext = 5,          // bad base64, bad message format, or too large
  no_session = 6,              // no session decrypts it (a wedged channel: recovery is queued)
  replayed = 7,                // this exact Olm message was already decrypted
  bad_plaintext = 8,           // not canonical JSON, or missing {type, content, sender, ...}
  sender_mismatch = 9,         // plaintext sender, or sender keys, disagree with the event
  recipient_mismatch = 10,     // not addressed to this user and Ed25519 key
  unknown_device = 11,         // no known or enclosed (MSC4147) device owns the sender key
  untrusted_device = 12,       // a room key from a device that is not attested
  bad_room_key = 13,           // malformed m.room_key, or a session key that does not load
  forwarded_key_refused = 14,  // m.forwarded_room_key: mrt accepts keys only from their creator
  room_key_refused = 15        // an m.room_key the room key filter does not expect (below)
};
std::string_view to_string(ToDeviceError e);

// A decrypted to-device event handed up (room keys and m.dummy are consumed by the machine).
struct DecryptedToDevice {
  std::string type;
  nlohmann::json content;
  std::string sender;  // the Matrix user id
  std::string sender_device;
  std::string sender_curve25519;
  DeviceTrust trust;
  std::optional<Address> address;  // the sender device's attested address
};

struct ToDeviceRejection {
  std::string sender;  // as the event claims it ("" when even that is malformed)
  ToDeviceError reason;
};

struct SyncOutcome {
  std::vector<DecryptedToDevice> events;
  std::vector<ToDeviceRejection> rejected;
  std::size_t room_keys_received = 0;
};

struct DeviceRef {
  std::string user_id;
  std::string device_id;
  friend bool operator==(const DeviceRef&, const DeviceRef&) = default;
  friend auto operator<=>(const DeviceRef&, const DeviceRef&) = default;
};

// What a share_room_key or encrypt_to_device call did. Not `complete()` means requests were
// queued (keys/query, keys/claim): call again once outgoing_requests() have been sent.
struct ShareOutcome {
  std::vector<std::string> users_pending_query;
  std::vector<DeviceRef> devices_pending_session;
  std::vector<DeviceRef> sent;      // got the payload in a to-device request queued now
  std::vector<DeviceRef> withheld;  // not attested: m.room_key.withheld (m.unverified) instead
  bool rotated = false;             // a new Megolm session was started by this call
  // The ids of the to-device requests this call queued (the payload, the room key, withheld
  // notices): what must be sent before anything that depends on them.
  std::vector<std::string> requests;
  bool complete() const { return users_pending_query.empty() && devices_pending_session.empty(); }
};

enum class EncryptError : int {
  no_room_key = 1,      // share_room_key(room, …) was not called for this room
  session_expired = 2,  // rotation due (count, age, or a member left): share the key again
  not_canonical = 3,    // the content has no canonical JSON form (floats, big integers)
  too_large = 4,        // the plaintext exceeds 65,536 bytes
};
std::string_view to_string(EncryptError e);

enum class RoomEventError : int {
  malformed_event = 1,  // not an m.room.encrypted event with room_id, sender, event_id, content
  unsupported_algorithm = 2,
  unknown_session = 3,        // no inbound session for (room, session_id): key not (yet) shared
  bad_ciphertext = 4,         // bad base64, format, MAC or signature, or too large
  unknown_message_index = 5,  // before the first index we hold
  replayed = 6,               // (session, index) already decrypted under another event id
  bad_plaintext = 7,          // not canonical JSON {type, content, room_id}
  room_mismatch = 8,          // the plaintext names another room than the event
  sender_mismatch = 9,        // the event's sender is not the user who shared the session
};
std::string_view to_string(RoomEventError e);

struct DecryptedRoomEvent {
  std::string type;
  nlohmann::json content;
  std::string sender;
  std::string sender_device;
  std::string sender_curve25519;
  DeviceTrust trust;  // of the device that shared the session, as known now
  std::optional<Address> address;
  std::string session_id;
  std::uint32_t message_index = 0;
};

enum class MachineOpenError : int {
  bad_user_id = 1,      // not @<the key's address>:server
  other_device = 2,     // the store holds another device's account
  corrupt_account = 3,  // the stored account does not unpickle
};
std::string_view to_string(MachineOpenError e);

enum class KeyImportError : int { bad_file = 1, wrong_passphrase = 2 };

struct MachineOptions {
  // Milliseconds since the epoch; tests move time with it.
  std::function<std::int64_t()> now_ms;
  // Prepended to the names of the machine's tables, so that one store can hold the accounts of
  // several devices (a node with accounts on several homeservers); the same as tables(prefix).
  std::string tables_prefix;
};

class E2eeMachine {
 public:
  // The tables the machine keeps; add them to store::Options::tables.
  static std::vector<store::TableSpec> tables(std::string_view prefix = {});

  // Loads the device's account from `env`, or creates it (with its attestation) on first use.
  // `env` and `key` must outlive the machine.
  static Result<E2eeMachine, MachineOpenError> open(store::Env& env, const PrivateKey& key,
                                                    std::string user_id, std::string device_id,
                                                    MachineOptions options = {});

  E2eeMachine(E2eeMachine&&) noexcept;
  E2eeMachine& operator=(E2eeMachine&&) noexcept;
  ~E2eeMachine();

  const std::string& user_id() const;
  const std::string& device_id() const;
  std::string curve25519_key() const;
  std::string ed25519_key() const;
  // Our device_keys: attested, then self-signed (what keys/upload sends).
  const nlohmann::json& device_keys() const;

  // Every request not yet marked as sent, the same ids until they are.
  std::vector<OutgoingRequest> outgoing_requests();
  // `response` is the homeserver's JSON body of a successful call. Unknown ids are ignored.
  void mark_request_as_sent(const std::string& request_id, const nlohmann::json& response);
  void mark_request_as_sent(const std::string& request_id, const nlohmann::json& response,
                            store::Changes& step);

  // The homeserver did not carry out the request. `transient` (5xx, 429, a lost connection):
  // it stays queued under the same id, to be sent again later. `permanent` (another 4xx): it
  // is dropped; a refused keys upload leaves the keys unpublished and is tried again after
  // kRefusedRequestRetryMs, a refused query or claim counts as an answer without keys, a
  // refused to-device request is forgotten (the transport's resends cover its payload).
  void mark_request_as_failed(const std::string& request_id, RequestFailure failure);
  void mark_request_as_failed(const std::string& request_id, RequestFailure failure,
                              store::Changes& step);
  SyncOutcome receive_sync_changes(const SyncChanges& changes);
  SyncOutcome receive_sync_changes(const SyncChanges& changes, store::Changes& step);
  // The sender's Curve25519 key when `event`, a to-device event as /sync delivers it, is an Olm
  // pre-key message for this device that none of the sessions with that key matches: one that
  // receive_sync_changes would try to open a new inbound session with. nullopt for anything
  // else (a normal message, a pre-key message of a known session, malformed events). Reads
  // only: no decryption, no key agreement, nothing stored; so that a transport can throttle
  // session creation per sender device before the costly part.
  std::optional<std::string> olm_session_opener(const nlohmann::json& event) const;

  // Forgets the records of Olm messages and Megolm indices first seen before `before_ms` (the
  // machine's clock), so that the replay tables hold a window, not all history. Safe for a
  // window longer than what the layer above accepts anyway: a node refuses envelopes older
  // than max_age (PROTOCOL §4 rule 5) and remembers nonces for that long (rule 6), so a message
  // replayed from before the window decrypts again at most to be refused there.
  void prune_replay_records(std::int64_t before_ms, store::Changes& step);

  // Starts tracking users' devices (queues a keys/query for the ones not known yet).
  void update_tracked_users(const std::vector<std::string>& users);
  // Queues a keys/query for users even when they are tracked: device-list changes come only
  // for users who share a room, so a to-device contact without devices (not logged in yet)
  // is asked about again this way.
  void refresh_devices(const std::vector<std::string>& users);
  std::vector<DeviceInfo> devices_of(const std::string& user_id) const;

  // Which m.room_key to keep: called with the room id and the attested address of the sending
  // device; false drops the key (ToDeviceError::room_key_refused). Without a filter every key
  // from an attested device is kept. A node keeps only keys for its DM rooms, from their
  // partner: any attested device could otherwise fill the store with keys for made-up rooms.
  using RoomKeyFilter = std::function<bool(const std::string& room_id, const Address& sender)>;
  void set_room_key_filter(RoomKeyFilter filter);

  // The room's m.room.encryption content (rotation settings); defaults until called.
  void set_room_encryption(const std::string& room_id, const nlohmann::json& content);
  // Makes sure every attested device of `members` holds the room's current Megolm session,
  // rotating it first when it is due or a member or device left.
  ShareOutcome share_room_key(const std::string& room_id, const std::vector<std::string>& members);
  ShareOutcome share_room_key(const std::string& room_id, const std::vector<std::string>& members,
                              store::Changes& step);
  // The content of the m.room.encrypted event to send into the room.
  [[nodiscard]] Result<nlohmann::json, EncryptError> encrypt_room_event(
      const std::string& room_id, const std::string& type, const nlohmann::json& content);
  [[nodiscard]] Result<nlohmann::json, EncryptError> encrypt_room_event(
      const std::string& room_id, const std::string& type, const nlohmann::json& content,
      store::Changes& step);
  [[nodiscard]] Result<DecryptedRoomEvent, RoomEventError> decrypt_room_event(
      const nlohmann::json& event);
  [[nodiscard]] Result<DecryptedRoomEvent, RoomEventError> decrypt_room_event(
      const nlohmann::json& event, store::Changes& step);

  // Olm-encrypts an event to every attested device of `user_id` (PROTOCOL.md §5 to_device).
  ShareOutcome encrypt_to_device(const std::string& user_id, const std::string& type,
                                 const nlohmann::json& content);
  ShareOutcome encrypt_to_device(const std::string& user_id, const std::string& type,
                                 const nlohmann::json& content, store::Changes& step);

  // The inbound Megolm sessions in the Matrix key-export file format, and back.
  std::string export_room_keys(ByteView passphrase, std::uint32_t rounds = 500'000) const;
  [[nodiscard]] Result<std::size_t, KeyImportError> import_room_keys(std::string_view file,
                                                                     ByteView passphrase);

 private:
  struct Impl;
  explicit E2eeMachine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt
