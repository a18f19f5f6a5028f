// Test support for E2eeMachine scenarios: `Peer`, a machine on its own store in a temporary
// directory, which can be closed, reopened, copied and restored, talking to a `KeyHub`.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>
#include <mrt/store/env.hpp>

#include "testing/key_hub.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {

using json = nlohmann::json;

struct Clock {
  std::int64_t now = 1'764'000'000'000;  // 2025-11-24
};

class Peer {
 public:
  Peer(std::string name, KeyHub& hub, Clock& clock, const PrivateKey* shared_key = nullptr)
      : hub_(hub), clock_(clock), device_(std::move(name)), dir_(fresh_dir("e2ee-" + device_)) {
    key_ = shared_key ? shared_key->clone() : PrivateKey::generate();
    user_ = matrix_user_id(key_.address(), "hs.test");
    open();
  }
  ~Peer() {
    machine.reset();
    env_.reset();
    std::filesystem::remove_all(dir_);
    for (const auto& copy : snapshots_) std::filesystem::remove_all(copy);
  }

  void open() {
    store::Options options{
        .dir = dir_, .tables = E2eeMachine::tables(), .durability = store::Durability::off};
    env_.emplace(std::move(store::Env::open(options, store_key_for(key_)).value()));
    machine.emplace(std::move(E2eeMachine::open(*env_, key_, user_, device_, {.now_ms = [this] {
                                return clock_.now;
                              }}).value()));
  }
  void restart() {
    machine.reset();
    env_.reset();
    open();
  }

  // A copy of the store as it is now, and going back to it (a node restored from a backup).
  std::filesystem::path snapshot() {
    machine.reset();
    env_.reset();
    const auto copy = dir_.string() + ".snapshot";
    std::filesystem::remove_all(copy);
    std::filesystem::copy(dir_, copy, std::filesystem::copy_options::recursive);
    snapshots_.push_back(copy);
    open();
    return copy;
  }
  void restore(const std::filesystem::path& copy) {
    machine.reset();
    env_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(copy, dir_, std::filesystem::copy_options::recursive);
    open();
  }

  // Sends every queued request to the hub until none is left.
  void flush() {
    for (int round = 0; round < 10; ++round) {
      auto requests = machine->outgoing_requests();
      if (requests.empty()) return;
      for (const auto& r : requests)
        machine->mark_request_as_sent(r.id, hub_.handle(user_, device_, r));
    }
    FAIL() << "requests keep coming";
  }

  // A sync: the hub's queued to-device events for this device and its key counts.
  SyncOutcome sync(std::vector<std::string> changed = {}) {
    SyncChanges changes;
    auto& queue = hub_.inbox[user_][device_];
    changes.to_device_events = json(queue);
    queue.clear();
    changes.changed_users = std::move(changed);
    changes.one_time_key_counts = {{"signed_curve25519", hub_.otks[user_][device_].size()}};
    changes.unused_fallback_key_types = std::vector<std::string>{"signed_curve25519"};
    return machine->receive_sync_changes(changes);
  }

  store::Env& env() { return *env_; }
  const std::string& user() const { return user_; }
  const std::string& device() const { return device_; }
  const PrivateKey& key() const { return key_; }

  std::optional<E2eeMachine> machine;

 private:
  KeyHub& hub_;
  Clock& clock_;
  std::string device_;
  std::filesystem::path dir_;
  PrivateKey key_ = PrivateKey::generate();
  std::string user_;
  std::optional<store::Env> env_;
  std::vector<std::filesystem::path> snapshots_;
};

// Delivers `content` from one peer to every attested device of another's user over Olm,
// answering the key queries and claims on the way. Returns what the receiver's sync made of it.
inline SyncOutcome send_to_device(Peer& from, Peer& to, const std::string& type,
                                  const json& content) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    from.flush();
    const auto outcome = from.machine->encrypt_to_device(to.user(), type, content);
    if (outcome.complete()) break;
  }
  from.flush();
  return to.sync();
}

// Alice and bob with their keys published; alice's to-device events for bob.
class AliceAndBob : public ::testing::Test {
 protected:
  static inline const json kHello = {{"envelopes", {{{"hello", "bob"}}}}};
  static constexpr const char* kEnvelopes = "network.raiden.envelopes";

  void SetUp() override {
    alice.flush();
    bob.flush();
  }
  // Alice's next to-device event for bob (key queries and claims answered on the way), taken
  // from the hub before bob syncs.
  json intercept(const json& content = kHello) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      alice.flush();
      if (alice.machine->encrypt_to_device(bob.user(), kEnvelopes, content).complete()) break;
    }
    alice.flush();
    auto& queue = hub.inbox[bob.user()][bob.device()];
    EXPECT_EQ(queue.size(), 1u);
    json event = queue.empty() ? json() : queue.back();
    queue.clear();
    return event;
  }

  KeyHub hub;
  Clock clock;
  Peer alice{"ALICE", hub, clock};
  Peer bob{"BOB", hub, clock};
};

// An m.room.encrypted timeline event as a homeserver would deliver it.
inline json room_event(const std::string& room, const std::string& sender, const json& content,
                       const std::string& event_id) {
  return {{"type", "m.room.encrypted"}, {"room_id", room},       {"sender", sender},
          {"event_id", event_id},       {"origin_server_ts", 1}, {"content", content}};
}

}  // namespace mrt::testing
