#include "outbox_records.hpp"

#include <mrt/canonical_json.hpp>

namespace mrt::transport {

using json = nlohmann::json;

Result<std::vector<OutboxEntry>, NodeError> sign_into_outbox(
    const PrivateKey& key, const Address& to, std::vector<std::string> bodies, std::int64_t now_ms,
    const EnvelopeLimits& limits, const NodeTables& tables, store::Changes& changes) {
  std::vector<OutboxEntry> entries;
  store::Changes records;
  for (auto& body : bodies) {
    Envelope e = Envelope::message(key, to, std::move(body), now_ms);
    json wire = e.to_json();
    auto text = canonical_json(wire);
    if (!text) return fail(NodeError{NodeErrorKind::too_large, "body has no canonical JSON form"});
    if (text->size() > limits.max_bytes)
      return fail(NodeError{NodeErrorKind::too_large,
                            "envelope of " + std::to_string(text->size()) + " bytes exceeds " +
                                std::to_string(limits.max_bytes)});
    records.put(tables.outbox, e.nonce, json{{"envelope", wire}, {"to", to.to_hex()}});
    entries.push_back({std::move(wire), e.nonce, to, e.ts});
  }
  changes.append(std::move(records));
  return entries;
}

std::vector<OutboxEntry> unsettled_outbox(const store::Env& env, const NodeTables& tables) {
  std::vector<OutboxEntry> pending;
  tables.outbox.for_each(env.read(), {}, [&](const std::string& nonce, const json& record) {
    auto to = Address::parse(record.value("to", ""));
    if (!to || !record.contains("envelope") || record.contains("settled")) return true;
    pending.push_back({record["envelope"], nonce, *to, record["envelope"].value("ts", 0LL)});
    return true;
  });
  return pending;
}

}  // namespace mrt::transport
