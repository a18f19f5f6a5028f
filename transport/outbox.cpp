#include "outbox.hpp"

#include <algorithm>
#include <utility>

namespace mrt::transport {

void Outbox::add(OutboxEntry entry, std::int64_t steady_ms) {
  const std::string nonce = entry.nonce;
  entries_[nonce] = {std::move(entry), steady_ms + timing_.resend_initial_ms, 1};
}

const OutboxEntry* Outbox::find(const std::string& nonce) const {
  const auto it = entries_.find(nonce);
  return it == entries_.end() ? nullptr : &it->second.entry;
}

int Outbox::attempts(const std::string& nonce) const {
  const auto it = entries_.find(nonce);
  return it == entries_.end() ? 0 : it->second.attempts;
}

std::set<Address> Outbox::recipients() const {
  std::set<Address> to;
  for (const auto& [nonce, s] : entries_) to.insert(s.entry.to);
  return to;
}

std::optional<OutboxEntry> Outbox::remove(const std::string& nonce) {
  const auto it = entries_.find(nonce);
  if (it == entries_.end()) return std::nullopt;
  OutboxEntry entry = std::move(it->second.entry);
  entries_.erase(it);
  return entry;
}

std::int64_t Outbox::delay_after(int attempts) const {
  // The shift is capped so that it cannot overflow; resend_max caps the delay long before.
  return std::min(timing_.resend_max_ms, timing_.resend_initial_ms << std::min(attempts - 1, 20));
}

Outbox::Due Outbox::due(std::int64_t steady_ms, std::int64_t wall_ms) {
  Due due;
  for (auto& [nonce, s] : entries_) {
    if (wall_ms > s.entry.ts + timing_.max_age_ms) {
      due.expired.push_back(nonce);
      continue;
    }
    due.waiting.insert(s.entry.to);
    if (s.next_attempt > steady_ms) continue;
    due.resends.push_back({nonce, s.entry.to, s.attempts});
    ++s.attempts;
    s.next_attempt = steady_ms + delay_after(s.attempts);
  }
  return due;
}

}  // namespace mrt::transport
