// Olm to-device messages: claiming one-time keys, outbound and inbound sessions, decryption
// with replay refusal, wedged-session recovery, and the checks of the decrypted plaintext.
#include <mrt/canonical_json.hpp>
#include <mrt/matrix_signing.hpp>

#include "machine_impl.hpp"

namespace mrt {
namespace {

constexpr const char* kMsc4147DeviceKeys = "org.matrix.msc4147.device_keys";
// The name Matrix v1.15 gave the field, and the one matrix-sdk-crypto (vodozemac) sends.
constexpr const char* kSenderDeviceKeys = "sender_device_keys";

ToDeviceError from_olm(OlmError e) {
  switch (e) {
    case OlmError::bad_base64:
    case OlmError::bad_message_format:
    case OlmError::message_too_large:
    case OlmError::bad_key:
      return ToDeviceError::bad_ciphertext;
    default:
      return ToDeviceError::no_session;
  }
}

}  // namespace

OlmSessionEntry* E2eeMachine::Impl::newest_session(const std::string& curve) {
  const auto it = olm_sessions.find(curve);
  if (it == olm_sessions.end() || it->second.empty()) return nullptr;
  return &it->second.back();
}

void E2eeMachine::Impl::save_olm_session(store::Changes& changes, const std::string& curve,
                                         const OlmSessionEntry& entry) {
  const SecretBuffer pickle = entry.session.pickle(pickle_key.view());
  changes.put(olm_sessions_table, store::join_key({curve, entry.id}),
              json{{"pickle", std::string(as_chars(pickle.view()))},
                   {"created_ms", entry.created_ms},
                   {"seq", entry.seq}});
}

void E2eeMachine::Impl::queue_claim(const std::vector<DeviceRef>& wanted) {
  json body = json::object();
  for (const auto& ref : wanted) {
    if (claiming.contains(ref)) continue;
    claiming.insert(ref);
    body[ref.user_id][ref.device_id] = "signed_curve25519";
  }
  if (body.empty()) return;
  const std::string id = new_request_id();
  requests[id] = {
      id, RequestType::keys_claim, {{"one_time_keys", std::move(body)}, {"timeout", 10000}}, ""};
}

void E2eeMachine::Impl::on_keys_claimed(const std::string& id, const json& response) {
  const json asked = requests.at(id).body.at("one_time_keys");
  const json* answered = json_object(response, "one_time_keys");
  store::Changes changes;
  std::vector<const DeviceInfo*> dummies;
  std::set<DeviceRef> dummy_for;
  for (const auto& [user, per_device] : asked.items()) {
    for (const auto& [device, _] : per_device.items()) {
      const DeviceRef ref{user, device};
      claiming.erase(ref);
      if (needs_dummy.erase(ref)) {
        // One attempt per interval, whether or not the server had a key for the device.
        save_wedged(changes, ref, false);
        dummy_for.insert(ref);
      }
      const json* keys_of_user = answered ? json_object(*answered, user.c_str()) : nullptr;
      const json* keys = keys_of_user ? json_object(*keys_of_user, device.c_str()) : nullptr;
      const auto known = devices.find(user);
      if (!keys || keys->size() != 1 || known == devices.end()) continue;
      const auto info = known->second.find(device);
      if (info == known->second.end() || info->second.trust == DeviceTrust::invalid) continue;
      const std::string& key_id = keys->begin().key();
      const json& key = keys->begin().value();
      const auto* key_text = json_string(key, "key");
      const auto ed = parse_base64_unpadded(info->second.ed25519);
      // A one-time key counts only when its device signed it.
      if (!key_text || key_id.rfind("signed_curve25519:", 0) != 0 || !ed ||
          !verify_json(key, user, "ed25519:" + device, *ed)) {
        continue;
      }
      auto session = OlmSession::outbound(*account, info->second.curve25519, *key_text);
      if (!session) continue;
      auto& list = olm_sessions[info->second.curve25519];
      std::string session_id = session->session_id();
      list.push_back({std::move(*session), std::move(session_id), now(), next_seq++});
      save_olm_session(changes, info->second.curve25519, list.back());
      if (dummy_for.contains(ref)) dummies.push_back(&info->second);
    }
  }
  for (const DeviceInfo* device : dummies) {
    if (auto content = olm_encrypt(changes, *device, "m.dummy", json::object())) {
      queue_to_device(changes, "m.room.encrypted",
                      {{device->user_id, {{device->device_id, std::move(*content)}}}});
    }
  }
  commit(std::move(changes));
}

std::optional<json> E2eeMachine::Impl::olm_encrypt(store::Changes& changes,
                                                   const DeviceInfo& device,
                                                   const std::string& type, const json& content) {
  OlmSessionEntry* entry = newest_session(device.curve25519);
  if (!entry) return std::nullopt;
  const json plaintext = {{"type", type},
                          {"content", content},
                          {"sender", user_id},
                          {"sender_device", device_id},
                          {"recipient", device.user_id},
                          {"recipient_keys", {{"ed25519", device.ed25519}}},
                          {"keys", {{"ed25519", identity.ed25519}}},
                          {kMsc4147DeviceKeys, device_keys}};
  auto text = canonical_json(plaintext);
  if (!text) throw std::invalid_argument("e2ee: to-device content has no canonical form");
  const OlmMessage message = entry->session.encrypt(as_bytes(*text));
  wipe(*text);
  save_olm_session(changes, device.curve25519, *entry);
  return json{
      {"algorithm", kOlmAlgorithm},
      {"sender_key", identity.curve25519},
      {"ciphertext",
       {{device.curve25519, {{"type", static_cast<int>(message.type)}, {"body", message.body}}}}}};
}

std::string E2eeMachine::Impl::queue_to_device(store::Changes& changes,
                                               const std::string& event_type, json messages) {
  std::string id = new_request_id();
  OutgoingRequest request{
      id, RequestType::to_device, {{"messages", std::move(messages)}}, event_type};
  // Persisted with the state change that produced it: a room key recorded as given must leave.
  changes.put(outgoing_table, id, json{{"event_type", event_type}, {"body", request.body}});
  requests[id] = std::move(request);
  return id;
}

void E2eeMachine::Impl::start_wedged_recovery(const std::string& sender, const std::string& curve,
                                              store::Changes& changes) {
  const DeviceInfo* device = device_by_curve(sender, curve);
  if (!device) {
    mark_outdated(sender, changes);
    return;
  }
  const std::string key = store::join_key({sender, device->device_id});
  const auto last = wedged.find(key);
  if (last != wedged.end() && now() - last->second < kWedgedRecoveryIntervalMs) return;
  const DeviceRef ref{sender, device->device_id};
  wedged[key] = now();
  save_wedged(changes, ref, true);
  needs_dummy.insert(ref);
  queue_claim({ref});
}

void E2eeMachine::Impl::save_wedged(store::Changes& changes, const DeviceRef& device,
                                    bool pending) {
  const std::string key = store::join_key({device.user_id, device.device_id});
  changes.put(wedged_table, key, json{{"at", wedged[key]}, {"pending", pending}});
}

// The checks of receive_to_device up to its session lookup, without its side effects.
std::optional<std::string> E2eeMachine::Impl::olm_session_opener(const json& event) const {
  const auto* event_type = json_string(event, "type");
  const auto* content = json_object(event, "content");
  if (!event_type || *event_type != "m.room.encrypted" || !content) return std::nullopt;
  const auto* algorithm = json_string(*content, "algorithm");
  const auto* curve = json_string(*content, "sender_key");
  const auto* ciphertexts = json_object(*content, "ciphertext");
  if (!algorithm || *algorithm != kOlmAlgorithm || !curve || !ciphertexts) return std::nullopt;
  const auto* mine = json_object(*ciphertexts, identity.curve25519.c_str());
  const auto* body = mine ? json_string(*mine, "body") : nullptr;
  if (!body || body->size() > kMaxOlmMessage) return std::nullopt;
  const auto type = mine->find("type");
  if (type == mine->end() || !type->is_number_integer() || type->get<std::int64_t>() != 0)
    return std::nullopt;
  const OlmMessage message{OlmMessageType::pre_key, *body};
  if (const auto existing = olm_sessions.find(*curve); existing != olm_sessions.end()) {
    for (const auto& entry : existing->second)
      if (entry.session.matches_inbound(*curve, message)) return std::nullopt;
  }
  return *curve;
}

Result<DecryptedToDevice, ToDeviceError> E2eeMachine::Impl::receive_to_device(
    const json& event, SyncOutcome& outcome) {
  const auto* event_type = json_string(event, "type");
  const auto* sender = json_string(event, "sender");
  const auto* content = json_object(event, "content");
  if (!event_type || !sender || !content) return fail(ToDeviceError::malformed_event);
  if (*event_type != "m.room.encrypted") return fail(ToDeviceError::not_encrypted);
  const auto* algorithm = json_string(*content, "algorithm");
  if (!algorithm || *algorithm != kOlmAlgorithm) return fail(ToDeviceError::unsupported_algorithm);
  const auto* curve = json_string(*content, "sender_key");
  const auto* ciphertexts = json_object(*content, "ciphertext");
  if (!curve || !ciphertexts) return fail(ToDeviceError::malformed_event);
  const auto* mine = json_object(*ciphertexts, identity.curve25519.c_str());
  if (!mine) return fail(ToDeviceError::not_for_this_device);
  const auto* body = json_string(*mine, "body");
  const auto type_field = mine->find("type");
  if (!body || type_field == mine->end() || !type_field->is_number_integer()) {
    return fail(ToDeviceError::bad_ciphertext);
  }
  const auto type = type_field->get<std::int64_t>();
  if ((type != 0 && type != 1) || body->size() > kMaxOlmMessage) {
    return fail(ToDeviceError::bad_ciphertext);
  }
  const OlmMessage message{type == 0 ? OlmMessageType::pre_key : OlmMessageType::normal, *body};

  // A pre-key message on the fallback key would otherwise build its session again.
  const Bytes seen =
      env.keyed_hash(as_bytes(store::join_key({*curve, std::to_string(type), *body})));
  if (read(olm_seen_table, seen)) return fail(ToDeviceError::replayed);

  store::Changes changes;
  // Looked up, not inserted: a sender key nobody has a session with must leave no trace.
  const auto existing = olm_sessions.find(*curve);
  std::vector<OlmSessionEntry> no_sessions;
  auto& sessions = existing != olm_sessions.end() ? existing->second : no_sessions;
  std::optional<SecretBuffer> plain;
  OlmSessionEntry* used = nullptr;
  for (auto it = sessions.rbegin(); it != sessions.rend(); ++it) {
    if (message.type == OlmMessageType::pre_key && !it->session.matches_inbound(*curve, message)) {
      continue;
    }
    auto decrypted = it->session.decrypt(message);
    if (decrypted) {
      plain = std::move(*decrypted);
      used = &*it;
      break;
    }
    if (from_olm(decrypted.error()) == ToDeviceError::bad_ciphertext) {
      return fail(ToDeviceError::bad_ciphertext);
    }
  }
  bool account_changed = false;
  bool session_created = false;
  if (!plain && message.type == OlmMessageType::pre_key) {
    const SecretBuffer account_before = account->pickle(pickle_key.view());
    auto created = OlmSession::inbound(*account, *curve, message);
    if (!created && from_olm(created.error()) == ToDeviceError::bad_ciphertext) {
      return fail(ToDeviceError::bad_ciphertext);
    }
    if (created) {
      // On a one-time key a replay fails whatever its spelling: the key is spent with the first
      // decryption. The fallback key stays, and libolm accepts a pre-key message in several
      // spellings (docs/security.md, finding 6), so the replay record of a session opened on
      // it is its first plaintext. (libolm pickles deterministically: an unchanged account
      // means no one-time key was spent.)
      const SecretBuffer account_after = account->pickle(pickle_key.view());
      if (account_after.size() == account_before.size() &&
          std::equal(account_after.view().begin(), account_after.view().end(),
                     account_before.view().begin())) {
        std::string first = store::join_key({"fallback", *curve});
        first.append(as_chars(created->second.view()));
        const Bytes first_seen = env.keyed_hash(as_bytes(first));
        wipe(first);
        if (read(olm_seen_table, first_seen)) return fail(ToDeviceError::replayed);
        changes.put(olm_seen_table, first_seen, static_cast<std::uint64_t>(now()));
      }
      std::string id = created->first.session_id();
      auto& list = olm_sessions[*curve];
      list.push_back({std::move(created->first), std::move(id), now(), next_seq++});
      used = &list.back();
      plain = std::move(created->second);
      account_changed = true;
      session_created = true;
    }
  }
  if (!plain) {
    start_wedged_recovery(*sender, *curve, changes);
    commit(std::move(changes));
    return fail(ToDeviceError::no_session);
  }
  // Decrypted: the spent one-time key and the replay record are one step, whatever the
  // plaintext turns out to be; the session's step too, except that of a new session that
  // turns out useless (below).
  if (account_changed) save_account(changes);
  changes.put(olm_seen_table, seen, static_cast<std::uint64_t>(now()));

  // What the plaintext showed of its sender: its known device (keys checked), or that the
  // device is not known yet and enclosed no keys (they are being fetched).
  const DeviceInfo* sender_device = nullptr;
  bool device_pending = false;
  auto result = [&]() -> Result<DecryptedToDevice, ToDeviceError> {
    auto parsed = parse_json_strict(as_chars(plain->view()));
    if (!parsed) return fail(ToDeviceError::bad_plaintext);
    const json& p = *parsed;
    const auto* inner_type = json_string(p, "type");
    const auto* inner_content = json_object(p, "content");
    const auto* inner_sender = json_string(p, "sender");
    const auto* recipient = json_string(p, "recipient");
    const auto* recipient_keys = json_object(p, "recipient_keys");
    const auto* keys = json_object(p, "keys");
    const auto* recipient_ed = recipient_keys ? json_string(*recipient_keys, "ed25519") : nullptr;
    const auto* sender_ed = keys ? json_string(*keys, "ed25519") : nullptr;
    if (!inner_type || !inner_content || !inner_sender || !recipient || !recipient_ed ||
        !sender_ed) {
      return fail(ToDeviceError::bad_plaintext);
    }
    if (*inner_sender != *sender) return fail(ToDeviceError::sender_mismatch);
    if (*recipient != user_id || *recipient_ed != identity.ed25519) {
      return fail(ToDeviceError::recipient_mismatch);
    }

    const DeviceInfo* device = device_by_curve(*sender, *curve);
    if (!device) {
      // MSC4147: the sender's device keys travel inside, so a first message is not lost while
      // we catch up with the sender's device list.
      const json* enclosed = json_object(p, kSenderDeviceKeys);
      if (!enclosed) enclosed = json_object(p, kMsc4147DeviceKeys);
      const auto* enclosed_id = enclosed ? json_string(*enclosed, "device_id") : nullptr;
      mark_outdated(*sender, changes);
      if (!enclosed_id) {
        device_pending = true;
        return fail(ToDeviceError::unknown_device);
      }
      DeviceInfo info = classify_device(*enclosed, *sender, *enclosed_id);
      auto& known = devices[*sender];
      if (info.trust == DeviceTrust::invalid || info.curve25519 != *curve ||
          known.contains(*enclosed_id)) {
        return fail(ToDeviceError::unknown_device);
      }
      save_device(changes, info);
      device = &(known[*enclosed_id] = std::move(info));
    }
    if (device->ed25519 != *sender_ed) return fail(ToDeviceError::sender_mismatch);
    sender_device = device;
    if (device->trust == DeviceTrust::invalid) return fail(ToDeviceError::untrusted_device);

    if (*inner_type == "m.room_key") {
      if (device->trust != DeviceTrust::attested) return fail(ToDeviceError::untrusted_device);
      const auto* room = json_string(*inner_content, "room_id");
      if (room && room_key_filter && !room_key_filter(*room, *device->address))
        return fail(ToDeviceError::room_key_refused);
      auto stored = receive_room_key(*inner_content, *device, changes);
      if (!stored) return fail(stored.error());
      ++outcome.room_keys_received;
      return DecryptedToDevice{};
    }
    if (*inner_type == "m.forwarded_room_key") return fail(ToDeviceError::forwarded_key_refused);
    if (*inner_type == "m.dummy") return DecryptedToDevice{};
    return DecryptedToDevice{*inner_type,        *inner_content, *sender,        device->device_id,
                             device->curve25519, device->trust,  device->address};
  }();
  // A new session is kept only with an attested device, or with one not known yet (its keys
  // are being fetched; bounded by the node's budget of new sessions): fresh keys that open
  // sessions with a garbage plaintext, or from a device that is not attested, leave none in
  // memory or in the store.
  const bool keep = !session_created || device_pending ||
                    (sender_device && sender_device->trust == DeviceTrust::attested);
  if (keep) {
    save_olm_session(changes, *curve, *used);
  } else {
    auto& list = olm_sessions[*curve];
    list.pop_back();
    if (list.empty()) olm_sessions.erase(*curve);
  }
  commit(std::move(changes));
  return result;
}

ShareOutcome E2eeMachine::Impl::encrypt_to_device(const std::string& user, const std::string& type,
                                                  const json& content) {
  ShareOutcome outcome;
  store::Changes changes;
  if (!tracked.contains(user)) mark_outdated(user, changes);
  if (tracked[user]) {
    outcome.users_pending_query.push_back(user);
    commit(std::move(changes));
    return outcome;
  }
  std::vector<const DeviceInfo*> targets;
  for (const auto& [id, device] : devices[user]) {
    if (user == user_id && id == device_id) continue;
    if (device.trust != DeviceTrust::attested) continue;
    if (!newest_session(device.curve25519)) {
      outcome.devices_pending_session.push_back({user, id});
    } else {
      targets.push_back(&device);
    }
  }
  if (!outcome.devices_pending_session.empty()) {
    // All or nothing, so that a retry does not send the payload twice to the ready devices.
    queue_claim(outcome.devices_pending_session);
    commit(std::move(changes));
    return outcome;
  }
  json messages = json::object();
  for (const DeviceInfo* device : targets) {
    messages[user][device->device_id] = *olm_encrypt(changes, *device, type, content);
    outcome.sent.push_back({user, device->device_id});
  }
  if (!messages.empty())
    outcome.requests.push_back(queue_to_device(changes, "m.room.encrypted", std::move(messages)));
  commit(std::move(changes));
  return outcome;
}

}  // namespace mrt
