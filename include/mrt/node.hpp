// File: mrt/node.hpp
//
// A Raiden node's transport: a Matrix device on a homeserver (or on several: failover and
// multi-homing), logged in with the node's Ethereum key (PROTOCOL.md §2), that sends signed
// envelopes (§4) to other addresses over Megolm-encrypted DM rooms or Olm to-device messages
// (§5) and delivers each message it accepts to the application exactly once.
//
//   mrt::NodeConfig config{.homeserver = "http://127.0.0.1:8008", .data_dir = "node-a"};
//   auto node = mrt::Node::open(config, key);              // the store is opened here
//   if (!node) fail(node.error().message);
//   if (auto started = node->start(); !started) fail(started.error().message);
//   auto id = node->send(peer, "balance proof …");         // durable when it returns
//   while (auto event = node->next_event(std::chrono::seconds(1))) {
//     if (event->type == mrt::NodeEventType::message) handle(event->body);
//     node->consumed(*event);       // not redelivered after a restart from now on
//   }
//   node->stop();
//
// Delivery: send() writes the signed envelope to the durable outbox before it returns; the node
// transmits it, resends the identical envelope with backoff until the recipient acks it, and
// reports `delivered`, or `failed` once `ts + max_age` has passed. A received message is made
// durable (with its nonce in the replay window) before it is acked and before the application
// sees it; it stays in the inbox until the application has consumed it, so a crash redelivers
// an unconsumed message at the next start and never delivers a consumed one again. The same
// holds for `delivered` and `failed`: reported again after a restart until consumed.
//
// Thread-safe: every member may be called from any thread. The node runs threads of its own:
// HTTP I/O, one sync/crypto worker per homeserver in use, the store's writer, the failover
// monitor, and the event thread when NodeConfig::on_event is set; none of its calls blocks them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mrt/capabilities.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/envelope.hpp>
#include <mrt/eth.hpp>
#include <mrt/result.hpp>
#include <mrt/store/env.hpp>

