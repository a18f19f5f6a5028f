#include <chrono>

#include <sodium.h>

#include <mrt/matrix_identity.hpp>

#include "core/sodium_init.hpp"
#include "machine_impl.hpp"

namespace mrt {

namespace mt = machine_tables;

const std::string* json_string(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  const auto& text = it->get_ref<const std::string&>();
  // No identifier, key or ciphertext of Matrix holds a NUL; refusing it here keeps it out of
  // the store's composite keys, where it is the separator.
  return text.find('\0') == std::string::npos ? &text : nullptr;
}

const json* json_object(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

std::string_view to_string(DeviceTrust t) {
  switch (t) {
    case DeviceTrust::attested:
      return "attested";
    case DeviceTrust::not_attested:
      return "not_attested";
    case DeviceTrust::invalid:
      return "invalid";
  }
  return "unknown";
}

std::string_view to_string(RequestType t) {
  switch (t) {
    case RequestType::keys_upload:
      return "keys_upload";
    case RequestType::keys_query:
      return "keys_query";
    case RequestType::keys_claim:
      return "keys_claim";
    case RequestType::to_device:
      return "to_device";
  }
  return "unknown";
}

std::string_view to_string(ToDeviceError e) {
  switch (e) {
    case ToDeviceError::malformed_event:
      return "malformed_event";
    case ToDeviceError::not_encrypted:
      return "not_encrypted";
    case ToDeviceError::unsupported_algorithm:
      return "unsupported_algorithm";
    case ToDeviceError::not_for_this_device:
      return "not_for_this_device";
    case ToDeviceError::bad_ciphertext:
      return "bad_ciphertext";
    case ToDeviceError::no_session:
      return "no_session";
    case ToDeviceError::replayed:
      return "replayed";
    case ToDeviceError::bad_plaintext:
      return "bad_plaintext";
    case ToDeviceError::sender_mismatch:
      return "sender_mismatch";
    case ToDeviceError::recipient_mismatch:
      return "recipient_mismatch";
    case ToDeviceError::unknown_device:
      return "unknown_device";
    case ToDeviceError::untrusted_device:
      return "untrusted_device";
    case ToDeviceError::bad_room_key:
      return "bad_room_key";
    case ToDeviceError::forwarded_key_refused:
      return "forwarded_key_refused";
    case ToDeviceError::room_key_refused:
      return "room_key_refused";
  }
  return "unknown";
}

std::string_view to_string(EncryptError e) {
  switch (e) {
    case EncryptError::no_room_key:
      return "no_room_key";
    case EncryptError::session_expired:
      return "session_expired";
    case EncryptError::not_canonical:
      return "not_canonical";
    case EncryptError::too_large:
      return "too_large";
  }
  return "unknown";
}

std::string_view to_string(RoomEventError e) {
  switch (e) {
    case RoomEventError::malformed_event:
      return "malformed_event";
    case RoomEventError::unsupported_algorithm:
      return "unsupported_algorithm";
    case RoomEventError::unknown_session:
      return "unknown_session";
    case RoomEventError::bad_ciphertext:
      return "bad_ciphertext";
    case RoomEventError::unknown_message_index:
      return "unknown_message_index";
    case RoomEventError::replayed:
      return "replayed";
    case RoomEventError::bad_plaintext:
      return "bad_plaintext";
    case RoomEventError::room_mismatch:
      return "room_mismatch";
    case RoomEventError::sender_mismatch:
      return "sender_mismatch";
  }
  return "unknown";
}

std::string_view to_string(MachineOpenError e) {
  switch (e) {
    case MachineOpenError::bad_user_id:
      return "bad_user_id";
    case MachineOpenError::other_device:
      return "other_device";
    case MachineOpenError::corrupt_account:
      return "corrupt_account";
  }
  return "unknown";
}

E2eeMachine::Impl::Impl(store::Env& e, const PrivateKey& k, std::string user, std::string device,
                        MachineOptions o)
    : env(e),
      eth_key(k),
      user_id(std::move(user)),
      device_id(std::move(device)),
      options(std::move(o)),
      secrets(e.table<StringKey, SecretValue>(options.tables_prefix + mt::kAccount)),
      account_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kAccount)),
      olm_sessions_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kOlmSessions)),
      olm_seen_table(e.table<store::BytesKey, U64Value>(options.tables_prefix + mt::kOlmSeen)),
      devices_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kDevices)),
      tracked_table(e.table<StringKey, U64Value>(options.tables_prefix + mt::kTrackedUsers)),
      inbound_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kMegolmInbound)),
      outbound_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kMegolmOutbound)),
      index_table(e.table<StringKey, StringValue>(options.tables_prefix + mt::kMegolmIndex)),
      settings_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kRoomSettings)),
      outgoing_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kOutgoing)),
      wedged_table(e.table<StringKey, JsonValue>(options.tables_prefix + mt::kWedged)) {
  if (!options.now_ms) {
    options.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

std::int64_t E2eeMachine::Impl::now() const {
  return options.now_ms();
}

void E2eeMachine::Impl::commit(store::Changes&& changes) {
  if (step) {
    step->append(std::move(changes));
  } else if (!changes.empty()) {
    env.commit_now(std::move(changes));
  }
}

E2eeMachine::Impl::StepScope::StepScope(Impl& machine, store::Changes& changes)
    : machine_(machine), outer_(machine.step) {
  machine.step = &changes;
  changes.on_abandon(&machine, [&machine] { machine.reload(); });
}

E2eeMachine::Impl::StepScope::~StepScope() {
  machine_.step = outer_;
}

// The account and its pickle key as stored; nullopt when they load (or there is none yet).
std::optional<MachineOpenError> E2eeMachine::Impl::load_account() {
  auto txn = env.read();
  auto stored_key = secrets.get(txn, "pickle_key");
  auto meta = account_table.get(txn, "account");
  if (stored_key) pickle_key = std::move(*stored_key);
  if (!meta) return std::nullopt;
  if (meta->at("device_id") != device_id) return MachineOpenError::other_device;
  auto stored = OlmAccount::unpickle(meta->at("pickle").get<std::string>(), pickle_key.view());
  if (!stored) return MachineOpenError::corrupt_account;
  account = std::move(*stored);
  device_keys = meta->at("device_keys");
  meta->erase("pickle");
  account_meta = std::move(*meta);
  identity = account->identity_keys();
  return std::nullopt;
}

// Forgets what memory holds beyond the store (a step that was never committed) and reads it all
// again. Requests that were in flight are asked for again under new ids.
void E2eeMachine::Impl::reload() {
  account.reset();
  olm_sessions.clear();
  next_seq = 1;
  devices.clear();
  tracked.clear();
  inbound.clear();
  outbound.clear();
  settings.clear();
  wedged.clear();
  requests.clear();
  upload_request.reset();
  query_request.reset();
  querying.clear();
  claiming.clear();
  needs_dummy.clear();
  if (load_account() || !account)
    throw std::runtime_error("e2ee: the stored account does not load");
  load();
}

std::string E2eeMachine::Impl::new_request_id() const {
  detail::ensure_sodium();
  std::uint8_t random[12];
  randombytes_buf(random, sizeof random);
  return "mrt" + to_hex(random);
}

namespace {

// A queued to-device request's event type. Stores written before requests were typed kept the
// HTTP path instead: ".../sendToDevice/{event type}/{transaction id}".
std::string stored_event_type(const json& record) {
  if (const auto* type = json_string(record, "event_type")) return *type;
  const std::string path = record.at("path").get<std::string>();
  const std::string marker = "/sendToDevice/";
  const auto start = path.find(marker);
  if (start == std::string::npos) throw std::runtime_error("e2ee: a queued request has no type");
  const auto from = start + marker.size();
  return path.substr(from, path.find('/', from) - from);
}

}  // namespace

// Reads everything but the inbound Megolm sessions, which are loaded when first needed.
void E2eeMachine::Impl::load() {
  auto txn = env.read();
  olm_sessions_table.for_each(txn, {}, [&](const std::string& key, json value) {
    const auto curve = key.substr(0, key.find('\0'));
    auto session = OlmSession::unpickle(value.at("pickle").get<std::string>(), pickle_key.view());
    if (!session) throw std::runtime_error("e2ee: a stored Olm session does not unpickle");
    const auto seq = value.at("seq").get<std::uint64_t>();
    next_seq = std::max(next_seq, seq + 1);
    std::string id = session->session_id();
    olm_sessions[curve].push_back(
        {std::move(*session), std::move(id), value.at("created_ms").get<std::int64_t>(), seq});
    return true;
  });
  for (auto& [curve, list] : olm_sessions) {
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  }
  devices_table.for_each(txn, {}, [&](const std::string&, const json& keys) {
    const auto* user = json_string(keys, "user_id");
    const auto* device = json_string(keys, "device_id");
    if (user && device) devices[*user][*device] = classify_device(keys, *user, *device);
    return true;
  });
  tracked_table.for_each(txn, {}, [&](const std::string& user, std::uint64_t outdated) {
    tracked[user] = outdated != 0;
    return true;
  });
  outbound_table.for_each(txn, {}, [&](const std::string& room, json value) {
    auto session =
        MegolmOutboundSession::unpickle(value.at("pickle").get<std::string>(), pickle_key.view());
    if (!session) throw std::runtime_error("e2ee: a stored Megolm session does not unpickle");
    outbound.emplace(
        room, OutboundEntry{std::move(*session), value.at("created_ms").get<std::int64_t>(),
                            value.at("messages").get<std::uint64_t>(), value.at("shared_with"),
                            value.at("invalidated").get<bool>()});
    return true;
  });
  settings_table.for_each(txn, {}, [&](const std::string& room, json value) {
    settings[room] = {value.at("period_ms").get<std::int64_t>(),
                      value.at("messages").get<std::uint64_t>()};
    return true;
  });
  outgoing_table.for_each(txn, {}, [&](const std::string& id, json value) {
    requests[id] = {id, RequestType::to_device, value.at("body"), stored_event_type(value)};
    return true;
  });
  wedged_table.for_each(txn, {}, [&](const std::string& key, json value) {
    wedged[key] = value.at("at").get<std::int64_t>();
    // A repair that was started but not finished before the restart is finished now.
    if (value.at("pending").get<bool>()) {
      const auto split = key.find('\0');
      needs_dummy.insert({key.substr(0, split), key.substr(split + 1, key.size() - split - 2)});
    }
    return true;
  });
}

std::vector<store::TableSpec> E2eeMachine::tables(std::string_view prefix) {
  using store::Sealing;
  std::vector<store::TableSpec> specs = {
      {mt::kAccount, Sealing::sealed},        {mt::kOlmSessions, Sealing::sealed},
      {mt::kOlmSeen, Sealing::plain},         {mt::kDevices, Sealing::plain},
      {mt::kTrackedUsers, Sealing::plain},    {mt::kMegolmInbound, Sealing::sealed},
      {mt::kMegolmOutbound, Sealing::sealed}, {mt::kMegolmIndex, Sealing::plain},
      {mt::kRoomSettings, Sealing::plain},    {mt::kOutgoing, Sealing::plain},
      {mt::kWedged, Sealing::plain}};
  for (auto& spec : specs) spec.name.insert(0, prefix);
  return specs;
}

Result<E2eeMachine, MachineOpenError> E2eeMachine::open(store::Env& env, const PrivateKey& key,
                                                        std::string user_id, std::string device_id,
                                                        MachineOptions options) {
  const auto owner = address_of_user_id(user_id);
  if (!owner || *owner != key.address() || device_id.empty()) {
    return fail(MachineOpenError::bad_user_id);
  }
  auto impl = std::make_unique<Impl>(env, key, std::move(user_id), std::move(device_id),
                                     std::move(options));
  if (auto problem = impl->load_account()) return fail(*problem);
  store::Changes changes;
  if (!impl->account) {
    if (impl->pickle_key.empty()) {
      impl->pickle_key = SecretBuffer(kPickleKeySize);
      randombytes_buf(impl->pickle_key.data(), impl->pickle_key.size());
      changes.put(impl->secrets, "pickle_key", impl->pickle_key);
    }
    impl->create_account(changes);
  }
  impl->commit(std::move(changes));
  impl->load();
  return E2eeMachine(std::move(impl));
}

E2eeMachine::E2eeMachine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
E2eeMachine::E2eeMachine(E2eeMachine&&) noexcept = default;
E2eeMachine& E2eeMachine::operator=(E2eeMachine&&) noexcept = default;
E2eeMachine::~E2eeMachine() = default;

const std::string& E2eeMachine::user_id() const {
  return impl_->user_id;
}
const std::string& E2eeMachine::device_id() const {
  return impl_->device_id;
}
std::string E2eeMachine::curve25519_key() const {
  return impl_->identity.curve25519;
}
std::string E2eeMachine::ed25519_key() const {
  return impl_->identity.ed25519;
}
const json& E2eeMachine::device_keys() const {
  return impl_->device_keys;
}

std::vector<OutgoingRequest> E2eeMachine::outgoing_requests() {
  return impl_->in_own_step([&](store::Changes&) {
    impl_->queue_keys_upload();
    impl_->queue_keys_query();
    impl_->queue_claim({impl_->needs_dummy.begin(), impl_->needs_dummy.end()});
    std::vector<OutgoingRequest> out;
    for (const auto& [id, request] : impl_->requests) out.push_back(request);
    return out;
  });
}

void E2eeMachine::mark_request_as_sent(const std::string& id, const json& response) {
  impl_->in_own_step([&](store::Changes& step) { mark_request_as_sent(id, response, step); });
}

void E2eeMachine::mark_request_as_sent(const std::string& id, const json& response,
                                       store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  const auto it = impl_->requests.find(id);
  if (it == impl_->requests.end()) return;
  const RequestType type = it->second.type;
  switch (type) {
    case RequestType::keys_upload:
      impl_->on_keys_uploaded(response);
      break;
    case RequestType::keys_query:
      impl_->on_keys_query(id, response);
      break;
    case RequestType::keys_claim:
      impl_->on_keys_claimed(id, response);
      break;
    case RequestType::to_device: {
      store::Changes changes;
      changes.erase(impl_->outgoing_table, id);
      impl_->commit(std::move(changes));
      break;
    }
  }
  impl_->requests.erase(id);
}

void E2eeMachine::mark_request_as_failed(const std::string& id, RequestFailure failure) {
  impl_->in_own_step([&](store::Changes& step) { mark_request_as_failed(id, failure, step); });
}

void E2eeMachine::mark_request_as_failed(const std::string& id, RequestFailure failure,
                                         store::Changes& step) {
  const auto it = impl_->requests.find(id);
  if (it == impl_->requests.end() || failure == RequestFailure::transient) return;
  if (it->second.type == RequestType::keys_upload) {
    // Not published: the keys stay queued for the next upload, which waits a while.
    impl_->upload_request.reset();
    impl_->upload_refused_at = impl_->now();
    impl_->requests.erase(it);
    return;
  }
  mark_request_as_sent(id, json::object(), step);
}

std::optional<std::string> E2eeMachine::olm_session_opener(const json& event) const {
  return impl_->olm_session_opener(event);
}

SyncOutcome E2eeMachine::receive_sync_changes(const SyncChanges& changes) {
  return impl_->in_own_step(
      [&](store::Changes& step) { return receive_sync_changes(changes, step); });
}

SyncOutcome E2eeMachine::receive_sync_changes(const SyncChanges& changes, store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  SyncOutcome outcome;
  {
    store::Changes tracking;
    for (const auto& user : changes.changed_users) {
      if (impl_->tracked.contains(user)) impl_->mark_outdated(user, tracking);
    }
    // A user we no longer share a room with may have changed devices unseen: re-query when
    // they are needed again.
    for (const auto& user : changes.left_users) {
      if (impl_->tracked.contains(user)) impl_->mark_outdated(user, tracking);
    }
    impl_->commit(std::move(tracking));
  }
  if (changes.one_time_key_counts) {
    const auto it = changes.one_time_key_counts->find("signed_curve25519");
    impl_->server_otk_count = it == changes.one_time_key_counts->end() ? 0 : it->second;
  }
  if (changes.unused_fallback_key_types) {
    const auto& types = *changes.unused_fallback_key_types;
    impl_->fallback_used =
        std::find(types.begin(), types.end(), "signed_curve25519") == types.end();
  }
  if (changes.to_device_events.is_array()) {
    for (const auto& event : changes.to_device_events) {
      auto result = impl_->receive_to_device(event, outcome);
      if (!result) {
        const auto* sender = json_string(event, "sender");
        outcome.rejected.push_back({sender ? *sender : "", result.error()});
      } else if (!result->type.empty()) {
        outcome.events.push_back(std::move(*result));
      }
    }
  }
  return outcome;
}

void E2eeMachine::prune_replay_records(std::int64_t before_ms, store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  auto txn = impl_->env.read();
  const auto cutoff = static_cast<std::uint64_t>(std::max<std::int64_t>(before_ms, 0));
  impl_->olm_seen_table.for_each(txn, {}, [&](const Bytes& key, std::uint64_t at) {
    if (at < cutoff) step.erase(impl_->olm_seen_table, key);
    return true;
  });
  impl_->index_table.for_each(txn, {}, [&](const std::string& key, const std::string& value) {
    if (megolm_index_seen_at(value) < cutoff) step.erase(impl_->index_table, key);
    return true;
  });
}

void E2eeMachine::update_tracked_users(const std::vector<std::string>& users) {
  return impl_->in_own_step([&](store::Changes&) {
    store::Changes changes;
    for (const auto& user : users) {
      if (!impl_->tracked.contains(user)) impl_->mark_outdated(user, changes);
    }
    impl_->commit(std::move(changes));
  });
}

void E2eeMachine::refresh_devices(const std::vector<std::string>& users) {
  return impl_->in_own_step([&](store::Changes&) {
    store::Changes changes;
    for (const auto& user : users) impl_->mark_outdated(user, changes);
    impl_->commit(std::move(changes));
  });
}

std::vector<DeviceInfo> E2eeMachine::devices_of(const std::string& user) const {
  std::vector<DeviceInfo> out;
  const auto it = impl_->devices.find(user);
  if (it != impl_->devices.end()) {
    for (const auto& [id, info] : it->second) out.push_back(info);
  }
  return out;
}

void E2eeMachine::set_room_key_filter(RoomKeyFilter filter) {
  impl_->room_key_filter = std::move(filter);
}

void E2eeMachine::set_room_encryption(const std::string& room, const json& content) {
  return impl_->in_own_step([&](store::Changes&) {
    RoomSettings s;
    if (content.is_object()) {
      const auto period = content.find("rotation_period_ms");
      if (period != content.end() && period->is_number_integer()) {
        s.period_ms = std::max(period->get<std::int64_t>(), kMinRotationPeriodMs);
      }
      const auto msgs = content.find("rotation_period_msgs");
      if (msgs != content.end() && msgs->is_number_integer() && msgs->get<std::int64_t>() > 0) {
        s.messages = msgs->get<std::uint64_t>();
      }
    }
    impl_->settings[room] = s;
    store::Changes changes;
    changes.put(impl_->settings_table, room,
                json{{"period_ms", s.period_ms}, {"messages", s.messages}});
    impl_->commit(std::move(changes));
  });
}

ShareOutcome E2eeMachine::share_room_key(const std::string& room,
                                         const std::vector<std::string>& members) {
  return impl_->in_own_step(
      [&](store::Changes& step) { return share_room_key(room, members, step); });
}

ShareOutcome E2eeMachine::share_room_key(const std::string& room,
                                         const std::vector<std::string>& members,
                                         store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  return impl_->share_room_key(room, members);
}

Result<json, EncryptError> E2eeMachine::encrypt_room_event(const std::string& room,
                                                           const std::string& type,
                                                           const json& content) {
  return impl_->in_own_step(
      [&](store::Changes& step) { return encrypt_room_event(room, type, content, step); });
}

Result<json, EncryptError> E2eeMachine::encrypt_room_event(const std::string& room,
                                                           const std::string& type,
                                                           const json& content,
                                                           store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  return impl_->encrypt_room_event(room, type, content);
}

Result<DecryptedRoomEvent, RoomEventError> E2eeMachine::decrypt_room_event(const json& event) {
  return impl_->in_own_step([&](store::Changes& step) { return decrypt_room_event(event, step); });
}

Result<DecryptedRoomEvent, RoomEventError> E2eeMachine::decrypt_room_event(const json& event,
                                                                           store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  return impl_->decrypt_room_event(event);
}

ShareOutcome E2eeMachine::encrypt_to_device(const std::string& user, const std::string& type,
                                            const json& content) {
  return impl_->in_own_step(
      [&](store::Changes& step) { return encrypt_to_device(user, type, content, step); });
}

ShareOutcome E2eeMachine::encrypt_to_device(const std::string& user, const std::string& type,
                                            const json& content, store::Changes& step) {
  Impl::StepScope scope(*impl_, step);
  return impl_->encrypt_to_device(user, type, content);
}

std::string E2eeMachine::export_room_keys(ByteView passphrase, std::uint32_t rounds) const {
  return impl_->export_room_keys(passphrase, rounds);
}

Result<std::size_t, KeyImportError> E2eeMachine::import_room_keys(std::string_view file,
                                                                  ByteView passphrase) {
  return impl_->in_own_step(
      [&](store::Changes&) { return impl_->import_room_keys(file, passphrase); });
}

}  // namespace mrt
