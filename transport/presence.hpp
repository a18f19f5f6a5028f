// transport/presence.hpp (internal): what one home knows of other addresses' presence, and
// their reachability from it: reachable when one of the address's validated user ids (on any
// homeserver, PROTOCOL §8) is online, unreachable when none is and one is offline or
// unavailable, unknown otherwise. Presence of an id that is not an address's is not kept.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <mrt/eth.hpp>
#include <mrt/node.hpp>

namespace mrt::transport {

class Presence {
 public:
  // `user_id`'s presence as /sync or the homeserver told it; the address it is an id of, if any.
  std::optional<Address> set(const std::string& user_id, std::string presence);
  bool knows(const std::string& user_id) const;

  // `address`'s reachability over its ids that `validated` accepts, remembered for last().
  using Validated = std::function<bool(const std::string& user_id)>;
  Reachability recompute(const Address& address, const Validated& validated);
  Reachability last(const Address& address) const;

 private:
  std::map<Address, std::map<std::string, std::string>> presence_;  // by address, by user id
  std::map<Address, Reachability> reachability_;
};

}  // namespace mrt::transport