namespace mrt {

// How unicast envelopes travel (PROTOCOL.md §5).
enum class Carrier : int {
  room = 1,       // a Megolm-encrypted DM room per pair of addresses (to_device until it is ready)
  to_device = 2,  // Olm to-device messages to every attested device of the recipient
};
std::string_view to_string(Carrier c);

// What the presence of an address's validated user ids says.
enum class Reachability : int {
  unknown = 0,      // no presence seen, and the homeserver did not say
  reachable = 1,    // online
  unreachable = 2,  // offline or unavailable
};
std::string_view to_string(Reachability r);

enum class NodeEventType : int {
  message = 1,       // an accepted envelope's body, from `peer`
  delivered = 2,     // `peer` acknowledged message `id`
  failed = 3,        // message `id` to `peer` was not acknowledged before ts + max_age
  rejected = 4,      // an envelope was dropped for `reason` (peer: its claimed sender, if readable)
  reachability = 5,  // `peer`'s reachability changed to `reachability`
  // The broadcast room of `topic` breaks PROTOCOL §6's rules (`detail` says which): the node
  // does not publish there and checks it again later (reported once per change of verdict).
  squatted = 6,
  // The node's store refused a write (disk full, I/O; `detail` says what): the step's work was
  // not applied and comes again (the /sync from its old position, the outbox's resends).
  // Reported once until a step succeeds again; NodeStats::store_errors counts every failure.
  store_failed = 7,
};
std::string_view to_string(NodeEventType t);

struct NodeEvent {
  NodeEventType type = NodeEventType::message;
  // The message's nonce: unique per sender, the same on both sides. For `rejected`, the
  // envelope's nonce when it was readable (rule 1 passed), else empty.
  std::string id;
  std::optional<Address> peer;
  std::string body;                    // message only
  std::int64_t ts = 0;                 // the envelope's creation time
  std::optional<Carrier> carrier;      // message and rejected on a unicast carrier: how it came
  std::optional<std::string> topic;    // message and rejected in a broadcast room: its topic
  std::optional<RejectReason> reason;  // rejected only
  std::optional<Reachability> reachability;  // reachability only
  std::string detail;                        // squatted, store_failed: why, for people
};

// The node's spam and Sybil defences (PROTOCOL.md §4 rule 8, §5 invites), beyond the size cap
// of `NodeConfig::limits`. The defaults let an honest peer through at full speed (a node
// exchanges a few messages per payment) while one peer, or one device, cannot make the node
// do unbounded work. Budgets and hourly counts are kept in memory (a restart starts them
// afresh); the outbox cap counts what the store holds.
//
// What rejected traffic costs: an envelope is judged by PROTOCOL §4's rules in order and the
// first failing rule names the rejection, so the per-sender budget and the allowlist (rule 8)
// come after the signature (rule 3): the sender is only known once its signature recovered.
// That one ecrecover is the most a rejected envelope costs (the rules after it read memory and
// the replay window). An Olm pre-key message over its budget is dropped before any decryption;
// an invite over the hourly cap costs nothing, another refused invite at most the one check of
// its inviter's displayname (remembered per user id).
struct Policy {
  // Rule 8 `rate_limited`: each sender's budget of accepted envelopes (unicast and broadcast),
  // a token bucket refilled at `rate_per_second` up to `burst`. An envelope rejected by an
  // earlier rule takes nothing from it. 200/s with a 2,000 burst is far above what payments
  // need and well below what the node can verify (an ecrecover takes 47 µs, docs/benchmarks.md).
  double rate_per_second = 200;
  double burst = 2000;
  // Envelopes the node verifies at all (rules 1-8, an ecrecover each), a gate before any of that
  // work keyed on what the homeserver authenticates, not on the address an envelope claims (fresh
  // keys are free): each Matrix user that sends them gets twice the budget above, and all of them
  // together this many a second (a burst of ten seconds' worth). Envelopes over either are
  // dropped unread and counted in NodeStats::envelopes_gated, with no event (a flood must not
  // become one for the application); an honest sender's resend comes through later. 2,000/s
  // costs about a tenth of a core.
  double max_verified_per_second = 2000;
  // Rule 8 `not_allowed`: when set, the only unicast senders accepted at all (e.g. the channel
  // partners the Raiden node gives). Broadcast rooms use `publishers` instead.
  std::optional<std::set<Address>> allowlist;
  // Per broadcast topic, the only addresses whose envelopes there are accepted (PROTOCOL §6);
  // a topic not listed accepts every publisher.
  std::map<std::string, std::set<Address>> publishers;

  // DM rooms other nodes make this one keep: at most this many in any rolling hour, invites
  // joined (counted when the node decides to join) and rooms created for a partner that wrote
  // first while the application has nothing to send it (NodeStats::dm_rooms_over_limit). An
  // invite over it is rejected (left, as PROTOCOL §5 does with an invite that cannot be joined)
  // before its inviter is checked; the inviter invites again after 60 s, and meanwhile
  // envelopes go over to_device, so an honest partner only waits for its room. Rooms for the
  // application's own sends are not counted. Invites not from a validated user id of a lower
  // address are never joined, whatever this says. 60: a new channel partner a minute.
  std::size_t max_new_dm_rooms_per_hour = 60;

  // Olm pre-key to-device messages that would open a new inbound session (no session with
  // their sender's Curve25519 key matches them) are handed to the E2EE machine at most this
  // many times per sender key in any rolling hour; the others are dropped unread and counted
  // in NodeStats::olm_sessions_throttled. Each costs the machine a session's key agreement and
  // an account write; a pre-key message of a session that exists opens nothing and is not
  // counted. An honest device opens one session with us, plus at most one repair of a wedged
  // channel an hour: 10 is a wide margin for implementations that open sessions more eagerly.
  std::size_t olm_sessions_per_device_per_hour = 10;
  // The sender key is the sender's choice, so the same budget holds per Matrix user (what the
  // homeserver authenticates), twice over for a user with a few devices, and for all senders
  // together this many new sessions in any rolling hour: ten times the new DM rooms a node
  // joins in an hour (max_new_dm_rooms_per_hour). An honest partner's session already exists.
  // No new session is kept at all unless its plaintext checks out and comes from an attested
  // device (or one whose keys are still being fetched).
  std::size_t olm_sessions_per_hour = 600;

