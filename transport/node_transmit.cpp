// NodeWorker, envelopes out: one payload per peer in flight, over the DM room or to_device to
// the peer's validated user ids on whatever homeserver they are (PROTOCOL §8); and the E2EE
// machine's requests sent and marked.
#include <algorithm>
#include <utility>

#include <mrt/matrix_identity.hpp>

#include "envelope_batch.hpp"
#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

NodeWorker::Peer& NodeWorker::peer(const Address& address) {
  auto& slot = peers_[address];
  if (!slot) {
    ctx_.counters.update([](NodeStats& s) { ++s.peers; });
    slot = std::make_unique<Peer>();
    slot->address = address;
    slot->pace = TokenBucket::full(transmit_pace(ctx_.config.policy), steady());
    const auto& known = ids_.ids(address);
    if (!known.empty()) machine_.update_tracked_users({known.begin(), known.end()});
    look_up_ids(address);  // nothing goes out before one of its ids is validated
  }
  return *slot;
}

void NodeWorker::transmit_all() {
  bool draining = false;
  {
    std::lock_guard lock(mutex_);
    draining = draining_;
  }
  // A throw leaves the batch to run()'s abandon_pending_steps().
  for (auto& [address, p] : peers_) transmit(*p, draining);
  // Durable before anything the batch encrypted leaves: a ratchet step is never sent twice.
  if (send_step_.empty() && room_sends_.empty()) return;
  store::Changes batch = std::exchange(e2ee_.answers(), {});
  batch.append(std::exchange(send_step_, {}));  // after the answers: it may update them
  ctx_.env.commit_now(std::move(batch));
  for (auto& send : std::exchange(room_sends_, {})) send.go();
}

void NodeWorker::abandon_pending_steps() {
  // Dropping them makes the machine reload what the store holds; their room events never leave.
  send_step_ = store::Changes{};
  for (const auto& send : std::exchange(room_sends_, {})) on_carrier_done(send.to, false);
  // The requests the reloaded machine no longer has would hold their peers' payloads back for
  // good; those in flight are let go by their answers (on_request_done).
  e2ee_.abandon();
}

void NodeWorker::transmit(Peer& p, bool draining) {
  // One payload in flight per peer, so that the server receives them in order; whatever queues
  // meanwhile goes together in the next one.
  if (p.sends_in_flight > 0 || e2ee_.holds(p.address)) return;
  // Nothing goes to an id that its displayname has not proven (PROTOCOL §8): acks and messages
  // wait (the tick keeps looking the peer's ids up).
  if (ids_.ids(p.address).empty()) return;

  // Everything that fits in one payload, in order.
  PayloadBuilder payload;
  std::vector<std::string> nonces;
  // A message's first transmission goes over one homeserver only (HomeSet::first_choice).
  const bool first_choice = ctx_.homes.first_choice(server_name_, p.address);
  bool stuck = true;  // every message in it already went out kStuckAttempts times
  const TokenRate pace = transmit_pace(ctx_.config.policy);
  while (!p.messages.empty() && payload.count() < kMaxEnvelopesPerPayload) {
    const std::string nonce = p.messages.front();
    const OutboxEntry* entry = outbox_.find(nonce);
    const int attempts = outbox_.attempts(nonce);
    if (entry && (attempts > 1 || first_choice)) {
      // Over the pace: the rest waits for a later step (the tick comes every kTickMs).
      if (p.pace.available(pace, steady()) < 1 || !payload.add(entry->envelope)) break;
      (void)p.pace.take(pace, steady());
      nonces.push_back(nonce);
      stuck = stuck && attempts >= kStuckAttempts;
    }
    p.queued.erase(nonce);
    p.messages.pop_front();
  }

  if (nonces.empty()) {
    // Acks alone, once they have waited kAckHoldMs for a message to ride with (not while
    // stopping): an application that answers at once sends one payload, not two.
    for (Carrier arrival : {Carrier::room, Carrier::to_device}) {
      auto& acks = p.acks[arrival];
      if (acks.empty()) continue;
      if (!draining && steady() < p.acks_since + kAckHoldMs) return;
      const std::size_t n = std::min(acks.size(), kMaxAcks);
      PayloadBuilder ack;
      ack.add(ack_envelope(p, acks, n));
      if (!send_payload(p, arrival, ack.content())) return;  // keys being set up: again later
      ctx_.counters.update([&](NodeStats& s) {
        ++s.acks_sent;
        ++s.transmitted;
      });
      acks.erase(acks.begin(), acks.begin() + static_cast<std::ptrdiff_t>(n));
      return;
    }
    return;
  }
  // Resends that the room has not delivered alternate with to_device: the partner may no
  // longer read the room (it moved to another homeserver and has not joined from there yet).
  const Carrier carrier =
      stuck && ctx_.config.carrier == Carrier::room && p.stuck_payloads++ % 2 == 0
          ? Carrier::to_device
          : ctx_.config.carrier;
  // The acks owed over the carrier this payload takes go with it (PROTOCOL §5 batches envelopes
  // to one recipient, acks included).
  const Carrier taken =
      carrier == Carrier::room && ready_room(p.address) ? Carrier::room : Carrier::to_device;
  auto& acks = p.acks[taken];
  const std::size_t n = std::min(acks.size(), kMaxAcks);
  const bool with_acks = n > 0 && payload.add(ack_envelope(p, acks, n));
  if (!send_payload(p, carrier, payload.content())) {
    // Not sent (keys being set up): back to the front of the queue, in order.
    for (auto it = nonces.rbegin(); it != nonces.rend(); ++it) {
      if (p.queued.insert(*it).second) p.messages.push_front(*it);
    }
    return;
  }
  if (with_acks) acks.erase(acks.begin(), acks.begin() + static_cast<std::ptrdiff_t>(n));
  ctx_.counters.update([&](NodeStats& s) {
    s.transmitted += nonces.size() + (with_acks ? 1 : 0);
    s.acks_sent += with_acks ? 1 : 0;
  });
}

