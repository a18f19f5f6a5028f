// Fuzz target: the E2EE machine's intake — to-device events from /sync and room events from
// timelines are peer and server input.
//
// Two machines, alice and bob, with an Olm session and a shared Megolm room key, are made once
// per process on a store in a temporary directory (Durability::off). The first input byte picks
// what the rest becomes:
//   0  JSON: a to-device event for bob (receive_sync_changes)
//   1  JSON: a room event for bob (decrypt_room_event)
//   2  bytes: the body of an Olm message (pre-key or normal, by the next byte) to bob
//   3  bytes: the ciphertext of alice's Megolm event
//   4  JSON {type, content}: a plaintext alice encrypts to bob over Olm, so that the checks of
//      decrypted plaintexts (room keys, forwarded keys, sender fields) see chosen content
// Properties:
// - nothing throws; every refusal has a named reason;
// - a room event that decrypts is attributed to the event's sender, and carries an address
//   exactly when its device is attested;
// - no input damages the channel: afterwards a fresh Olm message and a fresh Megolm event from
//   alice still reach bob, with alice's address.
// State carries over from input to input (sessions advance, replay records grow), as it does in
// a node.
#include <filesystem>
#include <optional>
#include <unistd.h>

#include <mrt/canonical_json.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>
#include <mrt/owner_store_key.hpp>

#include "fuzz_common.hpp"
#include "testing/key_hub.hpp"

namespace {

using json = nlohmann::json;
constexpr const char* kRoom = "!dm:hs.fuzz";
constexpr const char* kType = "network.raiden.envelopes";

struct Side {
  std::string device;
  mrt::PrivateKey key = mrt::PrivateKey::generate();
  std::string user = mrt::matrix_user_id(key.address(), "hs.fuzz");
  std::optional<mrt::store::Env> env;
  std::optional<mrt::E2eeMachine> machine;
};

struct Fixture {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mrt-e2ee-intake-" + std::to_string(::getpid()));
  mrt::testing::KeyHub hub;
  Side alice{"ALICE"}, bob{"BOB"};
  std::uint64_t counter = 0;

  Fixture() {
    std::filesystem::remove_all(dir);
    for (Side* s : {&alice, &bob}) {
      mrt::store::Options options{.dir = dir / s->device,
                                  .tables = mrt::E2eeMachine::tables(),
                                  .durability = mrt::store::Durability::off};
      s->env.emplace(std::move(mrt::store::Env::open(options, mrt::store_key_for(s->key)).value()));
      s->machine.emplace(
          std::move(mrt::E2eeMachine::open(*s->env, s->key, s->user, s->device).value()));
      flush(*s);
    }
    for (int i = 0; i < 4; ++i) {
      flush(alice);
      if (alice.machine->share_room_key(kRoom, {alice.user, bob.user}).complete()) break;
    }
    flush(alice);
    FUZZ_CHECK(sync_bob().room_keys_received == 1);
    check_channel_works();
    std::atexit([] { std::filesystem::remove_all(instance().dir); });
  }

  static Fixture& instance();

  void flush(Side& s) {
    for (int round = 0; round < 10; ++round) {
      auto requests = s.machine->outgoing_requests();
      if (requests.empty()) return;
      for (const auto& r : requests) {
        s.machine->mark_request_as_sent(r.id, hub.handle(s.user, s.device, r));
      }
    }
  }

  mrt::SyncOutcome sync_bob(json extra = json::array()) {
    mrt::SyncChanges changes;
    auto& queue = hub.inbox[bob.user]["BOB"];
    changes.to_device_events = json(queue);
    queue.clear();
    for (auto& e : extra) changes.to_device_events.push_back(std::move(e));
    // The transport's throttle asks this of every event first: a read, never a throw, and a
    // named sender key only for an Olm pre-key message.
    for (const auto& e : changes.to_device_events) {
      if (auto opener = bob.machine->olm_session_opener(e)) FUZZ_CHECK(!opener->empty());
    }
    auto outcome = bob.machine->receive_sync_changes(changes);
    for (const auto& r : outcome.rejected) FUZZ_CHECK(mrt::to_string(r.reason) != "unknown");
    return outcome;
  }