  // send() refuses (NodeErrorKind::outbox_full) a message to a recipient that already has this
  // many messages waiting for its ack (delivered or failed ones no longer count), and
  // send_many() a batch that would go over it (none of it is sent), so that one dead or
  // hostile partner cannot fill the store and the resend work. 10,000: over an hour of a
  // busy channel's traffic (max_age).
  std::size_t max_outbox_per_recipient = 10'000;

  // Live challenges (Node::challenge) this node answers for one Matrix user: each costs a
  // signature and a to-device send, so a token bucket of this rate and burst; the others are
  // dropped unanswered (the challenger's own deadline tells it).
  double challenge_answers_per_second = 1;
  double challenge_answer_burst = 10;

  // Envelopes of an events room (mrt/topics.hpp) kept as evidence (Node::evidence) per topic:
  // the newest this many by their signed `ts` (per homeserver the node is homed on: each home
  // keeps what it accepted). Only the operator's envelopes are kept, each within its budget.
  std::size_t max_evidence_per_topic = 10'000;
};

// A homeserver the node may use.
struct Homeserver {
  std::string url;          // base URL, "http://127.0.0.1:8008"
  std::string server_name;  // its server_name; empty: the URL's host
};

// What the node tells a log (NodeConfig::on_log): never a secret, only server names, user and
// room ids, addresses, counts, reasons and HTTP statuses.
enum class LogLevel : int { debug = 1, info = 2, warning = 3, error = 4 };
std::string_view to_string(LogLevel l);
// The level to_string names ("debug", "info", "warning", "error"), or nullopt.
std::optional<LogLevel> log_level_named(std::string_view name);
struct LogRecord {
  LogLevel level = LogLevel::info;
  std::string component;  // sync, e2ee, ids, broadcast, homes, worker
  std::string event;  // what happened: sync_failed, relogin, request_refused, undecryptable, …
  nlohmann::json fields = nlohmann::json::object();
};

struct NodeConfig {
  std::string homeserver;   // base URL, "http://127.0.0.1:8008"
  std::string server_name;  // the homeserver's server_name; empty: the URL's host
  // Homeservers besides `homeserver` (which, when set, is the first of the list). At start the
  // node measures each one's round-trip time and keeps accounts on the `homes` fastest that
  // accept its login (the same Ethereum identity on each: @0x…:server_name). A homeserver whose
  // /sync keeps failing for `failover_after` is replaced by the next fastest: the node logs in
  // there, subscribes its topics again and resends its outbox. With homes > 1 a message goes
  // first over the fastest homeserver both ends use and is resent over every one they share;
  // the receiver accepts it once, whichever homeserver brings it (multi-homing).
  std::vector<Homeserver> homeservers;
  std::size_t homes = 1;
  std::chrono::milliseconds failover_after{10000};
  // PROTOCOL §8: the network's homeservers by server name, in order (the federation's members,
  // not only those the node may log in on). A peer's user ids are looked for as @0x…:S on each
  // (a profile look-up through the node's own homeserver, answered over federation), besides
  // the ids the application supplies (add_user_ids) and those met in shared rooms and to-device
  // messages. Empty: the server names of `homeservers`. The node's own servers always count.
  std::vector<std::string> known_servers;
  // PROTOCOL §8: the server whose aliases name the broadcast rooms (#topic:broadcast_server);
  // only a node homed there creates a missing room. Empty: the first of known_servers.
  std::string broadcast_server;
  // PROTOCOL §6: when set, a broadcast room whose creator is not one of these addresses (with a
  // user id its displayname proves) is squatted.
  std::optional<std::set<Address>> broadcast_operators;
  // Raiden's capabilities (include/mrt/capabilities.hpp), published as the avatar_url of the
  // node's profile on every home at login (written only when it differs from what is there, as
  // a profile change also goes out to every room the user is in; a server that refuses it is
  // logged, homes/capabilities_not_published, and used all the same). nullopt: left as it is.
  std::optional<Capabilities> capabilities;
  std::filesystem::path data_dir;
  Carrier carrier = Carrier::room;
  EnvelopeLimits limits;  // largest accepted envelope and max_age (also the outbox's deadline)
  Policy policy;          // spam and Sybil defences

