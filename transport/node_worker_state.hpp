// transport/node_worker_state.hpp (internal): what the files of NodeWorker share: its
// timings and the records it keeps per peer, per room and per /sync answer. Only the worker's
// own .cpp files include it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/token_bucket.hpp"
#include "node_worker.hpp"

namespace mrt::transport {

namespace worker {

inline constexpr std::int64_t kTickMs = 100;
inline constexpr std::int64_t kIdleTickMs = 1000;         // no message waiting for its ack
inline constexpr std::int64_t kChallengeWaitMs = 10'000;  // NodeConfig::challenge_candidates

// Messages to one peer go out at most at nine tenths of the budget this node grants each sender
// (PROTOCOL §4 rule 8), which its peers, running the same defaults, grant it (the tenth left is
// for acks). A backlog that leaves at once (after an outage, or once the peer's id is proven)
// would go over it, and the peer would refuse the rest unacked, each then waiting a doubled
// resend delay.
inline TokenRate transmit_pace(const Policy& policy) {
  return {.per_second = 0.9 * policy.rate_per_second, .burst = 0.9 * policy.burst};
}
// Most envelopes one payload takes, so that one transmit step stays short.
inline constexpr std::size_t kMaxEnvelopesPerPayload = 512;
inline constexpr std::int64_t kReinviteMs = 60'000;
// A partner that has not joined after this many invites again is not invited any more until
// the application sends to it again: its pending invite stays, and to_device carries meanwhile.
inline constexpr int kMaxReinvites = 5;
inline constexpr std::int64_t kRoomRetryMs = 10'000;
// Most acks kept for a peer with no validated user id yet (the sender resends meanwhile, and a
// replay is acked again).
inline constexpr std::size_t kMaxAcksWaiting = 4096;
// A message not acked after this many transmissions makes the node re-check the recipient's
// user ids (PROTOCOL §8: it may have moved to another homeserver), and its resends alternate
// between the DM room and to_device (a room the partner can no longer read must not hold it).
inline constexpr int kStuckAttempts = 3;
// Acks wait this long for a message to the same peer to ride with (an application that answers
// at once), then go alone. Across two Synapses a second to-device send to the same server within
// 100 ms waits for Synapse's wake-up stagger, so one payload instead of two saves that wait; the
// sender's `delivered` comes this much later when no answer follows.
inline constexpr std::int64_t kAckHoldMs = 25;
// A profile look-up (PROTOCOL §8) that gets no answer in this long counts as failed.
inline constexpr std::int64_t kLookUpTimeoutMs = 10'000;
inline constexpr std::int64_t kDeviceRefreshMs = 2'000;
inline constexpr std::int64_t kPruneEveryMs = 600'000;
inline constexpr std::int64_t kSquatRecheckMs = 60'000;
inline constexpr std::int64_t kMaxSyncBackoffMs = 30'000;
// A /sync whose step failed (a store error) is asked for again after this long.
inline constexpr std::int64_t kFailedStepRetryMs = 500;
inline constexpr std::int64_t kDrainMs = 2'000;
// DM room events held for their Megolm key (held_room_events.hpp): a partner's burst of one
// timeline, and a minute, past which the sender's resend is as quick.
inline constexpr std::size_t kHeldRoomEventsPerRoom = 32;
inline constexpr std::size_t kHeldRoomEvents = 128;  // at most 8 MiB of 64 KiB events
inline constexpr std::int64_t kHeldRoomEventMaxAgeMs = 60'000;
// Members are loaded lazily and the timeline is bounded, so that joining a broadcast room with
// thousands of members fetches neither its member list nor its history (DM rooms load their
// two members explicitly: NodeWorker::load_members).
inline constexpr std::int64_t kTimelineLimit = 200;
inline std::string sync_filter(std::int64_t timeline_limit) {
  return nlohmann::json{
      {"room",
       {{"timeline", {{"limit", timeline_limit}}}, {"state", {{"lazy_load_members", true}}}}}}
      .dump();
}

// An outbox record whose outcome is known, kept until the application consumed the event.
inline nlohmann::json settled_record(const OutboxEntry& e, const char* outcome) {
  return {{"envelope", e.envelope}, {"to", e.to.to_hex()}, {"settled", outcome}};
}

inline std::string validated_key(const std::string& user_id) {
  return store::join_key({"validated", user_id});
}

}  // namespace worker

struct NodeWorker::Peer {
  Address address;
  std::deque<std::string> messages;  // nonces due for (re)transmission, in order
  std::set<std::string> queued;
  std::map<Carrier, std::vector<std::string>> acks;  // nonces to ack, by arrival carrier
  std::int64_t acks_since = 0;  // steady ms: when acks began to wait (none waiting before)
  int sends_in_flight = 0;      // room events in flight
  bool creating_room = false;
  std::int64_t next_room_attempt = 0;
  std::int64_t next_device_refresh = 0;
  std::int64_t next_recheck = 0;     // of its user ids, while deliveries keep failing
  std::uint64_t stuck_payloads = 0;  // payloads of resends only (alternating carriers)
  bool watched = false;              // Node::watch: kept, and its room opened, with no message
  TokenBucket pace;                  // transmit_pace: messages sent, resends included
};

struct NodeWorker::Room {
  DmRoomState state;
  // The whole state is known (created here, loaded with GET /state, or restored): only then
  // is the room judged (Synapse's /sync of a room just joined can hold part of it).
  bool complete = false;
  std::optional<Address> partner;
  DmRoomVerdict verdict = DmRoomVerdict::not_a_dm;
  bool judged = false;
  bool left = false;
  bool encryption_set = false;
  std::int64_t invited_at = 0;  // steady ms of our last invite (creator only)
  int reinvites = 0;            // since the application last sent to the partner
};

struct NodeWorker::BroadcastRoom {
  std::string topic;
  BroadcastRoomState state;
  bool state_loaded = false;  // fetched after the join (or at start)
  bool loading = false;
  std::optional<BroadcastVerdict> verdict;   // none until judged
  std::optional<BroadcastVerdict> reported;  // the last verdict a `squatted` event was about
  std::vector<RoomCallback> waiting;         // subscribe() calls waiting for the verdict
};

// What one /sync answer produced, committed at once before anything leaves.
struct NodeWorker::Intake {
  store::Changes changes;
  std::vector<NodeEvent> events;
  std::set<std::string> accepted;   // sender\0nonce accepted by this answer
  std::vector<std::string> claims;  // the same, claimed in HomeSet until committed
  std::vector<std::pair<Address, std::pair<Carrier, std::string>>> acks;
  std::vector<std::string> delivered;
  // Envelopes over the verification gate, and events of a user whose gate is closed: dropped
  // unread.
  std::uint64_t gated = 0;
};

}  // namespace mrt::transport
