// Evidence of an events room (PROTOCOL §6 `raiden_<chain>_events_<operator>`, mrt/topics.hpp):
// every envelope the operator published there that the node accepted, kept signed and as it
// arrived after the application consumed it, so that a false event can be shown to others.
#include <mrt/canonical_json.hpp>
#include <mrt/topics.hpp>

#include "node_impl.hpp"
#include "node_worker_state.hpp"

namespace mrt::transport {

void NodeWorker::keep_evidence(const std::string& topic, const Envelope& envelope,
                               const nlohmann::json& wire, Intake& intake) {
  const auto [it, first] = evidence_keys_.try_emplace(topic);
  std::set<std::string>& kept = it->second;  // not the binding: clang 14's lambdas
  if (first) {                               // the topic's keys in the store, once
    ctx_.tables.evidence.for_each(ctx_.env.read(), as_bytes(store::join_key({topic})),
                                  [&](const std::string& key, const std::string&) {
                                    kept.insert(key);
                                    return true;
                                  });
  }
  const std::string key = evidence_key(topic, envelope.ts, envelope.nonce);
  intake.changes.put(ctx_.tables.evidence, key, canonical_json(wire).value());
  kept.insert(key);
  // The oldest (by their signed ts) go first.
  while (kept.size() > ctx_.config.policy.max_evidence_per_topic) {
    intake.changes.erase(ctx_.tables.evidence, *kept.begin());
    kept.erase(kept.begin());
  }
}

}  // namespace mrt::transport

namespace mrt {

Result<std::vector<std::string>, NodeError> Node::evidence(const std::string& topic) const {
  if (!events_topic_operator(topic)) {
    return fail(node_error(NodeErrorKind::bad_topic,
                           "not an events topic (raiden_<chain>_events_<operator>): " + topic));
  }
  std::vector<std::string> envelopes;
  impl_->tables.evidence.for_each(impl_->env.read(), as_bytes(store::join_key({topic})),
                                  [&](const std::string&, std::string envelope) {
                                    envelopes.push_back(std::move(envelope));
                                    return true;
                                  });
  return envelopes;
}

}  // namespace mrt