  // Resends of an unacknowledged message: first after `resend_initial`, then doubling up to
  // `resend_max`, until ts + limits.max_age.
  std::chrono::milliseconds resend_initial{2000};
  std::chrono::milliseconds resend_max{60000};
  std::chrono::milliseconds sync_timeout{30000};       // the long-poll's server-side wait
  std::chrono::milliseconds discovery_ttl{3'600'000};  // how long discover() trusts its cache
  // The design's "trusted only after a challenge": a user id whose displayname proved it (or
  // that add_metadata brought) is used only once it also answered a live challenge
  // (Node::challenge) within 10 s; one that does not is looked up and challenged again after the
  // look-up backoff. Off by default: peers running mrt before the challenge never answer.
  bool challenge_candidates = false;

  // Durability::off is for tests and benchmarks only: it gives up exactly-once across crashes.
  store::Durability durability = store::Durability::full;

  // When set, events are handed to it (on the node's event thread, one at a time, in order)
  // instead of being queued for next_event(); an event counts as consumed when it returns,
  // unless `on_event_consumes` is false: then only Node::consumed() does (a callback that queues
  // the event for later keeps exactly-once across a crash that way).
  std::function<void(const NodeEvent&)> on_event;
  bool on_event_consumes = true;

  // When set, records at `log_level` or above are handed to it, one at a time, on whichever of
  // the node's threads saw the thing happen: it must return quickly and not call the node.
  std::function<void(const LogRecord&)> on_log;
  LogLevel log_level = LogLevel::info;

