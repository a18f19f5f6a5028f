// transport/node_worker.hpp (internal): the thread that runs a node.
//
// Everything that touches the E2EE machine, the rooms and the in-memory outbox happens on this
// one thread, as tasks: HTTP completions (which arrive on the I/O thread) and the application's
// sends are posted here, so nothing needs a lock and nothing blocks the I/O thread. The worker
// may wait for the store's group commit (an fsync), never for the network.
//
// Per /sync answer: the machine takes the to-device events (less the Olm pre-key messages over
// their sender key's budget of new sessions, e2ee_driver.hpp) and key counts; invites from the
// lower address of a pair are validated and joined (within the hourly cap); DM rooms are judged
// (dm_room.hpp) and left when wrong; envelopes (Olm, Megolm, or plaintext that is then refused) go
// through PROTOCOL §4 rules 1-8; the accepted ones, their nonces, erased outbox records and
// next_batch are committed together; only then are acks sent and events handed to the application.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/node.hpp>

#include "broadcast_room.hpp"
#include "dm_room.hpp"
#include "e2ee_driver.hpp"
#include "held_room_events.hpp"
#include "home_set.hpp"
#include "intake_rules.hpp"
#include "matrix_client.hpp"
#include "node_tables.hpp"
#include "outbox.hpp"
#include "peer_ids.hpp"
#include "presence.hpp"
#include "rolling_window.hpp"

namespace mrt::transport {

// The errcode of the MatrixError a broadcast room's callback gets when the room is squatted
// (PROTOCOL §6); Node turns it into NodeErrorKind::squatted.
inline constexpr const char* kSquattedErrcode = "MRT_SQUATTED";
MatrixError squatted_error(const std::string& topic, const std::string& why);

// Milliseconds of the steady clock: timers, backoffs and health, never wall time.
inline std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// NodeStats behind a lock: the worker counts, any thread reads.
class NodeCounters {
 public:
  template <class F>
  void update(F&& f) {
    std::lock_guard lock(mutex_);
    f(stats_);
  }
  NodeStats snapshot() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  // Messages per recipient not yet delivered or failed (Policy::max_outbox_per_recipient):
  // send_many() reserves before it writes, the worker releases as they settle.
  // Adds `n` to `to`'s count unless that would take it above `limit`.
  bool reserve_outbox(const Address& to, std::size_t n, std::size_t limit) {
    std::lock_guard lock(mutex_);
    std::size_t& count = unacked_[to];
    if (n > limit || count > limit - n) {
      if (count == 0) unacked_.erase(to);
      return false;
    }
    count += n;
    return true;
  }
  void release_outbox(const Address& to, std::size_t n = 1) {
    std::lock_guard lock(mutex_);
    auto it = unacked_.find(to);
    if (it == unacked_.end()) return;
    it->second -= std::min(n, it->second);
    if (it->second == 0) unacked_.erase(it);
  }

 private:
  mutable std::mutex mutex_;
  NodeStats stats_;
  std::map<Address, std::size_t> unacked_;
};

struct NodeWorkerContext {
  const NodeConfig& config;
  const PrivateKey& key;
  store::Env& env;
  const NodeTables& tables;
  HomeNamespace home;  // this worker's homeserver and its part of the store
  MatrixCaller& client;
  HomeSet& homes;            // what the node's homes share (one home: still the same rules)
  const IntakeRules& rules;  // PROTOCOL §4 rules 6-8, with the lists the application may change
  NodeCounters& counters;
  std::function<void(NodeEvent)> emit;  // thread-safe
  // Thread-safe; cheap when nobody listens at that level.
  std::function<void(LogLevel, const char* component, const char* event, nlohmann::json fields)>
      log;
  std::function<std::int64_t()> now_ms;  // wall time: envelopes' ts and max_age
  // Steady time: timers, backoffs, schedules and hourly caps (never wall time).
  std::function<std::int64_t()> steady_ms = transport::steady_ms;
};

class NodeWorker {
 public:
  NodeWorker(NodeWorkerContext context, E2eeMachine machine, std::string since);
  ~NodeWorker();
  NodeWorker(const NodeWorker&) = delete;
  NodeWorker& operator=(const NodeWorker&) = delete;

