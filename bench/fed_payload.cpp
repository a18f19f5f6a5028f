// The size of mrt's encrypted content for one message (fed_bench.hpp): two E2eeMachines with
// the node's user ids, device ids and payload, so that the raw path sends as many bytes.
#include <stdexcept>

#include <mrt/e2ee_machine.hpp>
#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>
#include <mrt/store/env.hpp>

#include "fed_bench.hpp"
#include "testing/key_hub.hpp"
#include "transport/dm_room.hpp"

namespace mrt::bench::fed {

namespace {

namespace fs = std::filesystem;

struct Side {
  PrivateKey key = PrivateKey::generate();
  std::string user, device;
  std::optional<store::Env> env;
  std::optional<E2eeMachine> machine;
  std::optional<json> last_to_device;  // the content of the last to-device request sent

  Side(const std::string& server, std::string device_id, const fs::path& dir)
      : user(matrix_user_id(key.address(), server)), device(std::move(device_id)) {
    auto e = store::Env::open(
        {.dir = dir, .tables = E2eeMachine::tables(), .durability = store::Durability::off},
        store_key_for(key));
    if (!e) throw std::runtime_error("payload sizes: store: " + e.error().message);
    env.emplace(std::move(*e));
    auto m = E2eeMachine::open(*env, key, user, device);
    if (!m) throw std::runtime_error("payload sizes: machine does not open");
    machine.emplace(std::move(*m));
  }
  ~Side() {
    machine.reset();
    env.reset();
  }

  void flush(testing::KeyHub& hub) {
    for (int round = 0; round < 10; ++round) {
      auto requests = machine->outgoing_requests();
      if (requests.empty()) return;
      for (const auto& r : requests) {
        if (r.type == RequestType::to_device) {
          for (const auto& [u, per_device] : r.body.at("messages").items())
            for (const auto& [d, content] : per_device.items()) last_to_device = content;
        }
        machine->mark_request_as_sent(r.id, hub.handle(user, device, r));
      }
    }
  }
  std::size_t sync(testing::KeyHub& hub) {
    SyncChanges changes;
    auto& queue = hub.inbox[user][device];
    changes.to_device_events = json(queue);
    queue.clear();
    return machine->receive_sync_changes(changes).events.size();
  }
  // Olm-encrypts `payload` to `to` as the node does; the content's compact size.
  std::size_t to_device(testing::KeyHub& hub, Side& to, const json& payload) {
    last_to_device.reset();
    for (int i = 0; i < 4 && !last_to_device; ++i) {
      machine->encrypt_to_device(to.user, kEnvelopesEventType, payload);
      flush(hub);  // keys/query, keys/claim, then the message
    }
    if (!last_to_device) throw std::runtime_error("payload sizes: no to-device message");
    if (to.sync(hub) != 1) throw std::runtime_error("payload sizes: to-device message lost");
    return last_to_device->dump().size();
  }
};

}  // namespace

PayloadSizes mrt_payload_sizes(const PayloadParties& parties, std::size_t body_bytes,
                               const fs::path& dir) {
  fs::remove_all(dir);
  PayloadSizes sizes;
  {
    testing::KeyHub hub;
    Side a(parties.server_a, parties.device_a, dir / "a");
    Side b(parties.server_b, parties.device_b, dir / "b");
    a.flush(hub);
    b.flush(hub);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto payload = [&](const Side& from, const Side& to) {
      const Envelope e =
          Envelope::message(from.key, to.key.address(), std::string(body_bytes, 'x'), now);
      sizes.envelope = e.to_json().dump().size();
      return json{{"envelopes", json::array({e.to_json()})}};
    };
    // a's first messages are pre-key messages; b answers on the session they opened (as its
    // acks do), after which both sides send normal messages.
    sizes.to_device_prekey = a.to_device(hub, b, payload(a, b));
    b.to_device(hub, a, payload(b, a));
    sizes.to_device = a.to_device(hub, b, payload(a, b));
    if (b.to_device(hub, a, payload(b, a)) != sizes.to_device)
      throw std::runtime_error("payload sizes: the two directions differ");

    // Megolm: the DM room's encryption settings, the key shared to b.
    const json create = transport::dm_room_create_body(a.key.address(), b.key.address(), {});
    a.machine->set_room_encryption(parties.room_id, create["initial_state"][0]["content"]);
    for (int i = 0; i < 4; ++i) {
      a.flush(hub);
      if (a.machine->share_room_key(parties.room_id, {a.user, b.user}).complete()) break;
    }
    a.flush(hub);
    b.sync(hub);
    auto content =
        a.machine->encrypt_room_event(parties.room_id, kEnvelopesEventType, payload(a, b));
    if (!content) throw std::runtime_error("payload sizes: Megolm encryption failed");
    sizes.room = content->dump().size();
  }
  fs::remove_all(dir);
  return sizes;
}

}  // namespace mrt::bench::fed