  // Milliseconds since the epoch; tests move time with it. Default: the system clock.
  std::function<std::int64_t()> now_ms;
};

struct NodeStats {
  std::uint64_t sent = 0;         // messages accepted by send()
  std::uint64_t transmitted = 0;  // envelopes handed to a carrier, resends and acks included
  std::uint64_t resent = 0;       // of those, resends of a message not acked in time
  std::uint64_t payloads = 0;     // Matrix sends (to-device or room events) carrying envelopes
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t received = 0;   // messages accepted and handed to the application
  std::uint64_t acks_sent = 0;  // ack envelopes (each acknowledges up to 256 messages)
  std::map<RejectReason, std::uint64_t> rejected;
  std::uint64_t undecryptable = 0;  // Olm or Megolm payloads the E2EE machine refused
  // The same, by the machine's reason: to-device events and DM room events.
  std::map<ToDeviceError, std::uint64_t> undecryptable_to_device;
  std::map<RoomEventError, std::uint64_t> undecryptable_room;
  // Olm pre-key messages dropped before the E2EE machine: over the sender key's budget of new
  // sessions (Policy::olm_sessions_per_device_per_hour).
  std::uint64_t olm_sessions_throttled = 0;
  // Envelopes dropped unread: over their Matrix user's or the node's verification gate
  // (Policy::max_verified_per_second); with them, each to-device or DM room event that came
  // while its sender's gate was closed (dropped before decryption).
  std::uint64_t envelopes_gated = 0;
  // DM room invites not joined: not from a validated user id of a lower address (PROTOCOL §5),
  // or, `invites_over_limit`, over Policy::max_new_dm_rooms_per_hour.
  std::uint64_t invites_refused = 0;
  std::uint64_t invites_over_limit = 0;
  // DM rooms not created for a partner that wrote first (nothing of ours to send it): over
  // Policy::max_new_dm_rooms_per_hour.
  std::uint64_t dm_rooms_over_limit = 0;
  std::size_t outbox = 0;  // messages waiting for an ack
  std::size_t inbox = 0;   // messages not yet consumed by the application
  std::uint64_t syncs = 0;
  std::uint64_t relogins = 0;      // logins again after the server revoked the access token
  std::uint64_t http_retries = 0;  // backoff resends and 429 waits of the Matrix clients
  // To-device events over 256 KiB dropped from /sync answers unread (no payload is that large).
  std::uint64_t oversized_to_device_dropped = 0;
  std::uint64_t failovers = 0;  // homeservers replaced because their /sync kept failing
  // Peers a home keeps state for (queues, acks owed, rooms being made), summed over the homes:
  // one that is idle (nothing queued or owed, not watched) is dropped every ten minutes, so
  // senders met once do not stay in memory.
  std::size_t peers = 0;
  // PROTOCOL §8: profile look-ups of candidate user ids (through the node's homeservers), those
  // that got no usable answer (404, the remote server unreachable, garbage), and those whose
  // displayname did not prove the user id (nothing is ever sent to such an id).
  std::uint64_t id_lookups = 0;
  std::uint64_t id_lookups_failed = 0;
  std::uint64_t ids_refused = 0;
  std::uint64_t squatted = 0;  // broadcast rooms found breaking PROTOCOL §6 (`squatted` events)
  // Worker steps that did not complete: the store failed (their writes were not applied and
  // what they were about comes again), or a fault of mrt's (logged, see NodeConfig::on_log).
  std::uint64_t store_errors = 0;
  std::uint64_t step_failures = 0;
  // The store's commits (each a step's writes, all or none) and its transactions (fsyncs with
  // durability full; one may carry many commits): a /sync is one commit, a send batch one.
  std::uint64_t store_commits = 0;
  std::uint64_t store_transactions = 0;
};
// The counters as one JSON object, each under its field's name; `rejected` holds every
// RejectReason (zero included) and `undecryptable_by_reason` the machine's reasons under
// `to_device` and `room`. What `mrt node`'s stats event and the SDKs' stats() carry.
nlohmann::json to_json(const NodeStats& stats);

// What a Pathfinding Service hands out for an address (Raiden's `address_metadata`): the user
// id, its displayname (the address's signature over it, PROTOCOL §2, so that a receiver can
// check the id without asking a homeserver) and the capabilities URL. Node::metadata() gives
// the node's own; Node::add_metadata() takes a peer's.
struct AddressMetadata {
  std::string user_id;
  std::string displayname;
  std::string capabilities;  // "mxc://raiden.network/cap?…", or "mxc://" for none
};
// {"user_id", "capabilities", "displayname"}, as Raiden's services write it.
nlohmann::json to_json(const AddressMetadata& metadata);

// One homeserver the node has an account on (Node::homes()).
struct HomeStatus {
  std::string url;
  std::string server_name;
  std::string user_id;
  std::string device_id;
  std::int64_t rtt_ms = 0;  // the round-trip time measured when the node chose it
};

enum class NodeErrorKind : int {
  bad_config = 1,         // a missing or malformed setting (message says which)
  store = 2,              // the data directory could not be opened (locked, another key, corrupt),
                          // or a write failed (a full disk): that call's message was not accepted
  login = 3,              // the homeserver refused the Ethereum login, or could not be reached
  not_started = 4,        // send() before start(), or after stop()
  too_large = 5,          // the signed envelope would exceed limits.max_bytes
  bad_topic = 7,          // not a topic of PROTOCOL §6 (^[a-z0-9_]{1,200}$)
  network = 8,            // the homeserver refused or did not answer (message says what)
  outbox_full = 9,        // the recipient has Policy::max_outbox_per_recipient messages unacked
  squatted = 10,          // the topic's broadcast room breaks PROTOCOL §6 (message says how)
  bad_user_id = 11,       // not @<the address>:server (add_user_ids), or its displayname does not
                          // prove it (add_metadata)
  stopped = 6,            // the node stopped while the call waited
  challenge_failed = 12,  // no valid answer to a live challenge in time (message says why)
};
std::string_view to_string(NodeErrorKind k);

struct NodeError {
  NodeErrorKind kind;
  std::string message;  // for people; never holds a secret
};

class Node {
 public:
  // Opens (or creates) the node's store in config.data_dir, sealed under a key derived from
  // `key`. Nothing touches the network yet. The key is copied; the caller may wipe its own.
  static Result<Node, NodeError> open(NodeConfig config, const PrivateKey& key);

  Node(Node&&) noexcept;
  Node& operator=(Node&&) noexcept;
  ~Node();  // stop()

  // Logs in (the same device as before, if the store has one), publishes the device's keys and
  // the signed displayname, then runs the sync loop in the background, which retries with
  // backoff whatever the network does from then on. Reports unconsumed events again and
  // resumes the outbox.
  [[nodiscard]] Result<Unit, NodeError> start();