  // Runs the thread and starts syncing. The node hands it the outbox (add_to_outbox).
  void start();
  // The same without the thread, for a caller that runs the worker itself (a test in virtual
  // time, with ctx.steady_ms its clock): run_due() whenever steady_ms reaches next_wake().
  void start_driven();
  // Runs the tasks posted so far and the timers due, then one step: the tick when due, the send
  // batch, the machine's requests. What the thread does each time it wakes.
  void run_due();
  // When run_due() has something to do (steady ms): now while tasks wait, else the next timer or
  // tick.
  std::int64_t next_wake() const;
  // Waits (up to 2 s) until owed acks have left, then joins the thread. Tasks posted afterwards
  // are dropped. Call before the HttpIo shuts down
  // (its completions post here) and destroy the worker only after that.
  void stop();
  // Starts no /sync from now on and returns once the worker has seen that (up to 1 s): a /sync
  // begun after the node set its presence offline would set it online again (Synapse does).
  void stop_syncing();

  // Thread-safe: messages whose outbox records are durable.
  void add_to_outbox(std::vector<OutboxEntry> entries);
  // Thread-safe: another home settled this message (HomeSet::settle); stop sending it.
  void forget(std::string nonce);

  // Thread-safe. PROTOCOL §6, §8: joins (or, on the broadcast server, creates) the room of
  // `topic` and judges it; `done` gets its room id, or why not (kSquattedErrcode: squatted), on
  // the worker thread.
  using RoomCallback = std::function<void(Result<std::string, MatrixError>)>;
  void subscribe(std::string topic, RoomCallback done);
  // Thread-safe: sends a signed broadcast envelope into the room of `topic` (subscribing first);
  // `done` gets the event id, or why not.
  void broadcast(std::string topic, nlohmann::json envelope, RoomCallback done);
  // Thread-safe: what the presence of `address`'s validated user ids says, asking the
  // homeserver when nothing came by /sync; `done` runs on the worker thread.
  void reachability(const Address& address, std::function<void(Reachability)> done);
  // Thread-safe: the validated user ids of `address` (cached until discovery_ttl passes).
  using DiscoverCallback = std::function<void(Result<std::vector<std::string>, MatrixError>)>;
  void discover(const Address& address, DiscoverCallback done);
  // Thread-safe: PROTOCOL §8 source 1, user ids the application supplies for `address` (each
  // already checked to be @address:server); they are looked up at once.
  void add_user_ids(const Address& address, std::vector<std::string> user_ids);
  // Thread-safe (Node::add_metadata): an id of `address` whose displayname the caller saw prove
  // it (PROTOCOL §2); validated without a look-up.
  void add_proven_user_id(const Address& address, std::string user_id);
  // Thread-safe: one request through this home's client (a peer's profile, for Node); `done`
  // runs on any thread.
  void request(MatrixCall call, std::function<void(MatrixResult)> done);
  // Thread-safe: sets the avatar_url of this home's user (Node::set_capabilities).
  void set_avatar_url(std::string url, std::function<void(MatrixResult)> done);
  // Thread-safe (Node::challenge; live_challenge.hpp): sends `target` a fresh challenge and
  // calls `done` once, on the worker thread: with the address a valid answer proved, or why not
  // (no valid answer within `wait_ms`, the send refused, too many challenges pending).
  using ChallengeCallback = std::function<void(Result<Address, std::string>)>;
  void challenge(std::string target, std::int64_t wait_ms, ChallengeCallback done);
  // Thread-safe (Node::watch): `address` is a partner the application will talk to. Its user ids
  // are looked up, its DM room opened when this node is the lower address (PROTOCOL §5), its
  // reachability asked for; it is kept until the worker stops, whatever prune() finds.
  void watch(const Address& address);

 private:
  struct Peer;
  struct Room;
  struct Intake;
  struct BroadcastRoom;

  std::int64_t steady() const { return ctx_.steady_ms(); }
  void post(std::function<void()> task);
  void post_after(std::int64_t delay_ms, std::function<void()> task);
  void run();
  // Tasks not run yet when one failed: first in the queue again.
  void keep_tasks(std::deque<std::function<void()>>& rest);
  // Writes the node can do without (ids validated or discovered, rooms by topic, pruning): not
  // waited for; a failure is reported at the next run_due like any storage failure.
  void commit_in_background(store::Changes changes);
  void check_background_commits();
  void report_store_error(const store::Error& e);
  std::int64_t wake_at_locked() const;  // needs mutex_

  // The sync loop.
  void start_sync();
  void on_sync(MatrixResult result);
  void handle_sync(const nlohmann::json& body);
  void relogin();

