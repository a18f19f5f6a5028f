#include "intake_rules.hpp"

#include <mrt/topics.hpp>

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
  std::shared_lock lock(mutex_);
  if (source.topic) {
    // An events room is its operator's alone, whatever the application's lists say.
    if (auto operator_address = events_topic_operator(*source.topic))
      return sender == *operator_address;
    const auto it = publishers_.find(*source.topic);
    return it == publishers_.end() || it->second.contains(sender);
  }
  return !allowlist_ || allowlist_->contains(sender);
}

void IntakeRules::set_allowlist(std::optional<std::set<Address>> allowlist) {
  std::lock_guard lock(mutex_);
  allowlist_ = std::move(allowlist);
}

void IntakeRules::set_publishers(const std::string& topic,
                                 std::optional<std::set<Address>> publishers) {
  std::lock_guard lock(mutex_);
  if (publishers)
    publishers_[topic] = std::move(*publishers);
  else
    publishers_.erase(topic);
}

}  // namespace mrt::transport