  // Signs a message envelope to `to`, makes it durable in the outbox, and queues it for
  // transmission. Returns its id (the nonce). Many threads sending at once share one fsync.
  [[nodiscard]] Result<std::string, NodeError> send(const Address& to, std::string body);
  // The same for many messages to one recipient with one durable write; ids in order.
  [[nodiscard]] Result<std::vector<std::string>, NodeError> send_many(
      const Address& to, std::vector<std::string> bodies);

  // Stops sending message `id` (Raiden's state machine dropped it): its outbox record is erased
  // durably, no resend follows, and neither `delivered` nor `failed` is reported for it. True
  // when it was waiting for its ack; false when no such message waits (unknown, or already
  // delivered or failed: that event is reported as usual). A copy already sent may still arrive
  // and be handed to the peer's application. not_started before start() or after stop(); store
  // when the erasure could not be written (the message then goes on as before).
  [[nodiscard]] Result<bool, NodeError> cancel(const std::string& id);

  // Rule 8's lists while the node runs (Raiden learns its partners and services as it goes):
  // the unicast allowlist (nullopt: every sender) and a topic's publishers (nullopt: every
  // publisher), replacing Policy::allowlist and Policy::publishers[topic]. They apply to
  // envelopes judged from the moment the call returns and are not stored: give them again (or in
  // NodeConfig::policy) after a restart.
  void set_allowlist(std::optional<std::set<Address>> allowlist);
  [[nodiscard]] Result<Unit, NodeError> set_publishers(const std::string& topic,
                                                       std::optional<std::set<Address>> publishers);

  // Prepares for talking with `address` before the first message: looks up its user ids
  // (PROTOCOL §8), opens the DM room when this node is the pair's lower address (§5; the other
  // side's joins once invited) and asks for its reachability, whose changes then come as
  // `reachability` events. Returns at once; the work goes on in the background. Not counted
  // against Policy::max_new_dm_rooms_per_hour (the application's own choice, like its sends).
  // Kept until the node stops: watch again after a restart.
  [[nodiscard]] Result<Unit, NodeError> watch(const Address& address);

  // PROTOCOL §8 source 1: user ids the application knows for `address` (Raiden's Pathfinding
  // Service hands them out in a peer's metadata). Each is a candidate: messages go to it only
  // once its displayname proves it (checked at once, through the node's homeservers). At most
  // 16 ids per call; each must be @<address>:server (else bad_user_id, none is taken).
  [[nodiscard]] Result<Unit, NodeError> add_user_ids(const Address& address,
                                                     const std::vector<std::string>& user_ids);

  // The same from a peer's address metadata (a Pathfinding Service's answer, a route in a
  // transfer): when `metadata.displayname` proves `metadata.user_id` (PROTOCOL §2, checked
  // here, no homeserver asked) the id is validated at once and messages may go to it; without a
  // displayname it is a candidate as in add_user_ids. bad_user_id when the id is not the
  // address's or the displayname proves another; not_started before start().
  [[nodiscard]] Result<Unit, NodeError> add_metadata(const Address& address,
                                                     const AddressMetadata& metadata);

  // The design's "candidates trusted only after a challenge is answered with a signed message"
  // (docs/protocol.md "Live challenge"; PROTOCOL is silent): sends `user_id` a fresh nonce and
  // waits for its answer, signed by `address`'s key over the nonce, this node's user id and
  // `user_id`, and sent by `user_id` itself. Unit when it came within `wait`; a relayed,
  // replayed or forged answer never counts. challenge_failed when none valid came in time (or
  // the send was refused); bad_user_id when `user_id` is not @address:server; not_started.
  // A node answers others' challenges to its own user id by itself (per Matrix user, at
  // Policy::challenge_answers_per_second).
  [[nodiscard]] Result<Unit, NodeError> challenge(
      const Address& address, const std::string& user_id,
      std::chrono::milliseconds wait = std::chrono::seconds(10));

