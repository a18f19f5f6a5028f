#include "node_worker.hpp"

#include <algorithm>
#include <chrono>

#include <mrt/canonical_json.hpp>
#include <mrt/matrix_identity.hpp>

#include "envelope_batch.hpp"
#include "sync_batch.hpp"

namespace mrt::transport {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kTickMs = 100;
// Bounds the work of packing one payload (envelopes_in_one_payload is linear).
constexpr std::size_t kMaxEnvelopesPerPayload = 512;
constexpr std::int64_t kRequestRetryMs = 2000;
constexpr std::int64_t kReinviteMs = 60'000;
constexpr std::int64_t kRoomRetryMs = 10'000;
constexpr std::int64_t kValidateRetryMs = 5'000;
constexpr std::int64_t kPruneEveryMs = 600'000;
constexpr std::int64_t kMaxSyncBackoffMs = 30'000;
constexpr std::int64_t kDrainMs = 2'000;
// Only the first sync of a device has no `since`: it returns at once.
const char* kSyncFilter = R"({"room":{"timeline":{"limit":200}}})";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string validated_key(const std::string& user_id) {
  return store::join_key({"validated", user_id});
}

}  // namespace

struct NodeWorker::Peer {
  Address address;
  std::string user_id;
  std::deque<std::string> messages;  // nonces due for (re)transmission, in order
  std::set<std::string> queued;
  std::map<Carrier, std::vector<std::string>> acks;  // nonces to ack, by arrival carrier
  std::set<std::string> requests;                    // machine to-device requests in flight
  int sends_in_flight = 0;                           // room events in flight
  bool creating_room = false;
  std::int64_t next_room_attempt = 0;
};

struct NodeWorker::Room {
  DmRoomState state;
  std::optional<Address> partner;
  DmRoomVerdict verdict = DmRoomVerdict::not_a_dm;
  bool judged = false;
  bool left = false;
  bool encryption_set = false;
  std::int64_t invited_at = 0;  // steady ms of our last invite (creator only)
};

// What one /sync answer produced, committed at once before anything leaves.
struct NodeWorker::Intake {
  store::Changes changes;
  std::vector<NodeEvent> events;
  std::set<std::string> accepted;  // sender\0nonce accepted by this answer
  std::vector<std::pair<Address, std::pair<Carrier, std::string>>> acks;
  std::vector<std::string> delivered;
};

NodeWorker::NodeWorker(NodeWorkerContext context, E2eeMachine machine, std::string since)
    : ctx_(std::move(context)),
      machine_(std::move(machine)),
      me_(ctx_.key.address()),
      my_user_id_(machine_.user_id()),
      server_name_(my_user_id_.substr(my_user_id_.find(':') + 1)),
      since_(std::move(since)) {
  validated_[my_user_id_] = me_;
}

NodeWorker::~NodeWorker() {
  stop();
}

void NodeWorker::start() {
  // Validated user ids and rooms from earlier runs.
  auto txn = ctx_.env.read();
  const std::string prefix = store::join_key({"validated"});  // "validated\0"
  ctx_.tables.meta.for_each(
      txn, as_bytes(prefix), [&](const std::string& key, std::string address) {
        auto a = Address::parse(address);
        // join_key ends every part with NUL: "validated\0<user id>\0".
        if (a && key.size() > prefix.size())
          validated_[key.substr(prefix.size(), key.size() - prefix.size() - 1)] = *a;
        return true;
      });
  ctx_.tables.dm_rooms.for_each(txn, {}, [&](const std::string& room_id, json record) {
    auto state = DmRoomState::from_json(record.value("state", json::object()));
    if (!state) return true;
    auto room = std::make_unique<Room>();
    room->state = std::move(*state);
    room->partner = dm_partner(room->state, me_);
    room->left = record.value("left", false);
    rooms_[room_id] = std::move(room);
    return true;
  });
  std::vector<OutboxEntry> resumed;
  ctx_.tables.outbox.for_each(txn, {}, [&](const std::string& nonce, json record) {
    auto to = Address::parse(record.value("to", ""));
    if (!to || !record.contains("envelope")) return true;
    resumed.push_back({record["envelope"], nonce, *to, record["envelope"].value("ts", 0LL)});
    return true;
  });
  for (auto& [room_id, room] : rooms_) judge_room(room_id, nullptr);
  add_to_outbox(std::move(resumed));
  thread_ = std::thread([this] { run(); });
  post([this] {
    prune_seen_nonces();
    start_sync();
  });
}

void NodeWorker::stop() {
  {
    // Acks already owed go out first (briefly), so that peers do not resend to a node that
    // is gone; messages need no such wait: the outbox keeps them.
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    draining_ = thread_.joinable();
    wake_.notify_all();
    drained_.wait_for(lock, std::chrono::milliseconds(kDrainMs), [&] { return !draining_; });
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool NodeWorker::acks_settled() const {
  for (const auto& [address, p] : peers_) {
    if (p->sends_in_flight > 0 || !p->requests.empty()) return false;
    for (const auto& [carrier, nonces] : p->acks)
      if (!nonces.empty()) return false;
  }
  return true;
}

void NodeWorker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void NodeWorker::post_after(std::int64_t delay_ms, std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    timers_.emplace(steady_ms() + delay_ms, std::move(task));
  }
  wake_.notify_one();
}

void NodeWorker::add_to_outbox(std::vector<OutboxEntry> entries) {
  if (entries.empty()) return;
  post([this, entries = std::move(entries)]() mutable {
    const std::int64_t now = steady_ms();
    for (auto& e : entries) {
      Peer& p = peer(e.to);
      if (p.queued.insert(e.nonce).second) p.messages.push_back(e.nonce);
      schedule_[e.nonce] = {now + ctx_.config.resend_initial.count(), 1};
      outbox_[e.nonce] = std::move(e);
      ensure_room(p);
    }
  });
}

void NodeWorker::run() {
  std::int64_t next_tick = steady_ms();
  for (;;) {
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock lock(mutex_);
      const auto deadline = [&] {
        std::int64_t d = next_tick;
        if (!timers_.empty()) d = std::min(d, timers_.begin()->first);
        return std::chrono::steady_clock::time_point(std::chrono::milliseconds(d));
      };
      wake_.wait_until(lock, deadline(), [&] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      tasks.swap(tasks_);
      const std::int64_t now = steady_ms();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        tasks.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
    }
    try {
      for (auto& task : tasks) task();
      if (steady_ms() >= next_tick) {
        tick();
        next_tick = steady_ms() + kTickMs;
      }
      transmit_all();
      pump_requests();
      if (std::lock_guard lock(mutex_); draining_ && acks_settled()) {
        draining_ = false;
        drained_.notify_all();
      }
    } catch (const std::exception&) {
      // A storage failure: the step's changes were not applied. Counted by the caller's next
      // attempt; the worker keeps running so that stop() stays clean.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sync.

void NodeWorker::start_sync() {
  if (sync_in_flight_) return;
  sync_in_flight_ = true;
  const std::int64_t timeout = since_.empty() ? 0 : ctx_.config.sync_timeout.count();
  ctx_.client.call(calls::sync(since_, timeout, kSyncFilter), [this](MatrixResult r) {
    post([this, r = std::move(r)]() mutable { on_sync(std::move(r)); });
  });
}

void NodeWorker::on_sync(MatrixResult result) {
  sync_in_flight_ = false;
  if (!result) {
    if (result.error().kind == MatrixErrorKind::cancelled) return;
    sync_backoff_ms_ = std::clamp<std::int64_t>(sync_backoff_ms_ * 2, 500, kMaxSyncBackoffMs);
    if (result.error().http_status == 401 && result.error().errcode == "M_UNKNOWN_TOKEN") {
      // The token was revoked (a login elsewhere, a server reset): log in again as this device.
      relogin();
      return;
    }
    post_after(sync_backoff_ms_, [this] { start_sync(); });
    return;
  }
  sync_backoff_ms_ = 0;
  handle_sync(*result);
  ctx_.counters.update([](NodeStats& s) { ++s.syncs; });
  start_sync();
}

void NodeWorker::relogin() {
  ctx_.counters.update([](NodeStats& s) { ++s.relogins; });
  ctx_.client.login_ethereum(ctx_.key, server_name_, machine_.device_id(),
                             [this](Result<LoginInfo, MatrixError> r) {
                               post([this, ok = bool(r)] {
                                 // Failed: try again after the backoff (the sync will meet the same
                                 // 401 and come back).
                                 post_after(ok ? 0 : sync_backoff_ms_, [this] { start_sync(); });
                               });
                             });
}

void NodeWorker::handle_sync(const json& body) {
  auto batch = parse_sync_batch(body);
  if (!batch) {
    // A broken answer: keep the old position and ask again.
    post_after(1000, [this] { start_sync(); });
    return;
  }
  Intake intake;

  const SyncOutcome outcome = machine_.receive_sync_changes(batch->e2ee);
  if (!outcome.rejected.empty())
    ctx_.counters.update([&](NodeStats& s) { s.undecryptable += outcome.rejected.size(); });
  for (const auto& event : outcome.events) {
    if (event.type != kEnvelopesEventType) continue;
    const std::optional<Address> device =
        event.trust == DeviceTrust::attested ? event.address : std::nullopt;
    intake_payload(event.content, Carrier::to_device, device, intake);
  }

  for (const auto& invited : batch->invited) handle_invite(invited.room_id, invited.state_events);

  for (const auto& joined : batch->joined) {
    apply_room_state(joined.room_id, joined.state_events, intake);
    // Timeline in order: state events update the room before the messages after them count.
    for (const auto& event : joined.timeline_events) {
      if (event.contains("state_key")) {
        apply_room_state(joined.room_id, json::array({event}), intake);
        continue;
      }
      auto it = rooms_.find(joined.room_id);
      if (it == rooms_.end() || it->second->left || it->second->verdict != DmRoomVerdict::valid)
        continue;
      if (event.value("sender", "") == my_user_id_) continue;
      const std::string type = event.value("type", "");
      if (type == "m.room.encrypted") {
        json with_room = event;
        with_room["room_id"] = joined.room_id;
        auto decrypted = machine_.decrypt_room_event(with_room);
        if (!decrypted) {
          ctx_.counters.update([](NodeStats& s) { ++s.undecryptable; });
          continue;
        }
        if (decrypted->type != kEnvelopesEventType) continue;
        const std::optional<Address> device =
            decrypted->trust == DeviceTrust::attested ? decrypted->address : std::nullopt;
        intake_payload(decrypted->content, Carrier::room, device, intake);
      } else if (type == kEnvelopesEventType) {
        // Plaintext on a unicast carrier: rules 1-6 still name the first failure (rule 7).
        intake_payload(event.value("content", json::object()), Carrier::room, std::nullopt, intake);
      }
    }
  }
  for (const auto& room_id : batch->left) {
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second->left) continue;
    it->second->left = true;
    it->second->state.membership[my_user_id_] = "leave";
    persist_room(room_id, intake.changes);
  }

  since_ = batch->next_batch;
  intake.changes.put(ctx_.tables.meta, kMetaNextBatch, since_);
  finish_intake(intake);
}

void NodeWorker::finish_intake(Intake& intake) {
  // Durable before any ack leaves and before the application sees anything.
  ctx_.env.commit(std::move(intake.changes)).get();
  for (const auto& nonce : intake.delivered) {
    outbox_.erase(nonce);
    schedule_.erase(nonce);
  }
  for (auto& [to, ack] : intake.acks) peer(to).acks[ack.first].push_back(ack.second);
  // Counted before the events go out, so that stats() agrees with what the application saw.
  const auto messages = static_cast<std::size_t>(
      std::count_if(intake.events.begin(), intake.events.end(),
                    [](const NodeEvent& e) { return e.type == NodeEventType::message; }));
  ctx_.counters.update([&](NodeStats& s) {
    s.received += messages;
    s.inbox += messages;
    s.delivered += intake.delivered.size();
    s.outbox = outbox_.size();
  });
  for (auto& event : intake.events) ctx_.emit(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// Envelopes in.

void NodeWorker::intake_payload(const json& content, Carrier carrier,
                                const std::optional<Address>& device, Intake& intake) {
  auto it = content.is_object() ? content.find("envelopes") : content.end();
  if (!content.is_object() || it == content.end() || !it->is_array()) {
    reject(RejectReason::malformed, std::nullopt, carrier, intake);
    return;
  }
  for (const auto& envelope : *it) intake_envelope(envelope, carrier, device, intake);
}

void NodeWorker::reject(RejectReason reason, const std::optional<Address>& claimed, Carrier carrier,
                        Intake& intake, const std::string& nonce) {
  ctx_.counters.update([&](NodeStats& s) { ++s.rejected[reason]; });
  NodeEvent e;
  e.type = NodeEventType::rejected;
  e.id = nonce;
  e.peer = claimed;
  e.carrier = carrier;
  e.reason = reason;
  intake.events.push_back(std::move(e));
}

bool NodeWorker::within_budget(const Address& sender) {
  const std::int64_t now = steady_ms();
  auto [it, fresh] = budgets_.try_emplace(sender, Budget{ctx_.config.burst, now});
  Budget& b = it->second;
  b.tokens = std::min(ctx_.config.burst, b.tokens + static_cast<double>(now - b.at) *
                                                        ctx_.config.rate_per_second / 1000.0);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void NodeWorker::intake_envelope(const json& wire, Carrier carrier,
                                 const std::optional<Address>& device, Intake& intake) {
  auto valid = validate_envelope(wire, Arrival{.receiver = me_}, ctx_.now_ms(), ctx_.config.limits);
  if (!valid) {
    // Past rule 1 the envelope's fields are readable: name its sender and nonce.
    auto parsed = parse_envelope(wire);
    reject(valid.error(), parsed ? std::optional<Address>(parsed->sender) : std::nullopt, carrier,
           intake, parsed ? parsed->nonce : std::string());
    return;
  }
  const Envelope& e = *valid;
  const std::string key = store::join_key({e.sender.to_hex(), e.nonce});

  bool seen = intake.accepted.count(key) > 0;
  if (!seen) seen = ctx_.tables.seen_nonces.get(ctx_.env.read(), key).has_value();
  if (seen) {
    // The sender did not get our ack: acknowledge again (rule 6).
    if (e.kind == EnvelopeKind::message) intake.acks.push_back({e.sender, {carrier, e.nonce}});
    reject(RejectReason::replay, e.sender, carrier, intake, e.nonce);
    return;
  }
  if (!device || *device != e.sender) {
    reject(RejectReason::unattested_device, e.sender, carrier, intake, e.nonce);
    return;
  }
  if (ctx_.config.allowlist && !ctx_.config.allowlist->count(e.sender)) {
    reject(RejectReason::not_allowed, e.sender, carrier, intake, e.nonce);
    return;
  }
  if (!within_budget(e.sender)) {
    reject(RejectReason::rate_limited, e.sender, carrier, intake, e.nonce);
    return;
  }

  intake.accepted.insert(key);
  intake.changes.put(ctx_.tables.seen_nonces, key,
                     static_cast<std::uint64_t>(e.ts + ctx_.config.limits.max_age_ms));
  if (e.kind == EnvelopeKind::message) {
    intake.changes.put(ctx_.tables.inbox, key,
                       json{{"envelope", wire}, {"carrier", std::string(to_string(carrier))}});
    intake.acks.push_back({e.sender, {carrier, e.nonce}});
    NodeEvent m;
    m.type = NodeEventType::message;
    m.id = e.nonce;
    m.peer = e.sender;
    m.body = e.body;
    m.ts = e.ts;
    m.carrier = carrier;
    intake.events.push_back(std::move(m));
    // A partner that talks to us gets a DM room (PROTOCOL §5 "When").
    ensure_room(peer(e.sender));
    return;
  }
  for (const auto& nonce : e.acks) {
    auto it = outbox_.find(nonce);
    // Only the recipient of a message can acknowledge it.
    if (it == outbox_.end() || it->second.to != e.sender) continue;
    if (std::find(intake.delivered.begin(), intake.delivered.end(), nonce) !=
        intake.delivered.end())
      continue;
    intake.changes.erase(ctx_.tables.outbox, nonce);
    intake.delivered.push_back(nonce);
    NodeEvent d;
    d.type = NodeEventType::delivered;
    d.id = nonce;
    d.peer = e.sender;
    d.ts = it->second.ts;
    intake.events.push_back(std::move(d));
  }
}

// ---------------------------------------------------------------------------------------------
// Rooms.

void NodeWorker::persist_room(const std::string& room_id, store::Changes& changes) {
  const Room& room = *rooms_.at(room_id);
  changes.put(ctx_.tables.dm_rooms, room_id,
              json{{"state", room.state.to_json()}, {"left", room.left}});
}

bool NodeWorker::validated(const std::string& user_id, const Address& address) const {
  auto it = validated_.find(user_id);
  return it != validated_.end() && it->second == address;
}

void NodeWorker::validate_user(const std::string& user_id) {
  if (validated_.count(user_id) || invalid_users_.count(user_id) || validating_.count(user_id))
    return;
  if (!address_of_user_id(user_id)) {
    invalid_users_.insert(user_id);
    return;
  }
  validating_.insert(user_id);
  ctx_.client.call(
      calls::request("GET", "/_matrix/client/v3/profile/" + url_encode(user_id) + "/displayname",
                     json::object()),
      [this, user_id](MatrixResult r) {
        post([this, user_id, r = std::move(r)] {
          validating_.erase(user_id);
          if (!r) {
            // Not there yet (never logged in) or unreachable: ask again later.
            if (r.error().kind != MatrixErrorKind::cancelled)
              post_after(kValidateRetryMs, [this, user_id] { validate_user(user_id); });
            return;
          }
          const std::string name =
              r->is_object() && r->contains("displayname") && (*r)["displayname"].is_string()
                  ? (*r)["displayname"].get<std::string>()
                  : "";
          auto proven = displayname_proves_user_id(user_id, name);
          if (!proven) {
            if (name.empty()) {
              post_after(kValidateRetryMs, [this, user_id] { validate_user(user_id); });
            } else {
              invalid_users_.insert(user_id);
            }
          } else {
            validated_[user_id] = *proven;
            store::Changes c;
            c.put(ctx_.tables.meta, validated_key(user_id), proven->to_hex());
            ctx_.env.commit(std::move(c));
          }
          for (auto& [room_id, room] : rooms_) judge_room(room_id, nullptr);
          for (auto& [address, p] : peers_) ensure_room(*p);
        });
      });
}

void NodeWorker::handle_invite(const std::string& room_id, const json& invite_state) {
  if (invites_handled_.count(room_id) || rooms_.count(room_id)) return;
  std::string inviter;
  for (const auto& e : invite_state) {
    if (e.value("type", "") == "m.room.member" && e.value("state_key", "") == my_user_id_ &&
        e.is_object() && e.contains("sender") && e["sender"].is_string())
      inviter = e["sender"].get<std::string>();
  }
  auto inviter_address = address_of_user_id(inviter);
  // Only the lower address of a pair invites (PROTOCOL §5); anything else is refused.
  if (inviter.empty() || !inviter_address || !(*inviter_address < me_)) {
    invites_handled_.insert(room_id);
    ctx_.client.call(
        calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                       json::object()),
        [](MatrixResult) {});
    return;
  }
  if (!validated(inviter, *inviter_address)) {
    validate_user(inviter);
    if (!invalid_users_.count(inviter)) {
      // Decide once the inviter's displayname has been checked.
      post_after(500, [this, room_id, invite_state] { handle_invite(room_id, invite_state); });
      return;
    }
    invites_handled_.insert(room_id);
    return;
  }
  invites_handled_.insert(room_id);
  join_room(room_id, *inviter_address);
}

void NodeWorker::join_room(const std::string& room_id, const Address& partner) {
  ctx_.client.call(calls::join(room_id), [this, room_id, partner](MatrixResult r) {
    post([this, room_id, partner, ok = bool(r)] {
      if (!ok) {
        // An invite that cannot be joined is rejected (PROTOCOL §5); the creator invites again
        // or makes a new room.
        ctx_.client.call(
            calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                           json::object()),
            [](MatrixResult) {});
        return;
      }
      // Judged on the state of the first sync after the join, which is complete for a room
      // newly joined.
      if (!rooms_.count(room_id)) {
        auto room = std::make_unique<Room>();
        room->partner = partner;
        rooms_[room_id] = std::move(room);
      }
    });
  });
}

void NodeWorker::apply_room_state(const std::string& room_id, const json& events, Intake& intake) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) {
    // A room we did not create or join through an invite: only a DM room's state makes it ours.
    bool dm = false;
    for (const auto& e : events)
      if (e.is_object() && e.value("type", "") == kDmStateType) dm = true;
    if (!dm) return;
    it = rooms_.emplace(room_id, std::make_unique<Room>()).first;
  }
  Room& room = *it->second;
  if (room.left) return;
  for (const auto& e : events) {
    if (!e.is_object()) continue;
    room.state.apply(e);
    if (e.value("type", "") == "m.room.encryption") room.encryption_set = false;
  }
  room.partner = dm_partner(room.state, me_);
  judge_room(room_id, &intake);
}

void NodeWorker::judge_room(const std::string& room_id, Intake* intake) {
  Room& room = *rooms_.at(room_id);
  if (room.left) return;
  // Users not checked yet are checked first; the room is judged again when they are.
  bool pending = false;
  for (const auto& user : room.state.members()) {
    if (!validated_.count(user) && !invalid_users_.count(user)) {
      validate_user(user);
      pending = pending || !invalid_users_.count(user);
    }
  }
  if (!room.state.creator.empty() && !validated_.count(room.state.creator) &&
      !invalid_users_.count(room.state.creator)) {
    validate_user(room.state.creator);
    pending = pending || !invalid_users_.count(room.state.creator);
  }
  if (pending || room.state.creator.empty()) return;
  room.verdict = judge_dm_room(room.state, me_, validated_);
  room.judged = true;
  if (room.verdict != DmRoomVerdict::valid) {
    leave_room(room_id, room.verdict);
  }
  if (intake) persist_room(room_id, intake->changes);
}

void NodeWorker::leave_room(const std::string& room_id, DmRoomVerdict /*why*/) {
  Room& room = *rooms_.at(room_id);
  room.left = true;
  ctx_.client.call(
      calls::request("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave",
                     json::object()),
      [](MatrixResult) {});
}

const NodeWorker::Room* NodeWorker::ready_room(const Address& partner) const {
  const Room* best = nullptr;
  for (const auto& [room_id, room] : rooms_) {
    if (room->left || room->verdict != DmRoomVerdict::valid || room->partner != partner) continue;
    const std::string partner_user = matrix_user_id(partner, server_name_);
    bool partner_joined = false;
    for (const auto& [user, m] : room->state.membership)
      if (m == "join" && validated(user, partner)) partner_joined = true;
    if (!partner_joined || !room->state.joined(my_user_id_)) continue;
    if (!best || room->state.created_ts > best->state.created_ts) best = room.get();
  }
  return best;
}

bool NodeWorker::has_live_room(const Address& partner) const {
  for (const auto& [room_id, room] : rooms_) {
    if (room->left || room->partner != partner) continue;
    if (room->judged && room->verdict != DmRoomVerdict::valid) continue;
    for (const auto& [user, m] : room->state.membership)
      if ((m == "join" || m == "invite") && validated(user, partner)) return true;
  }
  return false;
}

void NodeWorker::ensure_room(Peer& p) {
  if (ctx_.config.carrier != Carrier::room || !(me_ < p.address)) return;
  if (p.creating_room || steady_ms() < p.next_room_attempt || has_live_room(p.address)) return;
  if (!validated(p.user_id, p.address)) {
    validate_user(p.user_id);  // ensure_room runs again once it is checked
    return;
  }
  p.creating_room = true;
  const Address partner = p.address;
  ctx_.client.call(calls::create_room(dm_room_create_body(me_, partner, {p.user_id})),
                   [this, partner](MatrixResult r) {
                     post([this, partner, r = std::move(r)] {
                       Peer& partner_peer = peer(partner);
                       partner_peer.creating_room = false;
                       const std::string* room_id =
                           r && r->contains("room_id") && (*r)["room_id"].is_string()
                               ? &(*r)["room_id"].get_ref<const std::string&>()
                               : nullptr;
                       if (!room_id) {
                         partner_peer.next_room_attempt = steady_ms() + kRoomRetryMs;
                         return;
                       }
                       auto room = std::make_unique<Room>();
                       // What we asked for; the sync's state events confirm or correct it.
                       room->state.creator = my_user_id_;
                       room->state.created_ts = ctx_.now_ms();
                       room->state.join_rule = "invite";
                       const json body = dm_room_create_body(me_, partner, {});
                       for (const auto& e : body["initial_state"]) room->state.apply(e);
                       room->state.membership[my_user_id_] = "join";
                       room->state.membership[partner_peer.user_id] = "invite";
                       room->partner = partner;
                       room->invited_at = steady_ms();
                       const std::string id = *room_id;
                       rooms_[id] = std::move(room);
                       Intake intake;
                       judge_room(id, &intake);
                       finish_intake(intake);
                     });
                   });
}

// ---------------------------------------------------------------------------------------------
// Envelopes out.

NodeWorker::Peer& NodeWorker::peer(const Address& address) {
  auto& slot = peers_[address];
  if (!slot) {
    slot = std::make_unique<Peer>();
    slot->address = address;
    slot->user_id = matrix_user_id(address, server_name_);
    machine_.update_tracked_users({slot->user_id});
  }
  return *slot;
}

void NodeWorker::transmit_all() {
  for (auto& [address, p] : peers_) transmit(*p);
}

void NodeWorker::transmit(Peer& p) {
  // One payload in flight per peer, so that the server receives them in order; whatever queues
  // meanwhile goes together in the next one.
  if (p.sends_in_flight > 0 || !p.requests.empty()) return;

  for (Carrier arrival : {Carrier::room, Carrier::to_device}) {
    auto& nonces = p.acks[arrival];
    if (nonces.empty()) continue;
    const std::size_t n = std::min(nonces.size(), kMaxAcks);
    PayloadBuilder ack;
    ack.add(Envelope::ack(ctx_.key, p.address, {nonces.begin(), nonces.begin() + n}, ctx_.now_ms())
                .to_json());
    if (!send_payload(p, arrival, ack.content())) return;  // keys being set up: again when they are
    ctx_.counters.update([&](NodeStats& s) {
      ++s.acks_sent;
      ++s.transmitted;
    });
    nonces.erase(nonces.begin(), nonces.begin() + n);
    return;
  }

  // Everything that fits in one payload, in order.
  PayloadBuilder payload;
  std::vector<std::string> nonces;
  while (!p.messages.empty() && payload.count() < kMaxEnvelopesPerPayload) {
    const std::string nonce = p.messages.front();
    auto it = outbox_.find(nonce);
    if (it != outbox_.end()) {
      if (!payload.add(it->second.envelope)) break;
      nonces.push_back(nonce);
    }
    p.queued.erase(nonce);
    p.messages.pop_front();
  }
  if (nonces.empty()) return;
  if (!send_payload(p, ctx_.config.carrier, payload.content())) {
    // Not sent (keys being set up): back to the front of the queue, in order.
    for (auto it = nonces.rbegin(); it != nonces.rend(); ++it) {
      if (p.queued.insert(*it).second) p.messages.push_front(*it);
    }
    return;
  }
  ctx_.counters.update([&](NodeStats& s) { s.transmitted += nonces.size(); });
}

bool NodeWorker::send_payload(Peer& p, Carrier carrier, const json& payload) {
  if (carrier == Carrier::room) {
    for (const auto& [room_id, room] : rooms_) {
      if (room.get() == ready_room(p.address)) return send_over_room(p, *room, room_id, payload);
    }
  }
  // No device to send to yet counts as sent: the outbox keeps the messages and resends them.
  return send_over_to_device(p, payload) != ToDeviceSend::waiting;
}

bool NodeWorker::send_over_room(Peer& p, const Room& room, const std::string& room_id,
                                const json& payload) {
  if (!room.encryption_set && room.state.encryption) {
    machine_.set_room_encryption(room_id, *room.state.encryption);
    rooms_.at(room_id)->encryption_set = true;
  }
  const ShareOutcome share = machine_.share_room_key(room_id, room.state.members());
  attribute_new_requests(p);
  // The room key must reach the partner before the event it opens.
  if (!share.complete() || !p.requests.empty()) return false;
  auto content = machine_.encrypt_room_event(room_id, kEnvelopesEventType, payload);
  if (!content) return false;  // rotation due: the next attempt shares a new key first
  ++p.sends_in_flight;
  ctx_.counters.update([](NodeStats& st) { ++st.payloads; });
  const Address to = p.address;
  ctx_.client.call(
      calls::send_room_event(room_id, "m.room.encrypted", new_transaction_id(), *content),
      [this, to](MatrixResult r) { post([this, to, ok = bool(r)] { on_carrier_done(to, ok); }); });
  return true;
}

NodeWorker::ToDeviceSend NodeWorker::send_over_to_device(Peer& p, const json& payload) {
  const ShareOutcome share = machine_.encrypt_to_device(p.user_id, kEnvelopesEventType, payload);
  attribute_new_requests(p);
  if (!share.complete()) return ToDeviceSend::waiting;
  if (share.sent.empty()) return ToDeviceSend::no_devices;
  ctx_.counters.update([](NodeStats& st) { ++st.payloads; });
  return ToDeviceSend::sent;
}

void NodeWorker::attribute_new_requests(Peer& p) {
  for (const auto& r : machine_.outgoing_requests()) {
    if (!known_requests_.insert(r.id).second) continue;
    if (r.type == RequestType::to_device) {
      p.requests.insert(r.id);
      request_peer_[r.id] = p.address;
    }
  }
}

void NodeWorker::pump_requests() {
  const std::int64_t now = steady_ms();
  for (auto& r : machine_.outgoing_requests()) {
    known_requests_.insert(r.id);
    if (requests_in_flight_.count(r.id)) continue;
    if (auto retry = request_retry_at_.find(r.id); retry != request_retry_at_.end()) {
      if (retry->second > now) continue;
      request_retry_at_.erase(retry);
    }
    requests_in_flight_.insert(r.id);
    ctx_.client.call(calls::request(r.method, r.path, r.body),
                     [this, id = r.id](MatrixResult result) {
                       post([this, id, result = std::move(result)]() mutable {
                         on_request_done(id, std::move(result));
                       });
                     });
  }
}

void NodeWorker::on_request_done(const std::string& id, MatrixResult result) {
  requests_in_flight_.erase(id);
  if (!result) {
    const long status = result.error().http_status;
    // 401: the token was revoked and the sync loop logs in again; 429 and 5xx pass.
    if (result.error().kind == MatrixErrorKind::http && status < 500 && status != 429 &&
        status != 401) {
      // Refused for good (the request is wrong for this server): do not repeat it forever.
      machine_.mark_request_as_sent(id, json::object());
    } else {
      request_retry_at_[id] = steady_ms() + kRequestRetryMs;
      return;
    }
  } else {
    machine_.mark_request_as_sent(id, *result);
  }
  known_requests_.erase(id);
  if (auto it = request_peer_.find(id); it != request_peer_.end()) {
    if (auto p = peers_.find(it->second); p != peers_.end()) p->second->requests.erase(id);
    request_peer_.erase(it);
  }
}

void NodeWorker::on_carrier_done(const Address& to, bool /*ok*/) {
  // A lost send is covered by the outbox's resend (messages) and the partner's resend (acks).
  --peer(to).sends_in_flight;
}

// ---------------------------------------------------------------------------------------------
// Time.

void NodeWorker::tick() {
  const std::int64_t steady = steady_ms();
  const std::int64_t now = ctx_.now_ms();
  std::vector<std::string> failed;
  for (auto& [nonce, s] : schedule_) {
    const OutboxEntry& entry = outbox_.at(nonce);
    if (now > entry.ts + ctx_.config.limits.max_age_ms) {
      failed.push_back(nonce);
      continue;
    }
    if (s.next_attempt > steady) continue;
    Peer& p = peer(entry.to);
    if (p.queued.insert(nonce).second) {
      p.messages.push_back(nonce);
      ctx_.counters.update([](NodeStats& st) { ++st.resent; });
    }
    ++s.attempts;
    const std::int64_t delay =
        std::min<std::int64_t>(ctx_.config.resend_max.count(), ctx_.config.resend_initial.count()
                                                                   << std::min(s.attempts - 1, 20));
    s.next_attempt = steady + delay;
    ensure_room(p);
  }
  if (!failed.empty()) {
    store::Changes c;
    for (const auto& nonce : failed) c.erase(ctx_.tables.outbox, nonce);
    ctx_.env.commit(std::move(c)).get();
    std::vector<NodeEvent> events;
    for (const auto& nonce : failed) {
      NodeEvent f;
      f.type = NodeEventType::failed;
      f.id = nonce;
      f.peer = outbox_.at(nonce).to;
      f.ts = outbox_.at(nonce).ts;
      outbox_.erase(nonce);
      schedule_.erase(nonce);
      events.push_back(std::move(f));
    }
    ctx_.counters.update([&](NodeStats& s) {
      s.failed += failed.size();
      s.outbox = outbox_.size();
    });
    for (auto& e : events) ctx_.emit(std::move(e));
  }
  // The creator invites again a partner that has not joined within a minute.
  for (auto& [room_id, room] : rooms_) {
    if (room->left || room->state.creator != my_user_id_ || !room->partner) continue;
    if (room->invited_at == 0 || steady - room->invited_at < kReinviteMs) continue;
    const std::string partner_user = matrix_user_id(*room->partner, server_name_);
    if (room->state.joined(partner_user)) continue;
    room->invited_at = steady;
    ctx_.client.call(calls::invite(room_id, partner_user), [](MatrixResult) {});
  }
  if (steady >= next_prune_) prune_seen_nonces();
}

void NodeWorker::prune_seen_nonces() {
  next_prune_ = steady_ms() + kPruneEveryMs;
  // A nonce past ts + max_age can only come back as `expired` (rule 5), so it may be forgotten.
  const auto now = static_cast<std::uint64_t>(ctx_.now_ms());
  store::Changes c;
  ctx_.tables.seen_nonces.for_each(ctx_.env.read(), {},
                                   [&](const std::string& key, std::uint64_t until) {
                                     if (until < now) c.erase(ctx_.tables.seen_nonces, key);
                                     return true;
                                   });
  if (!c.empty()) ctx_.env.commit(std::move(c));
}

}  // namespace mrt::transport
