// The federation benchmark's parts (bench/federation_bench.cpp; docs/benchmarks.md,
// "Federation"): the raw homeserver path, a plain Matrix user on bare HTTP with the
// project's MatrixClient and its own /sync long-poll loop (fed_raw.cpp); and the size of the
// encrypted content mrt sends for one message, from two E2eeMachines fed the node's own
// payload (fed_payload.cpp), so that the raw path can send the same number of bytes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/node.hpp>
#include <mrt/store/env.hpp>

#include "transport/http_io.hpp"
#include "transport/matrix_client.hpp"

namespace mrt::bench::fed {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// One homeserver, as the run was given it.
struct Server {
  std::string name;  // server_name: "127.0.0.1:38448"
  std::string url;   // client API: "http://127.0.0.1:38008"
  pid_t pid = 0;     // for its CPU time; 0: not measured
};

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The raw event type of the benchmark's plain events.
inline constexpr const char* kRawEventType = "network.raiden.bench";

// An event content {"n": marker, "pad": "xx…"} whose compact JSON (what MatrixClient sends) is
// exactly `bytes` long (or as short as it can be).
json padded_content(const std::string& marker, std::size_t bytes);

// A plain Matrix user: a fresh Ethereum key, logged in with login_ethereum (PROTOCOL §2, so the
// server treats it as it treats a node's account), its own HttpIo and /sync long-poll loop (the
// node's filter, 30 s timeout), on a thread that reads each answer as it comes and records when
// it saw what: events carrying a marker ("n") sent to it as to-device or into a room it is in,
// invites, and other users' joins. The times are taken when the answer's JSON is in hand.
class RawUser {
 public:
  RawUser(const Server& server, std::string label);  // logs in; throws std::runtime_error
  ~RawUser();                                        // stops the loop (cancels the long-poll)
  RawUser(const RawUser&) = delete;
  RawUser& operator=(const RawUser&) = delete;

  // The initial sync, then the loop on its thread. Returns once the initial sync is in.
  void start_sync();

  const std::string& label() const { return label_; }
  const std::string& user_id() const { return user_id_; }
  const std::string& device_id() const { return device_id_; }
  Address address() const { return key_.address(); }
  transport::MatrixClient& client() { return *client_; }
  std::uint64_t syncs() const;

  // When the sync loop saw the to-device event (key "td:" + marker), the room event ("rm:" +
  // marker), the invite to a room ("invite:" + room id) or another user's join ("join:" + room
  // id + " " + user id). Throws std::runtime_error when it has not by `deadline`.
  Clock::time_point wait(const std::string& key, Clock::time_point deadline);

 private:
  void loop();
  void take(const json& body, Clock::time_point at);

  std::string label_;
  PrivateKey key_;
  std::string server_name_;
  std::unique_ptr<transport::HttpIo> io_;
  std::unique_ptr<transport::MatrixClient> client_;
  std::string user_id_, device_id_;
  std::string since_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Clock::time_point> seen_;
  std::uint64_t syncs_ = 0;
  std::uint64_t sync_errors_ = 0;
  bool stopping_ = false;
};

// The content bytes of mrt's m.room.encrypted events for a payload of one message envelope
// ({"envelopes": [envelope]}, body of `body_bytes`), as the node builds and sends them.
struct PayloadSizes {
  std::size_t to_device = 0;         // Olm, normal message (type 1): an established session
  std::size_t to_device_prekey = 0;  // Olm pre-key message (type 0): a session's first messages
  std::size_t room = 0;              // Megolm
  std::size_t envelope = 0;          // the envelope's compact JSON
};
struct PayloadParties {
  std::string server_a, device_a;  // the sender's server name and device id
  std::string server_b, device_b;  // the recipient's
  std::string room_id;             // a room id of the length the DM room's has
};
// Two E2eeMachines (stores under `dir`, durability off) exchange the node's payloads through
// an in-memory key directory (testing/key_hub.hpp) until their Olm session is
// established both ways, and one shares a Megolm key with the other.
PayloadSizes mrt_payload_sizes(const PayloadParties& parties, std::size_t body_bytes,
                               const std::filesystem::path& dir);

// ---- one setup's measurements (fed_run.cpp) ----

struct RunOptions {
  std::size_t samples = 100;  // per series (raw, mrt per durability), after the warm-up
  std::size_t warmup = 10;
  // Series take turns every `block` samples back to back (gap 0), every `gap_block` samples
  // with a gap: back to back, a series' first message after another's may wait for what that
  // one left in Synapse's queues (below), so turns are rarer; with a gap nothing is left, and
  // turns at every message spread the machine's other load evenly over the series.
  std::size_t block = 10;
  std::size_t gap_block = 1;
  // Each latency series is measured once per gap: a pause before every message. With 0 the
  // messages go back to back (each after the last one's `delivered`); a gap longer than
  // Synapse's federation wake-up stagger (100 ms) lets its queue go idle in between.
  std::vector<std::chrono::milliseconds> gaps = {std::chrono::milliseconds(0),
                                                 std::chrono::milliseconds(250)};
  std::size_t first_contacts = 4;
  // The raw room path's event types, each its own series: the first is the goal's reference.
  // Synapse runs its push rules on every room event, and the default ones match m.room.encrypted
  // in a two-member room (a notification per event, counted in every /sync of the receiver), so
  // that type shows what the homeserver charges any encrypted DM, mrt's or not.
  std::vector<std::string> raw_room_types = {kRawEventType, "m.room.encrypted"};
  std::vector<Carrier> carriers = {Carrier::to_device, Carrier::room};
  std::size_t body_bytes = 128;
  std::vector<store::Durability> durabilities = {store::Durability::full, store::Durability::off};
  // How an mrt series paces its messages: "acked" sends each after the last one's `delivered`
  // (a request waiting for its transport ack); "at-once" sends each as soon as the last one
  // arrived, as the raw series do (an application that answers at once: its reply may carry the
  // ack of what it answers).
  std::vector<std::string> mrt_paces = {"acked", "at-once"};
  std::chrono::milliseconds patience{60000};  // one message or step; beyond it the run fails
  std::filesystem::path root;                 // the nodes' stores go under it
};

// One setup: user (node) A on `a`, user (node) B on `b` (the same server or two). Every node
// knows both server names (`known_servers`). Returns the setup's results (see
// federation_bench.cpp for the fields); throws std::runtime_error when something does not
// arrive within the patience.
json run_setup(const std::string& name, const Server& a, const Server& b,
               const std::vector<std::string>& known_servers, const RunOptions& options);

}  // namespace mrt::bench::fed