  // Raiden's capabilities while the node runs: published at once on every home, and at every
  // later login (NodeConfig::capabilities). bad_config when they do not make a valid URL
  // (include/mrt/capabilities.hpp); network when a home refused (the others have them).
  [[nodiscard]] Result<Unit, NodeError> set_capabilities(const Capabilities& capabilities);
  // A peer's capabilities, read from the avatar_url of its first validated user id that answers
  // (PROTOCOL §8's discovery first, as discover()). None published: empty. network when no user
  // id of `address` is known or none answered, with why; not_started before start().
  [[nodiscard]] Result<Capabilities, NodeError> capabilities_of(const Address& address);
  // The node's own address metadata (its fastest home's user id); not_started before start().
  [[nodiscard]] Result<AddressMetadata, NodeError> metadata() const;

  // PROTOCOL §6, §8: joins the broadcast room `#topic:B` (B: NodeConfig::broadcast_server) over
  // federation; a node homed on B creates it when it does not exist yet (a creation race is
  // settled by joining the winner's room), others retry the join with backoff. The room is
  // judged (join rule, encryption, who may post, broadcast_operators): a squatted room is
  // refused (NodeErrorKind::squatted, naming the topic and the reason). Envelopes published
  // there arrive as `message` events with `topic` set. Returns the room id once joined and
  // judged valid; the subscription is kept across restarts (a node joins again at start).
  [[nodiscard]] Result<std::string, NodeError> subscribe(const std::string& topic);
  // Signs a broadcast envelope and sends it, unencrypted, into the room of `topic` (subscribing
  // first if needed) through one of the node's homeservers (the next one if it fails); returns
  // its id once the homeserver accepted it. Refused (squatted) in a squatted room. Broadcasts are
  // not acked and not kept in the outbox: the Matrix client retries a send (same transaction id)
  // until the server answers, no further.
  [[nodiscard]] Result<std::string, NodeError> broadcast(const std::string& topic,
                                                         std::string body);
  // The envelopes of the events room of `topic` (mrt/topics.hpp: `raiden_<chain>_events_<op>`)
  // that this node accepted, oldest first, each as the canonical JSON text of the operator's
  // signed envelope: evidence that the operator published it, which anyone can check with
  // validate_envelope (its `sig`, its `topic`). Kept in the store after the messages are
  // consumed, across restarts, the newest Policy::max_evidence_per_topic. bad_topic when
  // `topic` is not an events topic. Any thread, before start() too.
  [[nodiscard]] Result<std::vector<std::string>, NodeError> evidence(
      const std::string& topic) const;

  // From the last presence of `address`'s validated user ids that reached this node (presence
  // comes with shared rooms), else what the homeserver answers now (waits for it, at most
  // 10 s). A change is also reported as a `reachability` event. Messages to an unreachable
  // peer stay in the outbox and are resent as usual.
  [[nodiscard]] Reachability reachability(const Address& address);

  // The user ids of `address` that the homeservers' user directories know (on this server or
  // federated ones) and @address:S for every known server S (PROTOCOL §8), each kept only if
  // its displayname is the address's signature over that very user id (PROTOCOL §2). Cached in
  // the store for NodeConfig::discovery_ttl.
  [[nodiscard]] Result<std::vector<std::string>, NodeError> discover(const Address& address);

  // The next event, waiting at most `wait`; nullopt on timeout or once stopped, and always
  // (at once) when NodeConfig::on_event is set.
  std::optional<NodeEvent> next_event(std::chrono::milliseconds wait);
  // The same without waiting, for an event loop that cannot block (gevent, asyncio, libuv).
  std::optional<NodeEvent> try_next_event();
  // A descriptor to poll for reading (never to read or close): readable while an event waits
  // for next_event() / try_next_event(), and for good once the node stopped. Valid as long as
  // the Node. With NodeConfig::on_event set the event thread takes the events: do not poll it.
  int event_fd() const;
  // Marks a `message`, `delivered` or `failed` event as handled: it is never reported again
  // (until then a restart reports it again). Other events need no call.
  void consumed(const NodeEvent& event);

  NodeStats stats() const;
  const Address& address() const;
  // The fastest home's (see NodeConfig::homeservers).
  std::string user_id() const;    // empty before start()
  std::string device_id() const;  // empty before the first start()
  // The homeservers in use, fastest first; empty before start().
  std::vector<HomeStatus> homes() const;

  // Stops the sync loop and the threads; queued writes are finished first. Idempotent.
  void stop();

 private:
  friend struct NodeInternals;  // the library's own access (transport/node_impl.hpp)
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt
