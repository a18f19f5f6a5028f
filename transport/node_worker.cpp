// NodeWorker: its thread and task queue, the sync loop (one /sync answer = one committed step),
// and what time drives (resends, failures, re-invites, pruning the replay window). Envelopes in,
// rooms and envelopes out are in node_intake.cpp, node_rooms.cpp and node_transmit.cpp.
#include <algorithm>
#include <chrono>
#include <future>
#include <limits>
#include <utility>

#include <mrt/matrix_identity.hpp>

#include "node_worker_state.hpp"
#include "sync_batch.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

NodeWorker::NodeWorker(NodeWorkerContext context, E2eeMachine machine, std::string since)
    : ctx_(std::move(context)),
      machine_(std::move(machine)),
      e2ee_(machine_, {.per_sender_key = ctx_.config.policy.olm_sessions_per_device_per_hour,
                       .per_user = 2 * ctx_.config.policy.olm_sessions_per_device_per_hour,
                       .total = ctx_.config.policy.olm_sessions_per_hour}),
      me_(ctx_.key.address()),
      my_user_id_(machine_.user_id()),
      server_name_(my_user_id_.substr(my_user_id_.find(':') + 1)),
      since_(std::move(since)),
      outbox_({.resend_initial_ms = ctx_.config.resend_initial.count(),
               .resend_max_ms = ctx_.config.resend_max.count(),
               .max_age_ms = ctx_.config.limits.max_age_ms}),
      ids_(ctx_.config.known_servers, {.ttl_ms = ctx_.config.discovery_ttl.count()}),
      held_room_events_(kHeldRoomEventsPerRoom, kHeldRoomEvents, kHeldRoomEventMaxAgeMs),
      challenge_answers_({.per_second = ctx_.config.policy.challenge_answers_per_second,
                          .burst = ctx_.config.policy.challenge_answer_burst}),
      timeline_limit_(kTimelineLimit) {
  ids_.restore(my_user_id_, me_, std::numeric_limits<std::int64_t>::max() / 2);  // never stale
  machine_.set_room_key_filter([this](const std::string& room_id, const Address& sender) {
    return room_key_expected(room_id, sender);
  });
}

NodeWorker::~NodeWorker() {
  stop();
}

void NodeWorker::start() {
  start_driven();
  thread_ = std::thread([this] { run(); });
}