  // Alice's next Olm event for bob, as the hub would deliver it (not yet delivered).
  json olm_event(const std::string& type, const json& content) {
    for (int i = 0; i < 4; ++i) {
      flush(alice);
      if (alice.machine->encrypt_to_device(bob.user, type, content).complete()) break;
    }
    flush(alice);
    auto& queue = hub.inbox[bob.user]["BOB"];
    if (queue.empty()) return json();
    json event = queue.back();
    queue.clear();
    return event;
  }

  json megolm_event(const json& content) {
    auto encrypted = alice.machine->encrypt_room_event(kRoom, kType, content);
    if (!encrypted && encrypted.error() == mrt::EncryptError::session_expired) {
      for (int i = 0; i < 4; ++i) {
        flush(alice);
        if (alice.machine->share_room_key(kRoom, {alice.user, bob.user}).complete()) break;
      }
      flush(alice);
      sync_bob();
      encrypted = alice.machine->encrypt_room_event(kRoom, kType, content);
    }
    FUZZ_CHECK(encrypted.ok());
    return {{"type", "m.room.encrypted"}, {"room_id", kRoom},
            {"sender", alice.user},       {"event_id", "$" + std::to_string(++counter)},
            {"origin_server_ts", 1},      {"content", *encrypted}};
  }

  void check_room_event(const json& event) {
    auto result = bob.machine->decrypt_room_event(event);
    if (!result) {
      FUZZ_CHECK(mrt::to_string(result.error()) != "unknown");
      return;
    }
    FUZZ_CHECK(event.is_object() && event.contains("sender") && result->sender == event["sender"]);
    FUZZ_CHECK(result->address.has_value() == (result->trust == mrt::DeviceTrust::attested));
  }

  void check_channel_works() {
    const json payload = {{"n", ++counter}};
    const auto olm = sync_bob(json::array({olm_event(kType, payload)}));
    FUZZ_CHECK(olm.events.size() == 1 && olm.events[0].content == payload);
    FUZZ_CHECK(olm.events[0].address == alice.key.address());
    auto room = bob.machine->decrypt_room_event(megolm_event(payload));
    FUZZ_CHECK(room.ok() && room->content == payload && room->address == alice.key.address());
  }
};

Fixture& Fixture::instance() {
  static Fixture fixture;
  return fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  Fixture& f = Fixture::instance();
  const std::string_view rest = mrt::fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto event = mrt::parse_json_strict(rest);
      if (event) f.sync_bob(json::array({std::move(*event)}));
      break;
    }
    case 1: {
      auto event = mrt::parse_json_strict(rest);
      if (event) f.check_room_event(*event);
      break;
    }
    case 2: {
      if (rest.empty()) return 0;
      json event = f.olm_event(kType, {{"n", 0}});
      auto& ciphertext = event["content"]["ciphertext"][f.bob.machine->curve25519_key()];
      ciphertext["type"] = rest[0] & 1;
      ciphertext["body"] = std::string(rest.substr(1));
      f.sync_bob(json::array({std::move(event)}));
      break;
    }
    case 3: {
      json event = f.megolm_event({{"n", 0}});
      event["content"]["ciphertext"] = std::string(rest);
      f.check_room_event(event);
      break;
    }
    case 4: {
      auto inner = mrt::parse_json_strict(rest);
      if (!inner || !inner->is_object() || !(*inner)["type"].is_string() ||
          !(*inner)["content"].is_object() || !mrt::canonical_json(*inner)) {
        return 0;
      }
      f.sync_bob(json::array({f.olm_event((*inner)["type"], (*inner)["content"])}));
      break;
    }
  }
  f.check_channel_works();
  return 0;
}
