#include "e2ee_driver.hpp"

#include <set>
#include <utility>

namespace mrt::transport {

namespace {

void merge(SyncOutcome& into, SyncOutcome&& step) {
  for (auto& e : step.events) into.events.push_back(std::move(e));
  for (auto& r : step.rejected) into.rejected.push_back(std::move(r));
  into.room_keys_received += step.room_keys_received;
}

// How often keys seen once (a sender key made up per message) are forgotten.
constexpr std::int64_t kPruneEveryMs = 600'000;

}  // namespace

E2eeDriver::Received E2eeDriver::receive(SyncChanges changes, store::Changes& step,
                                         std::int64_t now_ms) {
  Received received;
  if (!changes.to_device_events.is_array()) {
    received.outcome = machine_.receive_sync_changes(changes, step);
    return received;
  }
  if (now_ms >= next_prune_) {
    by_key_.prune(now_ms);
    by_user_.prune(now_ms);
    next_prune_ = now_ms + kPruneEveryMs;
  }
  nlohmann::json events = std::move(changes.to_device_events);
  changes.to_device_events = nlohmann::json::array();
  // Sender keys with a pre-key message in `changes` that the machine has not seen yet.
  std::set<std::string> opening;
  for (auto& event : events) {
    auto opener = machine_.olm_session_opener(event);
    if (opener && opening.contains(*opener)) {
      // A sender's second pre-key message in a row usually belongs to the session its first
      // opens (a sender repeats pre-key messages until we answer): the machine takes the
      // first before this one is judged, so that it is not counted as another new session.
      merge(received.outcome, machine_.receive_sync_changes(changes, step));
      changes = SyncChanges{};
      opening.clear();
      opener = machine_.olm_session_opener(event);
    }
    if (opener) {
      if (!admit_session(*opener, event.value("sender", ""), now_ms)) {
        ++received.throttled;
        continue;
      }
      opening.insert(*opener);
    }
    changes.to_device_events.push_back(std::move(event));
  }
  merge(received.outcome, machine_.receive_sync_changes(changes, step));
  return received;
}

bool E2eeDriver::admit_session(const std::string& sender_key, const std::string& user,
                               std::int64_t now_ms) {
  if (by_key_.full(sender_key, limits_.per_sender_key, now_ms) ||
      by_user_.full(user, limits_.per_user, now_ms) || all_.full("", limits_.total, now_ms))
    return false;
  by_key_.admit(sender_key, limits_.per_sender_key, now_ms);
  by_user_.admit(user, limits_.per_user, now_ms);
  all_.admit("", limits_.total, now_ms);
  return true;
}

void E2eeDriver::carry(const Address& peer, const std::vector<std::string>& request_ids) {
  for (const auto& id : request_ids) {
    carrier_of_[id] = peer;
    held_[peer].insert(id);
  }
}

std::vector<OutgoingRequest> E2eeDriver::due(std::int64_t now_ms) {
  std::vector<OutgoingRequest> due;
  for (auto& r : machine_.outgoing_requests()) {
    if (in_flight_.contains(r.id)) continue;
    if (auto retry = retry_at_.find(r.id); retry != retry_at_.end()) {
      if (retry->second > now_ms) continue;
      retry_at_.erase(retry);
    }
    due.push_back(std::move(r));
  }
  return due;
}

E2eeDriver::Answer E2eeDriver::done(const std::string& id, const MatrixResult& result,
                                    std::int64_t now_ms) {
  in_flight_.erase(id);
  Answer answer = Answer::sent;
  if (result) {
    machine_.mark_request_as_sent(id, *result, answers_);
  } else {
    const long status = result.error().http_status;
    // 401: the token was revoked and the sync loop logs in again; 429 and 5xx pass.
    if (result.error().kind != MatrixErrorKind::http || status >= 500 || status == 429 ||
        status == 401) {
      retry_at_[id] = now_ms + kRetryMs;
      return Answer::retry;
    }
    // Refused for good (the request is wrong for this server): never repeated.
    machine_.mark_request_as_failed(id, RequestFailure::permanent, answers_);
    answer = Answer::refused;
  }
  release(id);
  return answer;
}

void E2eeDriver::abandon() {
  answers_ = store::Changes{};
  std::set<std::string> live;
  try {
    for (const auto& r : machine_.outgoing_requests()) live.insert(r.id);
  } catch (const std::exception&) {
    // The store still fails: every request not in flight is let go below.
  }
  std::vector<std::string> stale;
  for (const auto& [id, peer] : carrier_of_)
    if (!live.contains(id) && !in_flight_.contains(id)) stale.push_back(id);
  for (const auto& id : stale) release(id);
  std::erase_if(retry_at_, [&](const auto& entry) { return !live.contains(entry.first); });
}

void E2eeDriver::release(const std::string& id) {
  const auto it = carrier_of_.find(id);
  if (it == carrier_of_.end()) return;
  if (auto held = held_.find(it->second); held != held_.end()) {
    held->second.erase(id);
    if (held->second.empty()) held_.erase(held);
  }
  carrier_of_.erase(it);
}

}  // namespace mrt::transport