void NodeWorker::start_driven() {
  // Validated user ids and rooms from earlier runs.
  auto txn = ctx_.env.read();
  const std::string prefix = store::join_key({"validated"});  // "validated\0"
  const std::int64_t wall = ctx_.now_ms(), steady_now = steady();
  ctx_.tables.meta.for_each(
      txn, as_bytes(prefix), [&](const std::string& key, const std::string& value) {
        // "0x<address> <ms since the epoch when proven>" (before federation: the address alone).
        const std::size_t space = value.find(std::string_view(" "));
        auto a = Address::parse(value.substr(0, space));
        // join_key ends every part with NUL: "validated\0<user id>\0".
        if (!a || key.size() <= prefix.size()) return true;
        const std::string user_id = key.substr(prefix.size(), key.size() - prefix.size() - 1);
        std::optional<std::int64_t> proven_at;  // unknown: checked again when next needed
        if (space != std::string::npos) {
          try {
            proven_at = steady_now - (wall - std::stoll(value.substr(space + 1)));
          } catch (const std::exception&) {
          }
        }
        ids_.restore(user_id, *a, proven_at);
        ctx_.homes.peer_uses(user_id.substr(user_id.find(':') + 1), *a);
        return true;
      });
  const std::string topics = ctx_.home.meta_key(store::join_key({"topic"}));
  ctx_.tables.meta.for_each(
      txn, as_bytes(topics), [&](const std::string& key, const std::string& room) {
        if (key.size() > topics.size()) {
          const std::string topic = key.substr(topics.size(), key.size() - topics.size() - 1);
          topic_rooms_[topic] = room;
          broadcasts_[room].topic = topic;
        }
        return true;
      });
  ctx_.tables.dm_rooms.for_each(txn, {}, [&](const std::string& room_id, const json& record) {
    // Another homeserver's room (a record without "home" is from a one-homeserver node).
    if (record.contains("home") ? record.value("home", "") != server_name_ : !ctx_.home.primary)
      return true;
    auto state = DmRoomState::from_json(record.value("state", json::object()));
    if (!state) return true;
    auto room = std::make_unique<Room>();
    room->state = std::move(*state);
    room->complete = true;  // kept once it was judged on its whole state
    room->partner = dm_partner(room->state, me_);
    room->left = record.value("left", false);
    rooms_[room_id] = std::move(room);
    return true;
  });
  for (auto& [room_id, room] : rooms_) judge_room(room_id, nullptr);
  next_tick_ = steady();
  post([this] {
    prune();
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
  // Answers the machine took since the last commit (an erased to-device request, at most).
  try {
    store::Changes rest = std::exchange(e2ee_.answers(), {});
    rest.append(std::exchange(send_step_, {}));  // holds no writes between loops: hooks at most
    ctx_.env.commit_now(std::move(rest));
  } catch (const std::exception&) {
    // Stopping: the requests are sent again after a restart, under the same transaction ids.
  }
  // A home replaced by failover leaves; its peers no longer count.
  ctx_.counters.update([n = peers_.size()](NodeStats& s) { s.peers -= std::min(s.peers, n); });
}

void NodeWorker::stop_syncing() {
  auto seen = std::make_shared<std::promise<void>>();
  auto done = seen->get_future();
  post([this, seen] {
    syncs_stopped_ = true;
    seen->set_value();
  });
  (void)done.wait_for(std::chrono::seconds(1));
}

bool NodeWorker::acks_settled() const {
  for (const auto& [address, p] : peers_) {
    if (p->sends_in_flight > 0 || e2ee_.holds(p->address)) return false;
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
    timers_.emplace(steady() + delay_ms, std::move(task));
  }
  wake_.notify_one();
}

void NodeWorker::add_to_outbox(std::vector<OutboxEntry> entries) {
  if (entries.empty()) return;
  post([this, entries = std::move(entries)]() mutable {
    const std::int64_t now = steady();
    for (auto& e : entries) {
      Peer& p = peer(e.to);
      if (p.queued.insert(e.nonce).second) p.messages.push_back(e.nonce);
      next_tick_ = std::min(next_tick_, now + kTickMs);
      for (auto& [room_id, room] : rooms_)
        if (room->partner == e.to) room->reinvites = 0;
      outbox_.add(std::move(e), now);
      ensure_room(p);
    }
  });
}

void NodeWorker::forget(std::string nonce) {
  post([this, nonce = std::move(nonce)] { outbox_.remove(nonce); });
}

void NodeWorker::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      const auto deadline =
          std::chrono::steady_clock::time_point(std::chrono::milliseconds(wake_at_locked()));
      wake_.wait_until(lock, deadline, [&] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
    }
    run_due();
  }
}

void NodeWorker::commit_in_background(store::Changes changes) {
  background_commits_.push_back(ctx_.env.commit(std::move(changes)));
}

