// transport/intake_rules.hpp (internal): PROTOCOL §4 rules 6-8 for an envelope that passed
// rules 1-5 (validate_envelope), in the protocol's order; the first rule it fails names the
// rejection. Pure: whether the nonce was seen and the sender's budget are the caller's (they
// are shared by the node's homes), and the budget is asked only once every other rule passed,
// so that an envelope rejected earlier takes nothing from it.
//
// One per node, shared by its homes: rule 8's lists start as Policy's and the application may
// change them while the node runs (Node::set_allowlist, Node::set_publishers), hence the lock.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>

#include <mrt/envelope.hpp>
#include <mrt/node.hpp>

namespace mrt::transport {

// Where an envelope came in: a unicast carrier, with the attested address of the device that
// sent it (if any), or a broadcast room.
struct EnvelopeSource {
  std::optional<Carrier> carrier;
  std::optional<Address> device;
  std::optional<std::string> topic;
  std::string matrix_sender;  // the event's sender, as the homeserver authenticated it
  bool unicast() const { return carrier.has_value(); }
};

class IntakeRules {
 public:
  explicit IntakeRules(const Policy& policy)
      : allowlist_(policy.allowlist), publishers_(policy.publishers) {}

  // nullopt: accepted. `seen`: the sender's nonce is in the replay window; `take_budget`: takes
  // one envelope from the sender's budget, false when it is spent.
  std::optional<RejectReason> judge(const Envelope& envelope, const EnvelopeSource& source,
                                    bool seen, const std::function<bool()>& take_budget) const;

  // Rule 8's allowlists: the node's for unicast, the topic's publishers for a broadcast room,
  // and the operator alone for an events room (mrt/topics.hpp).
  bool allowed(const Address& sender, const EnvelopeSource& source) const;

  // nullopt: every sender (unicast), every publisher (the topic).
  void set_allowlist(std::optional<std::set<Address>> allowlist);
  void set_publishers(const std::string& topic, std::optional<std::set<Address>> publishers);

 private:
  mutable std::shared_mutex mutex_;
  std::optional<std::set<Address>> allowlist_;
  std::map<std::string, std::set<Address>> publishers_;
};

}  // namespace mrt::transport
