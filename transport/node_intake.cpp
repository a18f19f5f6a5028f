// NodeWorker, envelopes in: PROTOCOL §4 rules 1-8 for every envelope of a payload, from a
// unicast carrier or a broadcast room.
#include <algorithm>

#include <mrt/topics.hpp>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

void NodeWorker::intake_payload(const json& content, const Source& source, Intake& intake) {
  auto it = content.is_object() ? content.find("envelopes") : content.end();
  if (!content.is_object() || it == content.end() || !it->is_array()) {
    reject(RejectReason::malformed, std::nullopt, source, intake);
    return;
  }
  for (const auto& envelope : *it) intake_envelope(envelope, source, intake);
}

void NodeWorker::reject(RejectReason reason, const std::optional<Address>& claimed,
                        const Source& source, Intake& intake, const std::string& nonce) {
  ctx_.counters.update([&](NodeStats& s) { ++s.rejected[reason]; });
  NodeEvent e;
  e.type = NodeEventType::rejected;
  e.id = nonce;
  e.peer = claimed;
  e.carrier = source.carrier;
  e.topic = source.topic;
  e.reason = reason;
  intake.events.push_back(std::move(e));
}

void NodeWorker::intake_envelope(const json& wire, const Source& source, Intake& intake) {
  // Before any work on it: one Matrix user, or all of them, cannot make the node verify more
  // than its gate lets through (an ecrecover each), whatever addresses the envelopes claim.
  if (!ctx_.homes.may_verify(source.matrix_sender, steady())) {
    ++intake.gated;
    return;
  }
  const Arrival arrival =
      source.topic ? Arrival{.room_topic = source.topic} : Arrival{.receiver = me_};
  auto valid = validate_envelope(wire, arrival, ctx_.now_ms(), ctx_.config.limits);
  if (!valid) {
    // Past rule 1 the envelope's fields are readable: name its sender and nonce.
    auto parsed = parse_envelope(wire);
    reject(valid.error(), parsed ? std::optional<Address>(parsed->sender) : std::nullopt, source,
           intake, parsed ? parsed->nonce : std::string());
    return;
  }
  const Envelope& e = *valid;
  const std::string key = store::join_key({e.sender.to_hex(), e.nonce});
  const bool unicast = source.unicast();
  // The sender did not get our ack: acknowledge again (rule 6). Broadcasts are not acked.
  const auto ack_again = [&] {
    if (unicast && e.kind == EnvelopeKind::message)
      intake.acks.push_back({e.sender, {*source.carrier, e.nonce}});
  };

  const bool seen = intake.accepted.contains(key) ||
                    ctx_.tables.seen_nonces.get(ctx_.env.read(), key).has_value();
  const auto rejected = ctx_.rules.judge(
      e, source, seen, [&] { return ctx_.homes.within_budget(e.sender, steady()); });
  if (rejected) {
    // A replay is acked again from the sender's budget, so that copies cost it like messages.
    if (*rejected == RejectReason::replay && ctx_.homes.within_budget(e.sender, steady()))
      ack_again();
    reject(*rejected, e.sender, source, intake, e.nonce);
    return;
  }
  // The same envelope may be arriving over another homeserver right now: the home that claims
  // it first accepts it; the other counts a replay and leaves the ack to the first. A claim is
  // released only once its step is committed, so a claim won after that finds the nonce stored.
  if (!ctx_.homes.claim(key)) {
    reject(RejectReason::replay, e.sender, source, intake, e.nonce);
    return;
  }
  if (ctx_.tables.seen_nonces.get(ctx_.env.read(), key)) {
    ctx_.homes.release({key});
    ack_again();
    reject(RejectReason::replay, e.sender, source, intake, e.nonce);
    return;
  }

  intake.claims.push_back(key);
  intake.accepted.insert(key);
  intake.changes.put(ctx_.tables.seen_nonces, key,
                     static_cast<std::uint64_t>(e.ts + ctx_.config.limits.max_age_ms));
  if (e.kind == EnvelopeKind::message) {
    json record = {{"envelope", wire}};
    if (unicast) record["carrier"] = std::string(to_string(*source.carrier));
    if (source.topic) record["topic"] = *source.topic;
    intake.changes.put(ctx_.tables.inbox, key, record);
    if (source.topic && events_topic_operator(*source.topic))
      keep_evidence(*source.topic, e, wire, intake);
    NodeEvent m;
    m.type = NodeEventType::message;
    m.id = e.nonce;
    m.peer = e.sender;
    m.body = e.body;
    m.ts = e.ts;
    m.carrier = source.carrier;
    m.topic = source.topic;
    intake.events.push_back(std::move(m));
    if (unicast) {
      intake.acks.push_back({e.sender, {*source.carrier, e.nonce}});
      // A partner that talks to us gets a DM room (PROTOCOL §5 "When").
      ensure_room(peer(e.sender));
    }
    return;
  }
  for (const auto& nonce : e.acks) {
    const OutboxEntry* sent = outbox_.find(nonce);
    // Only the recipient of a message can acknowledge it.
    if (!sent || sent->to != e.sender) continue;
    if (std::find(intake.delivered.begin(), intake.delivered.end(), nonce) !=
        intake.delivered.end())
      continue;
    if (!ctx_.homes.settle(nonce, this)) continue;  // another home's ack came first
    // Kept, marked, until the application has seen `delivered` (Node::consumed), so that a
    // crash before it did reports it again rather than never.
    intake.changes.put(ctx_.tables.outbox, nonce, settled_record(*sent, "delivered"));
    intake.delivered.push_back(nonce);
    NodeEvent d;
    d.type = NodeEventType::delivered;
    d.id = nonce;
    d.peer = e.sender;
    d.ts = sent->ts;
    intake.events.push_back(std::move(d));
  }
}

}  // namespace mrt::transport
