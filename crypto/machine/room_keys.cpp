// Megolm for DM rooms: one outbound session per room, rotated by the room's settings and when
// a member or device leaves; its key shared over Olm only with attested devices (the others get
// m.room_key.withheld); inbound sessions only from m.room_key sent over Olm by an attested
// device; decryption with the (session, index) -> event id replay check; key export/import.
#include <mrt/canonical_json.hpp>
#include <mrt/key_export.hpp>

#include "machine_impl.hpp"

namespace mrt {
namespace {

constexpr std::size_t kMaxRoomPlaintext = 65536;

RoomEventError from_megolm(MegolmError e) {
  return e == MegolmError::unknown_message_index ? RoomEventError::unknown_message_index
                                                 : RoomEventError::bad_ciphertext;
}

std::string secret_text(const SecretBuffer& secret) {
  return std::string(as_chars(secret.view()));
}

}  // namespace

InboundEntry* E2eeMachine::Impl::find_inbound(const std::string& room,
                                              const std::string& session_id) {
  const std::string key = store::join_key({room, session_id});
  if (const auto it = inbound.find(key); it != inbound.end()) return &it->second;
  auto record = read(inbound_table, key);
  if (!record) return nullptr;
  auto session =
      MegolmInboundSession::unpickle(record->at("pickle").get<std::string>(), pickle_key.view());
  if (!session) throw std::runtime_error("e2ee: a stored Megolm session does not unpickle");
  record->erase("pickle");
  return &inbound.insert_or_assign(key, InboundEntry{std::move(*session), std::move(*record)})
              .first->second;
}

bool E2eeMachine::Impl::keep_inbound(store::Changes& changes, const std::string& room,
                                     InboundEntry entry) {
  const std::string session_id = entry.session.session_id();
  if (const InboundEntry* known = find_inbound(room, session_id)) {
    // The same session from another device is a forgery; from the same one, keep the copy
    // that decrypts more.
    if (known->info.at("sender_key") != entry.info.at("sender_key") ||
        known->session.first_known_index() <= entry.session.first_known_index()) {
      return false;
    }
  }
  json record = entry.info;
  record["pickle"] = secret_text(entry.session.pickle(pickle_key.view()));
  const std::string key = store::join_key({room, session_id});
  changes.put(inbound_table, key, record);
  inbound.insert_or_assign(key, std::move(entry));
  return true;
}

void E2eeMachine::Impl::save_outbound(store::Changes& changes, const std::string& room,
                                      const OutboundEntry& e) {
  changes.put(outbound_table, room,
              json{{"pickle", secret_text(e.session.pickle(pickle_key.view()))},
                   {"created_ms", e.created_ms},
                   {"messages", e.messages},
                   {"shared_with", e.shared_with},
                   {"invalidated", e.invalidated}});
}

bool E2eeMachine::Impl::outbound_expired(const std::string& room, const OutboundEntry& e) const {
  const auto it = settings.find(room);
  const RoomSettings s = it == settings.end() ? RoomSettings{} : it->second;
  return e.invalidated || e.messages >= s.messages || now() - e.created_ms >= s.period_ms;
}

ShareOutcome E2eeMachine::Impl::share_room_key(const std::string& room,
                                               const std::vector<std::string>& members) {
  ShareOutcome outcome;
  store::Changes changes;
  for (const auto& member : members) {
    if (!tracked.contains(member)) mark_outdated(member, changes);
    if (tracked[member]) outcome.users_pending_query.push_back(member);
  }
  if (!outcome.users_pending_query.empty()) {
    commit(std::move(changes));
    return outcome;
  }

  auto current = outbound.find(room);
  bool rotate = current == outbound.end() || outbound_expired(room, current->second);
  if (!rotate) {
    // Whoever held the key and is gone (left the room, deleted the device, lost its
    // attestation) must not read what comes next.
    for (const auto& [user, per_device] : current->second.shared_with.items()) {
      const bool member = std::find(members.begin(), members.end(), user) != members.end();
      for (const auto& [device, record] : per_device.items()) {
        if (record.contains("withheld")) continue;
        const auto known = devices.find(user);
        const DeviceInfo* info = nullptr;
        if (known != devices.end()) {
          const auto d = known->second.find(device);
          if (d != known->second.end()) info = &d->second;
        }
        if (!member || !info || info->trust != DeviceTrust::attested ||
            info->curve25519 != record.value("curve", "")) {
          rotate = true;
        }
      }
    }
  }
  if (rotate) {
    OutboundEntry fresh{MegolmOutboundSession::create(), now(), 0, json::object(), false};
    // Our own copy, so that our own events (and restarts) decrypt.
    auto own = MegolmInboundSession::from_session_key(secret_text(fresh.session.session_key()));
    keep_inbound(changes, room,
                 {std::move(*own),
                  {{"sender_key", identity.curve25519},
                   {"sender_user", user_id},
                   {"sender_device", device_id},
                   {"ed25519", identity.ed25519},
                   {"origin", "own"}}});
    outbound.insert_or_assign(room, std::move(fresh));
    outcome.rotated = true;
  }
  OutboundEntry& entry = outbound.at(room);
  const std::string session_id = entry.session.session_id();
  json room_key = {{"algorithm", kMegolmAlgorithm},
                   {"room_id", room},
                   {"session_id", session_id},
                   {"session_key", secret_text(entry.session.session_key())}};
  json keys = json::object();
  json withheld = json::object();
  for (const auto& member : members) {
    for (const auto& [id, device] : devices[member]) {
      if (member == user_id && id == device_id) continue;
      if (entry.shared_with.contains(member) && entry.shared_with[member].contains(id)) {
        // A device that was refused the key while it was not attested gets it once it is, from
        // the current index on, like a device that is new to the room.
        const bool was_withheld = entry.shared_with[member][id].contains("withheld");
        if (!was_withheld || device.trust != DeviceTrust::attested) continue;
      }
      if (device.trust != DeviceTrust::attested) {
        withheld[member][id] = {{"algorithm", kMegolmAlgorithm},
                                {"room_id", room},
                                {"session_id", session_id},
                                {"sender_key", identity.curve25519},
                                {"code", "m.unverified"},
                                {"reason", "the device is not attested for an Ethereum address"}};
        entry.shared_with[member][id] = {{"withheld", true}};
        outcome.withheld.push_back({member, id});
        continue;
      }
      auto content = olm_encrypt(changes, device, "m.room_key", room_key);
      if (!content) {
        outcome.devices_pending_session.push_back({member, id});
        continue;
      }
      keys[member][id] = std::move(*content);
      entry.shared_with[member][id] = {{"index", entry.session.message_index()},
                                       {"curve", device.curve25519}};
      outcome.sent.push_back({member, id});
    }
  }
  wipe(room_key["session_key"].get_ref<std::string&>());
  if (!outcome.devices_pending_session.empty()) queue_claim(outcome.devices_pending_session);
  if (!keys.empty())
    outcome.requests.push_back(queue_to_device(changes, "m.room.encrypted", std::move(keys)));
  if (!withheld.empty()) {
    outcome.requests.push_back(
        queue_to_device(changes, "m.room_key.withheld", std::move(withheld)));
  }
  save_outbound(changes, room, entry);
  commit(std::move(changes));
  return outcome;
}

Result<json, EncryptError> E2eeMachine::Impl::encrypt_room_event(const std::string& room,
                                                                 const std::string& type,
                                                                 const json& content) {
  const auto it = outbound.find(room);
  if (it == outbound.end()) return fail(EncryptError::no_room_key);
  if (outbound_expired(room, it->second)) return fail(EncryptError::session_expired);
  auto text = canonical_json({{"type", type}, {"content", content}, {"room_id", room}});
  if (!text) return fail(EncryptError::not_canonical);
  if (text->size() > kMaxRoomPlaintext) {
    wipe(*text);
    return fail(EncryptError::too_large);
  }
  OutboundEntry& entry = it->second;
  std::string ciphertext = entry.session.encrypt(as_bytes(*text));
  wipe(*text);
  ++entry.messages;
  // The advanced ratchet is durable before the ciphertext can leave: never an index twice.
  store::Changes changes;
  save_outbound(changes, room, entry);
  commit(std::move(changes));
  return json{{"algorithm", kMegolmAlgorithm},
              {"ciphertext", std::move(ciphertext)},
              {"session_id", entry.session.session_id()},
              {"sender_key", identity.curve25519},
              {"device_id", device_id}};
}

Result<DecryptedRoomEvent, RoomEventError> E2eeMachine::Impl::decrypt_room_event(
    const json& event) {
  const auto* type = json_string(event, "type");
  const auto* room = json_string(event, "room_id");
  const auto* sender = json_string(event, "sender");
  const auto* event_id = json_string(event, "event_id");
  const auto* content = json_object(event, "content");
  if (!type || *type != "m.room.encrypted" || !room || !sender || !event_id || !content) {
    return fail(RoomEventError::malformed_event);
  }
  const auto* algorithm = json_string(*content, "algorithm");
  if (!algorithm || *algorithm != kMegolmAlgorithm) {
    return fail(RoomEventError::unsupported_algorithm);
  }
  const auto* session_id = json_string(*content, "session_id");
  const auto* ciphertext = json_string(*content, "ciphertext");
  if (!session_id || !ciphertext) return fail(RoomEventError::malformed_event);
  InboundEntry* entry = find_inbound(*room, *session_id);
  if (!entry) return fail(RoomEventError::unknown_session);
  auto decrypted = entry->session.decrypt(*ciphertext);
  if (!decrypted) return fail(from_megolm(decrypted.error()));

  const std::string index_key =
      store::join_key({*room, *session_id, std::to_string(decrypted->message_index)});
  const auto first_seen = read(index_table, index_key);
  if (first_seen && megolm_index_event(*first_seen) != *event_id)
    return fail(RoomEventError::replayed);

  auto parsed = parse_json_strict(as_chars(decrypted->plaintext.view()));
  if (!parsed) return fail(RoomEventError::bad_plaintext);
  const auto* inner_type = json_string(*parsed, "type");
  const auto* inner_content = json_object(*parsed, "content");
  const auto* inner_room = json_string(*parsed, "room_id");
  if (!inner_type || !inner_content || !inner_room) return fail(RoomEventError::bad_plaintext);
  if (*inner_room != *room) return fail(RoomEventError::room_mismatch);
  // Imported sessions do not name their user; every other one does.
  const std::string shared_by = entry->info.value("sender_user", "");
  if (!shared_by.empty() && shared_by != *sender) return fail(RoomEventError::sender_mismatch);

  if (!first_seen) {
    store::Changes changes;
    changes.put(index_table, index_key, megolm_index_record(*event_id, now()));
    commit(std::move(changes));
  }
  const std::string sender_key = entry->info.value("sender_key", "");
  DecryptedRoomEvent out{*inner_type,  *inner_content, *sender,
                         "",           sender_key,     DeviceTrust::not_attested,
                         std::nullopt, *session_id,    decrypted->message_index};
  if (shared_by == user_id && sender_key == identity.curve25519) {
    out.sender_device = device_id;
    out.trust = DeviceTrust::attested;
    out.address = eth_key.address();
  } else if (const DeviceInfo* device = device_by_curve(*sender, sender_key)) {
    out.sender_device = device->device_id;
    out.trust = device->trust;
    out.address = device->address;
  }
  return out;
}

Result<Unit, ToDeviceError> E2eeMachine::Impl::receive_room_key(const json& content,
                                                                const DeviceInfo& sender,
                                                                store::Changes& changes) {
  const auto* algorithm = json_string(content, "algorithm");
  const auto* room = json_string(content, "room_id");
  const auto* session_id = json_string(content, "session_id");
  const auto* session_key = json_string(content, "session_key");
  if (!algorithm || *algorithm != kMegolmAlgorithm || !room || !session_id || !session_key) {
    return fail(ToDeviceError::bad_room_key);
  }
  auto session = MegolmInboundSession::from_session_key(*session_key);
  if (!session || session->session_id() != *session_id) return fail(ToDeviceError::bad_room_key);
  keep_inbound(changes, *room,
               {std::move(*session),
                {{"sender_key", sender.curve25519},
                 {"sender_user", sender.user_id},
                 {"sender_device", sender.device_id},
                 {"ed25519", sender.ed25519},
                 {"origin", "m.room_key"}}});
  return Unit{};
}

std::string E2eeMachine::Impl::export_room_keys(ByteView passphrase, std::uint32_t rounds) const {
  json sessions = json::array();
  inbound_table.for_each(env.read(), {}, [&](const std::string& key, json record) {
    auto session =
        MegolmInboundSession::unpickle(record.at("pickle").get<std::string>(), pickle_key.view());
    if (!session) throw std::runtime_error("e2ee: a stored Megolm session does not unpickle");
    sessions.push_back(
        {{"algorithm", kMegolmAlgorithm},
         {"room_id", key.substr(0, key.find('\0'))},
         {"sender_key", record.at("sender_key")},
         {"session_id", session->session_id()},
         {"session_key", secret_text(session->export_at(session->first_known_index()).value())},
         {"sender_claimed_keys", {{"ed25519", record.at("ed25519")}}},
         {"forwarding_curve25519_key_chain", json::array()}});
    return true;
  });
  std::string file = encrypt_key_export(sessions, passphrase, rounds);
  for (auto& s : sessions) wipe(s["session_key"].get_ref<std::string&>());
  return file;
}

Result<std::size_t, KeyImportError> E2eeMachine::Impl::import_room_keys(std::string_view file,
                                                                        ByteView passphrase) {
  auto sessions = decrypt_key_export(file, passphrase);
  if (!sessions) {
    return fail(sessions.error() == KeyExportError::wrong_passphrase
                    ? KeyImportError::wrong_passphrase
                    : KeyImportError::bad_file);
  }
  store::Changes changes;
  std::size_t imported = 0;
  for (auto& item : *sessions) {
    const auto* algorithm = json_string(item, "algorithm");
    const auto* room = json_string(item, "room_id");
    const auto* session_id = json_string(item, "session_id");
    const auto* session_key = json_string(item, "session_key");
    const auto* sender_key = json_string(item, "sender_key");
    const json* claimed = json_object(item, "sender_claimed_keys");
    const auto* ed = claimed ? json_string(*claimed, "ed25519") : nullptr;
    if (!algorithm || *algorithm != kMegolmAlgorithm || !room || !session_id || !session_key ||
        !sender_key) {
      continue;
    }
    auto session = MegolmInboundSession::from_exported_key(*session_key);
    wipe(item["session_key"].get_ref<std::string&>());
    if (!session || session->session_id() != *session_id) continue;
    if (keep_inbound(changes, *room,
                     {std::move(*session),
                      {{"sender_key", *sender_key},
                       {"ed25519", ed ? *ed : std::string()},
                       {"origin", "import"}}})) {
      ++imported;
    }
  }
  commit(std::move(changes));
  return imported;
}

}  // namespace mrt