void NodeWorker::check_background_commits() {
  for (auto it = background_commits_.begin(); it != background_commits_.end();) {
    if (it->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    std::future<void> done = std::move(*it);
    it = background_commits_.erase(it);
    try {
      done.get();
    } catch (const store::Error& e) {
      report_store_error(e);  // nothing to undo: the node does without what it wrote
    }
  }
}

void NodeWorker::report_store_error(const store::Error& e) {
  ctx_.counters.update([](NodeStats& s) { ++s.store_errors; });
  ctx_.log(LogLevel::error, "worker", "store_error",
           {{"server", server_name_}, {"code", e.code()}, {"what", e.what()}});
  if (!std::exchange(store_failing_, true)) {
    NodeEvent failed;
    failed.type = NodeEventType::store_failed;
    failed.detail = e.what();
    ctx_.emit(std::move(failed));
  }
}

void NodeWorker::keep_tasks(std::deque<std::function<void()>>& rest) {
  std::lock_guard lock(mutex_);
  while (!rest.empty()) {
    tasks_.push_front(std::move(rest.back()));
    rest.pop_back();
  }
}

std::int64_t NodeWorker::wake_at_locked() const {
  std::int64_t at = next_tick_;
  if (!timers_.empty()) at = std::min(at, timers_.begin()->first);
  return at;
}

std::int64_t NodeWorker::next_wake() const {
  std::lock_guard lock(mutex_);
  return tasks_.empty() ? wake_at_locked() : steady();
}

void NodeWorker::run_due() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
    const std::int64_t now = steady();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      tasks.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
  }
  check_background_commits();
  try {
    while (!tasks.empty()) {
      const auto task = std::move(tasks.front());
      tasks.pop_front();
      task();
    }
    if (steady() >= next_tick_) {
      tick();
      // With nothing to resend, wake seldom: an idle node then costs next to nothing, and
      // tasks and timers still wake it at once (add_to_outbox brings the tick back).
      next_tick_ = steady() + (outbox_.empty() ? kIdleTickMs : kTickMs);
    }
    transmit_all();
    pump_requests();
    store_failing_ = false;
    if (std::lock_guard lock(mutex_); draining_ && acks_settled()) {
      draining_ = false;
      drained_.notify_all();
    }
  } catch (const store::Error& e) {
    // A storage failure (disk full, I/O): the step's changes were not applied, and what it
    // was about comes again (the /sync from the old next_batch, the outbox's resends). The
    // tasks after the failed one still run (an answer, a message handed over).
    keep_tasks(tasks);
    abandon_pending_steps();
    report_store_error(e);
  } catch (const std::exception& e) {
    // Anything else is a fault of mrt's, not of the network: counted and logged, and the
    // worker goes on (a peer must not be able to stop a node by finding such a fault).
    keep_tasks(tasks);
    abandon_pending_steps();
    ctx_.counters.update([](NodeStats& s) { ++s.step_failures; });
    ctx_.log(LogLevel::error, "worker", "step_failed",
             {{"server", server_name_}, {"what", e.what()}});
  }
}

// ---------------------------------------------------------------------------------------------
// Sync.

void NodeWorker::start_sync() {
  if (sync_in_flight_ || syncs_stopped_) return;
  sync_in_flight_ = true;
  const std::int64_t timeout = since_.empty() ? 0 : ctx_.config.sync_timeout.count();
  ctx_.client.call(calls::sync(since_, timeout, sync_filter(timeline_limit_)),
                   [this](MatrixResult r) {
                     post([this, r = std::move(r)]() mutable { on_sync(std::move(r)); });
                   });
}

void NodeWorker::on_sync(MatrixResult result) {
  sync_in_flight_ = false;
  if (!result) {
    if (result.error().kind == MatrixErrorKind::cancelled) return;
    ctx_.homes.sync_failed(server_name_, steady());
    sync_backoff_ms_ = std::clamp<std::int64_t>(sync_backoff_ms_ * 2, 500, kMaxSyncBackoffMs);
    ctx_.log(LogLevel::warning, "sync", "sync_failed",
             {{"server", server_name_},
              {"http_status", result.error().http_status},
              {"errcode", result.error().errcode},
              {"retry_in_ms", sync_backoff_ms_}});
    if (result.error().http_status == 401 && result.error().errcode == "M_UNKNOWN_TOKEN") {
      // The token was revoked (a login elsewhere, a server reset): log in again as this device.
      relogin();
      return;
    }
    if (result.error().kind == MatrixErrorKind::too_large && timeline_limit_ > 1) {
      // Rooms whose new events exceed the cap (a flooded broadcast room) would stop this node
      // receiving for good: ask at once for a tenth as many events per room. Their timelines
      // come `limited`; what was skipped in a DM room is resent by its sender.
      timeline_limit_ = std::max<std::int64_t>(1, timeline_limit_ / 10);
      ctx_.log(LogLevel::warning, "sync", "sync_too_large",
               {{"server", server_name_}, {"timeline_limit", timeline_limit_}});
      post([this] { start_sync(); });
      return;
    }
    post_after(sync_backoff_ms_, [this] { start_sync(); });
    return;
  }
  sync_backoff_ms_ = 0;
  timeline_limit_ = kTimelineLimit;  // from the new position, the flood is behind us
  ctx_.homes.sync_ok(server_name_);
  try {
    handle_sync(*result);
  } catch (...) {
    // The step was not applied (run() abandons it): ask again from the same position, after a
    // pause, so that a failing disk is not met in a tight loop.
    post_after(kFailedStepRetryMs, [this] { start_sync(); });
    throw;
  }
  ctx_.counters.update([](NodeStats& s) { ++s.syncs; });
  start_sync();
}

