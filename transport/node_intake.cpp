// NodeWorker, envelopes in: PROTOCOL §4 rules 1-8 for every envelope of a payload.
#include <algorithm>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

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
    // Kept, marked, until the application has seen `delivered` (Node::consumed), so that a
    // crash before it did reports it again rather than never.
    intake.changes.put(ctx_.tables.outbox, nonce, settled_record(it->second, "delivered"));
    intake.delivered.push_back(nonce);
    NodeEvent d;
    d.type = NodeEventType::delivered;
    d.id = nonce;
    d.peer = e.sender;
    d.ts = it->second.ts;
    intake.events.push_back(std::move(d));
  }
}

}  // namespace mrt::transport
