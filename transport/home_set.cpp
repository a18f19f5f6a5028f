#include "home_set.hpp"

#include <algorithm>

#include "node_worker.hpp"

namespace mrt::transport {

HomeSet::HomeSet(std::function<void(NodeEvent)> emit, std::function<void()> failing,
                 const Policy& policy)
    : emit_(std::move(emit)),
      failing_(std::move(failing)),
      budgets_(TokenRate{policy.rate_per_second, policy.burst}),
      // A Matrix user's share: its sender's own budget, twice over for the resends and acks
      // that ride along.
      verify_per_user_(TokenRate{2 * policy.rate_per_second, 2 * policy.burst}),
      verify_rate_{policy.max_verified_per_second, 10 * policy.max_verified_per_second},
      verify_all_(TokenBucket::full(verify_rate_, 0)) {}

void HomeSet::attach(const std::string& server, NodeWorker* worker, std::int64_t rtt_ms) {
  std::lock_guard lock(mutex_);
  homes_[server] = Home{worker, rtt_ms, 0};
}

void HomeSet::detach(const std::string& server) {
  std::lock_guard lock(mutex_);
  homes_.erase(server);
  for (auto& [peer, views] : reachability_) views.erase(server);
}

bool HomeSet::claim(const std::string& key) {
  std::lock_guard lock(mutex_);
  return claims_.insert(key).second;
}

void HomeSet::release(const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  for (const auto& k : keys) claims_.erase(k);
}

bool HomeSet::settle(const std::string& nonce, const NodeWorker* by) {
  std::lock_guard lock(mutex_);
  if (!settled_.insert(nonce).second) return false;
  for (const auto& [server, home] : homes_)
    if (home.worker != by) home.worker->forget(nonce);
  return true;
}

void HomeSet::unsettle(const std::string& nonce) {
  std::lock_guard lock(mutex_);
  settled_.erase(nonce);
}

void HomeSet::consumed(const std::string& nonce) {
  std::lock_guard lock(mutex_);
  settled_.erase(nonce);
}

void HomeSet::peer_uses(const std::string& server, const Address& peer) {
  std::lock_guard lock(mutex_);
  peer_servers_[peer].insert(server);
}

const std::string* HomeSet::best_for(const Address& peer) const {
  auto uses = peer_servers_.find(peer);
  const std::string* best = nullptr;
  std::int64_t best_rtt = 0;
  for (int pass = 0; pass < 2 && !best; ++pass) {
    // First among the homeservers the peer is proven to use; then among all.
    for (const auto& [server, home] : homes_) {
      if (home.failing_since != 0) continue;
      if (pass == 0 && (uses == peer_servers_.end() || !uses->second.count(server))) continue;
      if (!best || home.rtt_ms < best_rtt) {
        best = &server;
        best_rtt = home.rtt_ms;
      }
    }
  }
  return best;
}

bool HomeSet::first_choice(const std::string& server, const Address& peer) const {
  std::lock_guard lock(mutex_);
  const std::string* best = best_for(peer);
  // Every home failing: each keeps trying its own.
  return !best || *best == server;
}

bool HomeSet::carries(const std::string& server, const Address& peer) const {
  std::lock_guard lock(mutex_);
  auto uses = peer_servers_.find(peer);
  const auto proven = [&](const std::string& s) {
    return uses != peer_servers_.end() && uses->second.count(s) > 0;
  };
  // The homes that may carry: those the peer is proven on (all, when none is), healthy ones
  // first (all of them, when none is).
  bool any_proven = false;
  for (const auto& [s, home] : homes_) any_proven = any_proven || proven(s);
  const auto candidate = [&](const std::string& s) { return !any_proven || proven(s); };
  auto self = homes_.find(server);
  if (self == homes_.end() || !candidate(server)) return false;
  if (self->second.failing_since == 0) return true;
  // Failing itself: carries only when every candidate fails too.
  return std::none_of(homes_.begin(), homes_.end(), [&](const auto& h) {
    return candidate(h.first) && h.second.failing_since == 0;
  });
}

void HomeSet::sync_ok(const std::string& server) {
  std::lock_guard lock(mutex_);
  if (auto it = homes_.find(server); it != homes_.end()) it->second.failing_since = 0;
}

void HomeSet::sync_failed(const std::string& server, std::int64_t now_steady_ms) {
  {
    std::lock_guard lock(mutex_);
    auto it = homes_.find(server);
    if (it == homes_.end() || it->second.failing_since != 0) return;
    it->second.failing_since = now_steady_ms;
  }
  failing_();
}

bool HomeSet::any_failing() const {
  std::lock_guard lock(mutex_);
  return std::any_of(homes_.begin(), homes_.end(),
                     [](const auto& h) { return h.second.failing_since != 0; });
}

std::vector<std::string> HomeSet::failing_since(std::int64_t before_steady_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> failing;
  for (const auto& [server, home] : homes_)
    if (home.failing_since != 0 && home.failing_since <= before_steady_ms)
      failing.push_back(server);
  return failing;
}

Reachability HomeSet::combined(const Address& peer) const {
  auto it = reachability_.find(peer);
  if (it == reachability_.end()) return Reachability::unknown;
  Reachability r = Reachability::unknown;
  for (const auto& [server, view] : it->second) {
    if (view == Reachability::reachable) return view;
    if (view == Reachability::unreachable) r = view;
  }
  return r;
}

void HomeSet::reachability(const std::string& server, const Address& peer, Reachability r) {
  std::optional<NodeEvent> change;
  {
    std::lock_guard lock(mutex_);
    reachability_[peer][server] = r;
    const Reachability now = combined(peer);
    auto [it, fresh] = reported_.try_emplace(peer, Reachability::unknown);
    if (it->second != now) {
      it->second = now;
      change.emplace();
      change->type = NodeEventType::reachability;
      change->peer = peer;
      change->reachability = now;
    }
  }
  if (change) emit_(std::move(*change));
}

Reachability HomeSet::reachability(const Address& peer) const {
  std::lock_guard lock(mutex_);
  return combined(peer);
}

bool HomeSet::within_budget(const Address& sender, std::int64_t now_steady_ms) {
  std::lock_guard lock(mutex_);
  return budgets_.take(sender, now_steady_ms);
}

bool HomeSet::gate_open(const std::string& user_id, std::int64_t now_steady_ms) const {
  std::lock_guard lock(mutex_);
  return verify_per_user_.has_token(user_id, now_steady_ms) &&
         verify_all_.available(verify_rate_, now_steady_ms) >= 1;
}

bool HomeSet::may_verify(const std::string& user_id, std::int64_t now_steady_ms) {
  std::lock_guard lock(mutex_);
  // The user's bucket first: a flooding user spends its own share, not everyone's.
  return verify_per_user_.take(user_id, now_steady_ms) &&
         !verify_all_.take(verify_rate_, now_steady_ms);
}

}  // namespace mrt::transport