void NodeWorker::relogin() {
  ctx_.counters.update([](NodeStats& s) { ++s.relogins; });
  ctx_.log(LogLevel::info, "sync", "relogin", {{"server", server_name_}});
  ctx_.client.login_ethereum(ctx_.key, server_name_, machine_.device_id(),
                             [this](const Result<LoginInfo, MatrixError>& r) {
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
  intake.changes.append(std::exchange(e2ee_.answers(), {}));

  // Room keys are kept only for the DM rooms this answer and earlier ones make known: invites
  // first, and the rooms joined whose state names their partner (room_key_expected).
  for (const auto& invited : batch->invited) handle_invite(invited.room_id, invited.state_events);
  dm_rooms_in_sync_.clear();
  for (const auto& joined : batch->joined) {
    if (rooms_.count(joined.room_id) || broadcasts_.count(joined.room_id)) continue;
    DmRoomState state;
    for (const auto* events : {&joined.state_events, &joined.timeline_events})
      for (const auto& e : *events)
        if (e.is_object() && e.contains("state_key")) state.apply(e);
    if (auto partner = dm_partner(state, me_)) dm_rooms_in_sync_.emplace(joined.room_id, *partner);
  }
  // A user whose envelopes would all be gated gets its events dropped before they are even
  // decrypted (a flood's payloads would cost their Olm and JSON work for nothing).
  if (batch->e2ee.to_device_events.is_array()) {
    std::erase_if(batch->e2ee.to_device_events.get_ref<json::array_t&>(), [&](const json& e) {
      const std::string sender = e.value("sender", "");  // well-typed: parse_sync_batch
      if (sender == my_user_id_ || ctx_.homes.gate_open(sender, steady())) return false;
      ++intake.gated;
      return true;
    });
    take_challenges(batch->e2ee.to_device_events);
  }
  const E2eeDriver::Received received =
      e2ee_.receive(std::move(batch->e2ee), intake.changes, steady());
  const SyncOutcome& outcome = received.outcome;
  if (received.throttled > 0)
    ctx_.counters.update([&](NodeStats& s) { s.olm_sessions_throttled += received.throttled; });
  if (!outcome.rejected.empty()) {
    ctx_.counters.update([&](NodeStats& s) {
      s.undecryptable += outcome.rejected.size();
      for (const auto& r : outcome.rejected) ++s.undecryptable_to_device[r.reason];
    });
    for (const auto& r : outcome.rejected)
      ctx_.log(LogLevel::debug, "e2ee", "undecryptable",
               {{"carrier", "to_device"}, {"sender", r.sender}, {"reason", to_string(r.reason)}});
  }
  for (const auto& event : outcome.events) {
    if (event.type != kEnvelopesEventType) continue;
    const std::optional<Address> device =
        event.trust == DeviceTrust::attested ? event.address : std::nullopt;
    // The sender's user id is met here (PROTOCOL §8): the acks go to it once it is proven.
    if (device && !validated(event.sender, *device)) look_up(event.sender);
    intake_payload(event.content,
                   {.carrier = Carrier::to_device, .device = device, .matrix_sender = event.sender},
                   intake);
  }

  // Keys that came now may open room events held for want of them (sent before their key).
  if (outcome.room_keys_received > 0 && !held_room_events_.empty()) {
    for (auto& held : held_room_events_.take(steady()))
      if (receives_in(held.room_id)) decrypt_dm_event(std::move(held), true, intake);
  }
  dm_rooms_in_sync_.clear();
  for (const auto& [user, presence] : batch->presence) on_presence(user, presence);

  for (const auto& joined : batch->joined) {
    if (auto b = broadcasts_.find(joined.room_id); b != broadcasts_.end()) {
      // A broadcast room (PROTOCOL §6): plaintext envelopes with the room's topic; its state is
      // judged again whenever it changes.
      const std::string topic = b->second.topic;
      apply_broadcast_state(joined.room_id, joined.state_events);
      for (const auto& event : joined.timeline_events) {
        if (event.contains("state_key")) {
          apply_broadcast_state(joined.room_id, json::array({event}));
          continue;
        }
        if (event.value("type", "") != kEnvelopesEventType ||
            event.value("sender", "") == my_user_id_)
          continue;
        intake_payload(event.value("content", json::object()),
                       {.topic = topic, .matrix_sender = event.value("sender", "")}, intake);
      }
      continue;
    }
    apply_room_state(joined.room_id, joined.state_events, intake);
    // Timeline in order: state events update the room before the messages after them count.
    for (const auto& event : joined.timeline_events) {
      if (event.contains("state_key")) {
        apply_room_state(joined.room_id, json::array({event}), intake);
        continue;
      }
      if (!receives_in(joined.room_id)) continue;
      const std::string sender = event.value("sender", "");
      if (sender == my_user_id_) continue;
      const std::string type = event.value("type", "");
      if (type == "m.room.encrypted") {
        if (!ctx_.homes.gate_open(sender, steady())) {
          ++intake.gated;
          continue;
        }
        json with_room = event;
        with_room["room_id"] = joined.room_id;
        decrypt_dm_event({joined.room_id, std::move(with_room), steady()}, false, intake);
      } else if (type == kEnvelopesEventType) {
        // Plaintext on a unicast carrier: rules 1-6 still name the first failure (rule 7).
        intake_payload(event.value("content", json::object()),
                       {.carrier = Carrier::room, .matrix_sender = sender}, intake);
      }
    }
  }
  for (const auto& room_id : batch->left) {
    if (auto b = broadcasts_.find(room_id); b != broadcasts_.end()) {
      // Kicked or banned from a broadcast room: the next subscribe() joins again.
      intake.changes.erase(ctx_.tables.meta,
                           ctx_.home.meta_key(store::join_key({"topic", b->second.topic})));
      topic_rooms_.erase(b->second.topic);
      for (auto& done : b->second.waiting)
        done(fail(MatrixError{MatrixErrorKind::http, 0, "", "left the room", std::nullopt, ""}));
      broadcasts_.erase(b);
      continue;
    }
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second->left) continue;
    it->second->left = true;
    it->second->state.membership[my_user_id_] = "leave";
    persist_room(room_id, intake.changes);
  }

  since_ = batch->next_batch;
  intake.changes.put(ctx_.tables.meta, ctx_.home.meta_key(kMetaNextBatch), since_);
  finish_intake(intake);
}

// One m.room.encrypted event of a valid DM room (`retry`: held before): its envelopes go to the
// intake; one whose key has not come yet is held until keys arrive.
void NodeWorker::decrypt_dm_event(HeldRoomEvents::Held held, bool retry, Intake& intake) {
  const std::string room_id = held.room_id, sender = held.event.value("sender", "");
  auto decrypted = machine_.decrypt_room_event(held.event, intake.changes);
  if (!decrypted) {
    if (decrypted.error() == RoomEventError::unknown_session) {
      held_room_events_.hold(std::move(held));
      if (retry) return;  // counted when it first arrived
    }
    ctx_.counters.update([&](NodeStats& s) {
      ++s.undecryptable;
      ++s.undecryptable_room[decrypted.error()];
    });
    ctx_.log(LogLevel::debug, "e2ee", "undecryptable",
             {{"carrier", "room"},
              {"room_id", room_id},
              {"sender", sender},
              {"reason", to_string(decrypted.error())}});
    return;
  }
  if (decrypted->type != kEnvelopesEventType) return;
  const std::optional<Address> device =
      decrypted->trust == DeviceTrust::attested ? decrypted->address : std::nullopt;
  if (device && !validated(decrypted->sender, *device)) look_up(decrypted->sender);
  intake_payload(decrypted->content,
                 {.carrier = Carrier::room, .device = device, .matrix_sender = sender}, intake);
}

void NodeWorker::finish_intake(Intake& intake) {
  // Durable before any ack leaves and before the application sees anything: the machine's
  // writes (sessions, replay marks), the envelopes, the acks owed and next_batch, at once.
  try {
    ctx_.env.commit_now(std::move(intake.changes));
  } catch (...) {
    ctx_.homes.release(intake.claims);  // not accepted after all: a resend may be
    for (const auto& nonce : intake.delivered) ctx_.homes.unsettle(nonce);  // an ack again may
    throw;
  }
  ctx_.homes.release(intake.claims);  // committed: other homes see them as replays now
  for (const auto& nonce : intake.delivered) {
    if (auto sent = outbox_.remove(nonce)) ctx_.counters.release_outbox(sent->to);
  }
  for (auto& [to, ack] : intake.acks) {
    Peer& p = peer(to);
    if (std::all_of(p.acks.begin(), p.acks.end(), [](const auto& a) { return a.second.empty(); })) {
      p.acks_since = steady();
      post_after(kAckHoldMs, [] {});  // wakes the loop to send them if nothing else does
    }
    auto& waiting = p.acks[ack.first];
    // Copies of one message that arrive together are acked once: an ack that holds a nonce
    // twice is malformed (PROTOCOL §4) and dropped whole.
    if (std::find(waiting.begin(), waiting.end(), ack.second) != waiting.end()) continue;
    waiting.push_back(ack.second);
    // A sender whose id is not proven yet gets its acks later; the oldest go first when too
    // many wait (its resend is acked as a replay).
    if (waiting.size() > kMaxAcksWaiting) waiting.erase(waiting.begin());
  }
  // Counted before the events go out, so that stats() agrees with what the application saw.
  const auto messages = static_cast<std::size_t>(
      std::count_if(intake.events.begin(), intake.events.end(),
                    [](const NodeEvent& e) { return e.type == NodeEventType::message; }));
  ctx_.counters.update([&](NodeStats& s) {
    s.received += messages;
    s.inbox += messages;
    s.delivered += intake.delivered.size();
    s.envelopes_gated += intake.gated;
    // Counted down by what settles (once per message, HomeSet::settle), never set from this
    // worker's map: send() counts a message up before the worker has it.
    s.outbox -= std::min(s.outbox, intake.delivered.size());
  });
  for (auto& event : intake.events) ctx_.emit(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// Time.

void NodeWorker::tick() {
  const std::int64_t now = steady();
  Outbox::Due due = outbox_.due(now, ctx_.now_ms());
  for (const auto& resend : due.resends) {
    Peer& p = peer(resend.to);
    if (resend.attempts >= kStuckAttempts && now >= p.next_recheck) {
      // Deliveries keep failing: the peer may have moved to another homeserver (PROTOCOL §8),
      // or come back as a new device (device-list news only comes with shared rooms).
      p.next_recheck = now + 2 * ctx_.config.resend_initial.count() * resend.attempts;
      ids_.recheck(resend.to);
      const auto& known = ids_.ids(resend.to);
      if (!known.empty()) machine_.refresh_devices({known.begin(), known.end()});
    }
    // Resends go over every healthy homeserver the peer uses (HomeSet::carries).
    if (ctx_.homes.carries(server_name_, resend.to) && p.queued.insert(resend.nonce).second) {
      p.messages.push_back(resend.nonce);
      ctx_.counters.update([](NodeStats& st) { ++st.resent; });
    }
    ensure_room(p);
  }
  // Reported by one home only; the others just forget the message. The reporting home keeps it
  // until the report is durable, so that a failed commit reports it at the next tick.
  std::vector<OutboxEntry> failed;
  for (const auto& nonce : due.expired) {
    if (!ctx_.homes.settle(nonce, this)) {
      outbox_.remove(nonce);
    } else if (const OutboxEntry* entry = outbox_.find(nonce)) {
      failed.push_back(*entry);
    }
  }
  if (!failed.empty()) {
    store::Changes c;
    for (const auto& entry : failed)
      c.put(ctx_.tables.outbox, entry.nonce, settled_record(entry, "failed"));
    try {
      ctx_.env.commit(std::move(c)).get();
    } catch (...) {
      for (const auto& entry : failed) ctx_.homes.unsettle(entry.nonce);
      throw;
    }
    for (const auto& entry : failed) outbox_.remove(entry.nonce);
    std::vector<NodeEvent> events;
    for (const auto& entry : failed) {
      NodeEvent f;
      f.type = NodeEventType::failed;
      f.id = entry.nonce;
      f.peer = entry.to;
      f.ts = entry.ts;
      ctx_.counters.release_outbox(entry.to);
      events.push_back(std::move(f));
    }
    ctx_.counters.update([&](NodeStats& s) {
      s.failed += failed.size();
      s.outbox -= std::min(s.outbox, failed.size());
    });
    for (auto& e : events) ctx_.emit(std::move(e));
  }
  // The user ids of whoever we owe a message or an ack: looked up until one is validated, and
  // again as PeerIds says (backoff, re-checks, the cache's ttl).
  for (const auto& [address, p] : peers_) {
    bool acks = false;
    for (const auto& [carrier, nonces] : p->acks) acks = acks || !nonces.empty();
    if (acks || due.waiting.count(address)) look_up_ids(address);
  }
  // Rooms whose members could not all be checked yet, and invites from an inviter that could
  // not be: tried again (the look-ups back off).
  for (auto& [room_id, room] : rooms_)
    if (!room->judged && room->complete && !room->left) judge_room(room_id, nullptr);
  for (const auto& [room_id, state] : std::map(pending_invites_)) handle_invite(room_id, state);
  // The creator invites again, every minute, the partner's ids that have not joined.
  for (auto& [room_id, room] : rooms_) {
    if (room->left || room->state.creator != my_user_id_ || !room->partner) continue;
    if (room->invited_at == 0 || now - room->invited_at < kReinviteMs) continue;
    if (room->reinvites >= kMaxReinvites) continue;
    ++room->reinvites;
    room->invited_at = now;
    for (const auto& partner_user : ids_.ids(*room->partner)) {
      if (room->state.joined(partner_user)) continue;
      ctx_.client.call(calls::invite(room_id, partner_user), [](const MatrixResult&) {});
    }
  }
  if (now >= next_squat_check_) {
    next_squat_check_ = now + kSquatRecheckMs;
    recheck_squatted();
  }
  if (now >= next_prune_) prune();
}

void NodeWorker::prune() {
  next_prune_ = steady() + kPruneEveryMs;
  const std::set<Address> waiting = outbox_.recipients();
  const std::size_t dropped = std::erase_if(peers_, [&](const auto& kv) {
    const Peer& p = *kv.second;
    const bool acks =
        std::any_of(p.acks.begin(), p.acks.end(), [](const auto& a) { return !a.second.empty(); });
    return !p.watched && p.messages.empty() && !acks && p.sends_in_flight == 0 &&
           !p.creating_room && !e2ee_.holds(p.address) && !waiting.contains(p.address);
  });
  ctx_.counters.update([&](NodeStats& s) { s.peers -= std::min(s.peers, dropped); });
  // A nonce past ts + max_age can only come back as `expired` (rule 5), so it may be forgotten.
  const auto now = static_cast<std::uint64_t>(ctx_.now_ms());
  store::Changes c;
  ctx_.tables.seen_nonces.for_each(ctx_.env.read(), {},
                                   [&](const std::string& key, std::uint64_t until) {
                                     if (until < now) c.erase(ctx_.tables.seen_nonces, key);
                                     return true;
                                   });
  // The machine's Olm and Megolm replay records, kept twice as long: what they would let
  // through again is refused by rule 5 or 6 (E2eeMachine::prune_replay_records).
  const std::int64_t window = 2 * (ctx_.config.limits.max_age_ms + kMaxClockSkewMs);
  machine_.prune_replay_records(ctx_.now_ms() - window, c);
  if (!c.empty()) commit_in_background(std::move(c));
}

}  // namespace mrt::transport