json NodeWorker::ack_envelope(const Peer& p, const std::vector<std::string>& acks,
                              std::size_t n) const {
  return Envelope::ack(ctx_.key, p.address,
                       {acks.begin(), acks.begin() + static_cast<std::ptrdiff_t>(n)}, ctx_.now_ms())
      .to_json();
}

bool NodeWorker::send_payload(Peer& p, Carrier carrier, const json& payload) {
  if (carrier == Carrier::room) {
    if (const std::string* room_id = ready_room(p.address))
      return send_over_room(p, *rooms_.at(*room_id), *room_id, payload);
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
  const ShareOutcome share = machine_.share_room_key(room_id, room.state.members(), send_step_);
  e2ee_.carry(p.address, share.requests);
  // The room key must reach the partner before the event it opens.
  if (!share.complete() || e2ee_.holds(p.address)) return false;
  auto content = machine_.encrypt_room_event(room_id, kEnvelopesEventType, payload, send_step_);
  if (!content) return false;  // rotation due: the next attempt shares a new key first
  ++p.sends_in_flight;
  ctx_.counters.update([](NodeStats& st) { ++st.payloads; });
  const Address to = p.address;
  room_sends_.push_back(
      {to, [this, to,
            call = calls::send_room_event(room_id, "m.room.encrypted", new_transaction_id(),
                                          *content)]() mutable {
         ctx_.client.call(std::move(call), [this, to](const MatrixResult& r) {
           post([this, to, ok = bool(r)] { on_carrier_done(to, ok); });
         });
       }});
  return true;
}

NodeWorker::ToDeviceSend NodeWorker::send_over_to_device(Peer& p, const json& payload) {
  // To every validated id of the peer: each reaches the devices of that account, on its own
  // homeserver (over federation). One whose keys are still being fetched does not hold back the
  // others; it gets the next payloads (and the resends).
  bool sent = false;
  bool waiting = false;
  std::vector<std::string> without_devices;
  for (const auto& user_id : ids_.ids(p.address)) {
    const ShareOutcome share =
        machine_.encrypt_to_device(user_id, kEnvelopesEventType, payload, send_step_);
    e2ee_.carry(p.address, share.requests);
    if (!share.complete()) {
      waiting = true;  // sent again once its keys are in (some devices may have it already)
    } else if (!share.sent.empty()) {
      sent = true;
    } else {
      without_devices.push_back(user_id);
    }
  }
  if (!without_devices.empty() && steady() >= p.next_device_refresh) {
    // Not logged in yet, or gone: ask the server again now and then (no room, no device-list
    // news for this user).
    p.next_device_refresh = steady() + kDeviceRefreshMs;
    machine_.refresh_devices(without_devices);
  }
  if (sent) {
    ctx_.counters.update([](NodeStats& st) { ++st.payloads; });
    return ToDeviceSend::sent;
  }
  return waiting ? ToDeviceSend::waiting : ToDeviceSend::no_devices;
}

void NodeWorker::pump_requests() {
  std::vector<OutgoingRequest> due = e2ee_.due(steady());
  // A request an answer made (an m.dummy on a session a claim opened) leaves only once the
  // answer's writes are durable.
  if (!due.empty() && !e2ee_.answers().empty())
    ctx_.env.commit_now(std::exchange(e2ee_.answers(), {}));
  for (auto& r : due) {
    e2ee_.sending(r.id);
    ctx_.client.call(calls::machine_request(r), [this, id = r.id](MatrixResult result) {
      post([this, id, result = std::move(result)] { on_request_done(id, result); });
    });
  }
}

void NodeWorker::on_request_done(const std::string& id, const MatrixResult& result) {
  if (e2ee_.done(id, result, steady()) == E2eeDriver::Answer::refused) {
    ctx_.log(LogLevel::warning, "e2ee", "request_refused",
             {{"server", server_name_},
              {"request_id", id},
              {"http_status", result.error().http_status},
              {"errcode", result.error().errcode}});
  }
}

void NodeWorker::on_carrier_done(const Address& to, bool /*ok*/) {
  // A lost send is covered by the outbox's resend (messages) and the partner's resend (acks).
  --peer(to).sends_in_flight;
}

}  // namespace mrt::transport
