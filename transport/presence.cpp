#include "presence.hpp"

#include <utility>

#include <mrt/matrix_identity.hpp>

namespace mrt::transport {

std::optional<Address> Presence::set(const std::string& user_id, std::string presence) {
  const auto address = address_of_user_id(user_id);
  if (!address) return std::nullopt;
  presence_[*address][user_id] = std::move(presence);
  return *address;
}

bool Presence::knows(const std::string& user_id) const {
  const auto address = address_of_user_id(user_id);
  if (!address) return false;
  const auto it = presence_.find(*address);
  return it != presence_.end() && it->second.contains(user_id);
}

Reachability Presence::recompute(const Address& address, const Validated& validated) {
  Reachability now = Reachability::unknown;
  if (const auto ids = presence_.find(address); ids != presence_.end()) {
    for (const auto& [user_id, presence] : ids->second) {
      if (!validated(user_id)) continue;
      if (presence == "online") {
        now = Reachability::reachable;
        break;
      }
      if (presence == "offline" || presence == "unavailable") now = Reachability::unreachable;
    }
  }
  reachability_[address] = now;
  return now;
}

Reachability Presence::last(const Address& address) const {
  const auto it = reachability_.find(address);
  return it == reachability_.end() ? Reachability::unknown : it->second;
}

}  // namespace mrt::transport
