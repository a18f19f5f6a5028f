#include "peer_ids.hpp"

#include <algorithm>

#include <mrt/matrix_identity.hpp>

namespace mrt::transport {

namespace {
const std::set<std::string> kNone;
}

PeerIds::PeerIds(std::vector<std::string> known_servers, Timing timing)
    : known_servers_(std::move(known_servers)), timing_(timing) {}

bool PeerIds::validated(const std::string& user_id, const Address& address) const {
  auto it = validated_.find(user_id);
  return it != validated_.end() && it->second == address;
}

const Address* PeerIds::address_of(const std::string& user_id) const {
  auto it = validated_.find(user_id);
  return it == validated_.end() ? nullptr : &it->second;
}

const std::set<std::string>& PeerIds::ids(const Address& address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? kNone : it->second;
}

bool PeerIds::refused(const std::string& user_id) const {
  auto it = checks_.find(user_id);
  return it != checks_.end() && it->second.refused;
}

bool PeerIds::in_flight(const std::string& user_id) const {
  auto it = checks_.find(user_id);
  return it != checks_.end() && it->second.in_flight;
}

bool PeerIds::add_candidate(const Address& address, const std::string& user_id) {
  auto owner = address_of_user_id(user_id);
  if (!owner || *owner != address) return false;
  auto& set = candidates_[address];
  if (set.count(user_id)) return true;
  if (set.size() >= kMaxCandidates) return false;
  set.insert(user_id);
  return true;
}

bool PeerIds::take(const std::string& user_id, std::int64_t now_ms, std::vector<std::string>& out) {
  if (std::find(out.begin(), out.end(), user_id) != out.end()) return false;
  Check& c = checks_[user_id];
  if (c.in_flight || c.next_at > now_ms) return false;
  if (validated_.count(user_id) && !c.stale && now_ms < c.validated_at + timing_.ttl_ms)
    return false;
  c.in_flight = true;
  out.push_back(user_id);
  return true;
}

std::vector<std::string> PeerIds::due(const Address& address, std::int64_t now_ms) {
  std::vector<std::string> out;
  bool candidate_in_flight = false;
  if (auto it = candidates_.find(address); it != candidates_.end()) {
    for (const auto& id : it->second) {
      take(id, now_ms, out);
      candidate_in_flight = candidate_in_flight || in_flight(id);
    }
  }
  for (const auto& id : ids(address)) take(id, now_ms, out);
  // §8's order: the known servers are asked once the ids supplied or met did not prove out, and
  // on a re-check.
  const bool rechecking = rechecks_.erase(address) > 0;
  if (rechecking || (ids(address).empty() && !candidate_in_flight))
    for (const auto& server : known_servers_) take(matrix_user_id(address, server), now_ms, out);
  return out;
}

bool PeerIds::start(const std::string& user_id, std::int64_t now_ms) {
  std::vector<std::string> out;
  return take(user_id, now_ms, out);
}

void PeerIds::recheck(const Address& address) {
  // The known servers' ids are asked as well, even while a validated id exists: the peer may
  // have moved (failover) and its old id still proves itself.
  const auto again = [&](const std::string& id) {
    Check& c = checks_[id];
    c.next_at = 0;
    c.stale = true;
  };
  if (auto it = candidates_.find(address); it != candidates_.end())
    for (const auto& id : it->second) again(id);
  for (const auto& id : ids(address)) again(id);
  for (const auto& server : known_servers_) again(matrix_user_id(address, server));
  rechecks_.insert(address);
}

void PeerIds::back_off(Check& c, std::int64_t now_ms) const {
  c.in_flight = false;
  ++c.failures;
  const std::int64_t delay = std::min<std::int64_t>(
      timing_.retry_max_ms, timing_.retry_initial_ms << std::min(c.failures - 1, 20));
  c.next_at = now_ms + delay;
}

bool PeerIds::proven(const std::string& user_id, const Address& address, std::int64_t now_ms) {
  Check& c = checks_[user_id];
  c = Check{.validated_at = now_ms};
  const bool fresh = validated_.insert_or_assign(user_id, address).second;
  by_address_[address].insert(user_id);
  return fresh;
}

bool PeerIds::refused(const std::string& user_id, std::int64_t now_ms) {
  Check& c = checks_[user_id];
  c.refused = true;
  back_off(c, now_ms);
  auto it = validated_.find(user_id);
  if (it == validated_.end()) return false;
  if (auto ids = by_address_.find(it->second); ids != by_address_.end()) {
    ids->second.erase(user_id);
    if (ids->second.empty()) by_address_.erase(ids);
  }
  validated_.erase(it);
  return true;
}

void PeerIds::failed(const std::string& user_id, std::int64_t now_ms) {
  back_off(checks_[user_id], now_ms);
}

void PeerIds::abandoned(const std::string& user_id) {
  if (auto it = checks_.find(user_id); it != checks_.end()) it->second.in_flight = false;
}

void PeerIds::restore(const std::string& user_id, const Address& address,
                      std::optional<std::int64_t> validated_at_ms) {
  validated_[user_id] = address;
  by_address_[address].insert(user_id);
  Check& c = checks_[user_id];
  c.validated_at = validated_at_ms.value_or(0);
  c.stale = !validated_at_ms;
}

}  // namespace mrt::transport