  // Rooms.
  void handle_invite(const std::string& room_id, const nlohmann::json& invite_state);
  void join_room(const std::string& room_id, const Address& partner);
  // The room's whole state (GET /state): a DM room is judged on nothing less (PROTOCOL §5).
  void load_state(const std::string& room_id);
  void apply_room_state(const std::string& room_id, const nlohmann::json& events, Intake& intake);
  void judge_room(const std::string& room_id, Intake* intake);
  void leave_room(const std::string& room_id, DmRoomVerdict why);
  // A DM room of ours, joined and judged valid: its timeline's envelopes count.
  bool receives_in(const std::string& room_id) const;
  void ensure_room(Peer& peer);
  // The id of the valid DM room with `partner` where both are joined, the newest if several.
  const std::string* ready_room(const Address& partner) const;
  bool has_live_room(const Address& partner) const;
  void persist_room(const std::string& room_id, store::Changes& changes);

  // Presence (node_presence.cpp).
  void on_presence(const std::string& user_id, const std::string& presence);
  void recompute_reachability(const std::string& user_id);

  // Broadcast rooms (node_broadcast.cpp).
  void join_broadcast(const std::string& topic, RoomCallback done, int attempt, int races);
  void create_broadcast(const std::string& topic, RoomCallback done, int races);
  void remember_broadcast(const std::string& topic, const std::string& room_id);
  // Answers `done` once the room is judged (its state loaded first if needed).
  void await_verdict(const std::string& room_id, RoomCallback done);
  void load_broadcast_state(const std::string& room_id);
  void judge_broadcast(const std::string& room_id);
  void answer_waiting(const std::string& room_id);
  void apply_broadcast_state(const std::string& room_id, const nlohmann::json& events);
  void recheck_squatted();

  // Identities of other users (PROTOCOL §2, §8; node_identities.cpp), validated ids cached in
  // node_meta. Looks `user_id` up (its displayname, through this home) unless a look-up is in
  // flight or backing off: false then.
  bool look_up(const std::string& user_id);
  // Starts the look-ups due for `address` (PeerIds::due); returns the ids now in flight.
  std::vector<std::string> look_up_ids(const Address& address);
  void send_look_up(const std::string& user_id);  // the GET; PeerIds marked it in flight
  void on_looked_up(const std::string& user_id, MatrixResult result);
  // What an id's new standing changes: rooms judged again, reachability, rooms to open, and
  // whoever waited for its look-up.
  void after_id_outcome(const std::string& user_id);
  // NodeConfig::challenge_candidates: `user_id`, proven for `address` by its displayname, is
  // validated once it answers a live challenge; else its look-up counts as failed.
  void challenge_then_validate(const std::string& user_id, const Address& address);
  // Runs `then` once none of `user_ids` is being looked up any more.
  void after_look_ups(const std::vector<std::string>& user_ids, std::function<void()> then);
  void remember_validated(const std::string& user_id, const Address& address,
                          store::Changes& changes);
  bool validated(const std::string& user_id, const Address& address) const {
    return ids_.validated(user_id, address);
  }

  // Envelopes in.
  using Source = EnvelopeSource;
  void intake_payload(const nlohmann::json& content, const Source& source, Intake& intake);
  void intake_envelope(const nlohmann::json& envelope, const Source& source, Intake& intake);
  // `nonce`: the envelope's, once it passed rule 1 (empty before).
  void reject(RejectReason reason, const std::optional<Address>& claimed, const Source& source,
              Intake& intake, const std::string& nonce = "");
  void decrypt_dm_event(HeldRoomEvents::Held held, bool retry, Intake& intake);
  void finish_intake(Intake& intake);
  // An accepted envelope of an events room, kept as evidence (node_evidence.cpp).
  void keep_evidence(const std::string& topic, const Envelope& envelope, const nlohmann::json& wire,
                     Intake& intake);

  // Whether an m.room_key for `room_id` from a device attested for `sender` is one to keep: the
  // room is a DM room of ours, or one we are invited to or just joined, with `sender` its
  // partner (E2eeMachine::set_room_key_filter).
  bool room_key_expected(const std::string& room_id, const Address& sender) const;

  // Whether one more DM room invite may be joined this hour (Policy::max_new_dm_rooms_per_hour);
  // `count`: and counts it if so.
  bool admit_dm_invite(bool count);

