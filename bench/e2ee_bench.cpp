// E2EE machine costs against the primitives underneath, from the same run (bench/run.sh), in
// CPU time of the whole process (the machine's store commit runs on the store's writer thread,
// and CPU time does not count the waits a busy machine imposes):
// Megolm encrypt and decrypt of one room event through E2eeMachine (canonical JSON, the
// ratchet, the pickle and the store commit of the step, with the store's sync off) against
// direct libolm group-session calls on the same plaintext; and an Olm session set up through two
// machines (claim -> pre-key -> reply) against the same steps on bare libolm accounts.
#include <filesystem>
#include <olm/olm.h>
#include <optional>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <sodium.h>

#include <mrt/canonical_json.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/olm.hpp>
#include <mrt/owner_store_key.hpp>

#include "bench/support/raw_megolm.hpp"
#include "testing/key_hub.hpp"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
constexpr const char* kRoom = "!bench:hs";
constexpr const char* kType = "network.raiden.envelopes";

struct Node {
  std::string device;
  fs::path dir;
  mrt::PrivateKey key = mrt::PrivateKey::generate();
  std::string user = mrt::matrix_user_id(key.address(), "hs");
  std::optional<mrt::store::Env> env;
  std::optional<mrt::E2eeMachine> machine;

  explicit Node(std::string name) : device(std::move(name)) {
    dir =
        fs::temp_directory_path() / ("mrt-bench-e2ee-" + device + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    env.emplace(std::move(mrt::store::Env::open({.dir = dir,
                                                 .tables = mrt::E2eeMachine::tables(),
                                                 .durability = mrt::store::Durability::off,
                                                 .initial_map_size = std::size_t{1} << 30},
                                                mrt::store_key_for(key))
                              .value()));
    machine.emplace(std::move(mrt::E2eeMachine::open(*env, key, user, device).value()));
  }
  ~Node() {
    machine.reset();
    env.reset();
    fs::remove_all(dir);
  }
  void flush(mrt::testing::KeyHub& hub) {
    for (int round = 0; round < 10; ++round) {
      auto requests = machine->outgoing_requests();
      if (requests.empty()) return;
      for (const auto& r : requests)
        machine->mark_request_as_sent(r.id, hub.handle(user, device, r));
    }
  }
  mrt::SyncOutcome sync(mrt::testing::KeyHub& hub) {
    mrt::SyncChanges changes;
    auto& queue = hub.inbox[user][device];
    changes.to_device_events = json(queue);
    queue.clear();
    return machine->receive_sync_changes(changes);
  }
};

// A content whose event plaintext ({type, content, room_id} as canonical JSON) is `size` bytes.
json content_of_size(std::size_t size) {
  const std::size_t overhead =
      mrt::canonical_json({{"type", kType}, {"content", {{"p", ""}}}, {"room_id", kRoom}})->size();
  return {{"p", std::string(size - overhead, 'x')}};
}

// Alice with a room key shared to bob; no rotation within a benchmark.
struct Room {
  mrt::testing::KeyHub hub;
  Node alice{"ALICE"}, bob{"BOB"};
  Room() {
    alice.flush(hub);
    bob.flush(hub);
    alice.machine->set_room_encryption(kRoom, {{"rotation_period_msgs", 1'000'000'000'000},
                                               {"rotation_period_ms", 1'000'000'000'000}});
    for (int i = 0; i < 4; ++i) {
      alice.flush(hub);
      if (alice.machine->share_room_key(kRoom, {alice.user, bob.user}).complete()) break;
    }
    alice.flush(hub);
    if (bob.sync(hub).room_keys_received != 1) throw std::runtime_error("bench: no room key");
  }
  static Room& instance() {
    static Room room;
    return room;
  }
};

void BM_MachineMegolmEncrypt(benchmark::State& state) {
  Room& room = Room::instance();
  const json content = content_of_size(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(room.alice.machine->encrypt_room_event(kRoom, kType, content));
  }
}
BENCHMARK(BM_MachineMegolmEncrypt)->Arg(256)->Arg(4096)->MeasureProcessCPUTime();

void BM_MachineMegolmDecrypt(benchmark::State& state) {
  Room& room = Room::instance();
  const json content = content_of_size(static_cast<std::size_t>(state.range(0)));
  // Distinct events, made before the timing: each decryption records its (session, index).
  std::vector<json> events;
  for (std::int64_t i = 0; i < state.max_iterations; ++i) {
    events.push_back({{"type", "m.room.encrypted"},
                      {"room_id", kRoom},
                      {"sender", room.alice.user},
                      {"event_id", "$" + std::to_string(events.size()) + "-" +
                                       std::to_string(randombytes_random())},
                      {"content", *room.alice.machine->encrypt_room_event(kRoom, kType, content)}});
  }
  std::size_t next = 0;
  for (auto _ : state) {
    auto decrypted = room.bob.machine->decrypt_room_event(events[next++]);
    if (!decrypted) state.SkipWithError("decryption failed");
    benchmark::DoNotOptimize(decrypted);
  }
}
BENCHMARK(BM_MachineMegolmDecrypt)->Arg(256)->Arg(4096)->Iterations(3000)->MeasureProcessCPUTime();

std::string plaintext_of_size(std::size_t size) {
  return *mrt::canonical_json(
      {{"type", kType}, {"content", content_of_size(size)}, {"room_id", kRoom}});
}

void BM_LibolmMegolmEncrypt(benchmark::State& state) {
  mrt::bench::RawGroup group;
  const std::string plaintext = plaintext_of_size(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(group.encrypt(plaintext));
}
BENCHMARK(BM_LibolmMegolmEncrypt)->Arg(256)->Arg(4096)->MeasureProcessCPUTime();

void BM_LibolmMegolmDecrypt(benchmark::State& state) {
  mrt::bench::RawGroup group;
  const std::string message =
      group.encrypt(plaintext_of_size(static_cast<std::size_t>(state.range(0))));
  std::vector<std::uint8_t> plain;
  for (auto _ : state) benchmark::DoNotOptimize(group.decrypt(message, plain));
}
BENCHMARK(BM_LibolmMegolmDecrypt)->Arg(256)->Arg(4096)->MeasureProcessCPUTime();

// claim -> pre-key message -> decrypt -> reply -> decrypt, between alice and a new bob device
// each time (making bob is not timed).
void BM_MachineOlmSessionSetup(benchmark::State& state) {
  mrt::testing::KeyHub hub;
  Node alice("SETUP-ALICE");
  alice.flush(hub);
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto bob = std::make_unique<Node>("SETUP-BOB" + std::to_string(n++));
    bob->flush(hub);
    alice.machine->update_tracked_users({bob->user});
    alice.flush(hub);
    state.ResumeTiming();
    alice.machine->encrypt_to_device(bob->user, kType, {{"n", 1}});
    alice.flush(hub);  // the claim
    alice.machine->encrypt_to_device(bob->user, kType, {{"n", 1}});
    alice.flush(hub);  // the pre-key message
    if (bob->sync(hub).events.size() != 1) state.SkipWithError("pre-key message lost");
    bob->machine->encrypt_to_device(alice.user, kType, {{"n", 2}});
    bob->flush(hub);  // keys/query of alice
    bob->machine->encrypt_to_device(alice.user, kType, {{"n", 2}});
    bob->flush(hub);  // the reply, on the session bob just opened
    if (alice.sync(hub).events.size() != 1) state.SkipWithError("reply lost");
    state.PauseTiming();
    bob.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MachineOlmSessionSetup)->Iterations(100)->MeasureProcessCPUTime();

// The same steps on bare accounts through mrt's thin libolm wrappers: one-time key, outbound
// session, pre-key message, inbound session, reply, decryption.
void BM_LibolmOlmSessionSetup(benchmark::State& state) {
  mrt::OlmAccount alice = mrt::OlmAccount::create();
  const std::string alice_curve = alice.identity_keys().curve25519;
  for (auto _ : state) {
    state.PauseTiming();
    mrt::OlmAccount bob = mrt::OlmAccount::create();
    bob.generate_one_time_keys(1);
    const std::string otk = bob.one_time_keys().begin()->second;
    bob.mark_keys_as_published();
    state.ResumeTiming();
    auto out = mrt::OlmSession::outbound(alice, bob.identity_keys().curve25519, otk).value();
    const auto pre_key = out.encrypt(mrt::as_bytes(R"({"n":1})"));
    auto [in, plain] = mrt::OlmSession::inbound(bob, alice_curve, pre_key).value();
    const auto reply = in.encrypt(mrt::as_bytes(R"({"n":2})"));
    benchmark::DoNotOptimize(out.decrypt(reply));
  }
}
BENCHMARK(BM_LibolmOlmSessionSetup)->Iterations(100)->MeasureProcessCPUTime();

}  // namespace
