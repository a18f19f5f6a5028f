#include "intake_rules.hpp"

namespace mrt::transport {

std::optional<RejectReason> IntakeRules::judge(const Envelope& envelope,
                                               const EnvelopeSource& source, bool seen,
                                               const std::function<bool()>& take_budget) const {
  if (seen) return RejectReason::replay;  // rule 6: a message is acked again by the caller
  // Rule 7 is for unicast carriers only: a broadcast room is public and unencrypted.
  if (source.unicast() && (!source.device || *source.device != envelope.sender))
    return RejectReason::unattested_device;
  if (!allowed(envelope.sender, source)) return RejectReason::not_allowed;
  if (!take_budget()) return RejectReason::rate_limited;
  return std::nullopt;
}

bool IntakeRules::allowed(const Address& sender, const EnvelopeSource& source) const {
  if (source.topic) {
    const auto it = policy_.publishers.find(*source.topic);
    return it == policy_.publishers.end() || it->second.contains(sender);
  }
  return !policy_.allowlist || policy_.allowlist->contains(sender);
}

}  // namespace mrt::transport