  // Envelopes out.
  Peer& peer(const Address& address);
  // One send batch: a payload per peer that has something to send, the machine's writes for
  // all of them (and for the requests answered since the last batch) committed at once, then
  // the room events sent (the machine's to-device requests go with pump_requests).
  void transmit_all();
  // After any failed step (run()'s catch): the machine's writes not committed yet are dropped
  // (so that its memory, reloaded, and the store agree), with the room events waiting for them.
  void abandon_pending_steps();
  // `draining`: the node is stopping, so acks go at once instead of waiting for a message.
  void transmit(Peer& peer, bool draining);
  nlohmann::json ack_envelope(const Peer& peer, const std::vector<std::string>& acks,
                              std::size_t n) const;
  // One payload to `p` over `carrier` (room falls back to to_device while no room is ready).
  // False when it could not go yet (keys being set up).
  bool send_payload(Peer& p, Carrier carrier, const nlohmann::json& payload);
  bool send_over_room(Peer& peer, const Room& room, const std::string& room_id,
                      const nlohmann::json& payload);
  enum class ToDeviceSend { sent, waiting, no_devices };
  ToDeviceSend send_over_to_device(Peer& peer, const nlohmann::json& payload);
  void pump_requests();
  void on_request_done(const std::string& id, const MatrixResult& result);
  void on_carrier_done(const Address& to, bool ok);

  // Time-driven: resends, expiry, re-invites, pruning of the replay window.
  void tick();
  bool acks_settled() const;
  // Every kPruneEveryMs: nonces past the replay window, the machine's replay records, and the
  // peers with nothing going on (any address that sent one envelope has one).
  void prune();

  NodeWorkerContext ctx_;
  E2eeMachine machine_;
  E2eeDriver e2ee_;  // the machine's intake cap and its requests (in flight, retries, whose)
  Address me_;
  std::string my_user_id_;
  std::string server_name_;
  std::string since_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::multimap<std::int64_t, std::function<void()>> timers_;  // steady ms
  bool stopping_ = false;
  bool draining_ = false;
  std::condition_variable drained_;
  std::thread thread_;

  // Worker-thread state.
  bool syncs_stopped_ = false;
  std::map<Address, std::unique_ptr<Peer>> peers_;
  std::map<std::string, std::unique_ptr<Room>> rooms_;
  Outbox outbox_;
  PeerIds ids_;  // validated user ids and look-ups
  // The send batch being built (transmit_all): the machine's writes, and the room events that
  // leave once they are durable.
  store::Changes send_step_;
  struct RoomSend {
    Address to;
    std::function<void()> go;
  };
  std::vector<RoomSend> room_sends_;
  std::set<std::string> invites_handled_;
  // Invites whose inviter could not be looked up yet (room id -> invite state), retried.
  std::map<std::string, nlohmann::json> pending_invites_;
  // Invites from a lower address, under the hourly cap, not joined yet: room id -> inviter's
  // address (its keys may come before the join). Bounded: see handle_invite.
  std::map<std::string, Address> invited_by_;
  // Rooms this /sync answer shows joined, not known yet, with the partner their state names.
  std::map<std::string, Address> dm_rooms_in_sync_;
  // DM room events that came before their Megolm key, decrypted again when keys arrive.
  HeldRoomEvents held_room_events_;
  // Live challenges (node_challenge.cpp): ours waiting for their answer, by nonce; and how
  // often each Matrix user may make this node sign an answer.
  struct PendingChallenge {
    std::string target;
    ChallengeCallback done;
  };
  std::map<std::string, PendingChallenge> challenges_;
  TokenBuckets<std::string> challenge_answers_;  // Policy::challenge_answers_per_second
  // Takes the challenges and answers out of a /sync's to-device events and handles them.
  void take_challenges(nlohmann::json& to_device_events);
  // Per events topic, the keys of its evidence in the store (Policy::max_evidence_per_topic).
  std::map<std::string, std::set<std::string>> evidence_keys_;
  std::map<std::string, std::string> topic_rooms_;   // topic -> broadcast room id
  std::map<std::string, BroadcastRoom> broadcasts_;  // room id -> topic, state, verdict
  std::int64_t next_squat_check_ = 0;
  Presence presence_;
  // Run once a user id's look-up is done (whatever its outcome).
  std::map<std::string, std::vector<std::function<void()>>> after_validation_;
  RollingWindow dm_invites_joined_{RollingWindow::kHourMs};  // one key: ""
  bool sync_in_flight_ = false;
  std::int64_t sync_backoff_ms_ = 0;
  std::int64_t timeline_limit_;  // per room and /sync: worker::kTimelineLimit, less when too large
  std::int64_t next_prune_ = 0;
  std::int64_t next_tick_ = 0;  // steady ms
  bool store_failing_ = false;  // a store_failed event was emitted and no step succeeded since
  std::vector<std::future<void>> background_commits_;  // commit_in_background's, not checked yet
};

}  // namespace mrt::transport
