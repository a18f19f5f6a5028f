// NodeWorker, the spam policy's hourly caps (mrt::Policy): new Olm sessions per sender device
// and DM room invites joined. The per-sender budget and the allowlists are PROTOCOL §4 rule 8
// and live with the other rules in node_intake.cpp.
#include <set>

#include "node_worker_state.hpp"

namespace mrt::transport {

using json = nlohmann::json;
using namespace worker;

namespace {

void merge(SyncOutcome& into, SyncOutcome&& step) {
  for (auto& e : step.events) into.events.push_back(std::move(e));
  for (auto& r : step.rejected) into.rejected.push_back(std::move(r));
  into.room_keys_received += step.room_keys_received;
}

}  // namespace

SyncOutcome NodeWorker::receive_e2ee(SyncChanges changes, store::Changes& step) {
  if (!changes.to_device_events.is_array()) return machine_.receive_sync_changes(changes, step);
  const std::int64_t now = steady_ms();
  if (now >= next_window_prune_) {
    olm_sessions_opened_.prune(now);
    next_window_prune_ = now + kPruneEveryMs;
  }
  const std::size_t limit = ctx_.config.policy.olm_sessions_per_device_per_hour;
  json events = std::move(changes.to_device_events);
  changes.to_device_events = json::array();
  SyncOutcome outcome;
  std::uint64_t dropped = 0;
  // Sender keys with a pre-key message in `changes` that the machine has not seen yet.
  std::set<std::string> opening;
  for (auto& event : events) {
    auto opener = machine_.olm_session_opener(event);
    if (opener && opening.count(*opener)) {
      // A sender's second pre-key message in a row usually belongs to the session its first
      // opens (a sender repeats pre-key messages until we answer): the machine takes the
      // first before this one is judged, so that it is not counted as another new session.
      merge(outcome, machine_.receive_sync_changes(changes, step));
      changes = SyncChanges{};
      opening.clear();
      opener = machine_.olm_session_opener(event);
    }
    if (opener) {
      if (!olm_sessions_opened_.admit(*opener, limit, now)) {
        ++dropped;
        continue;
      }
      opening.insert(*opener);
    }
    changes.to_device_events.push_back(std::move(event));
  }
  merge(outcome, machine_.receive_sync_changes(changes, step));
  if (dropped > 0) ctx_.counters.update([&](NodeStats& s) { s.olm_sessions_throttled += dropped; });
  return outcome;
}

bool NodeWorker::admit_dm_invite(bool count) {
  const std::size_t limit = ctx_.config.policy.max_new_dm_rooms_per_hour;
  return count ? dm_invites_joined_.admit("", limit, steady_ms())
               : !dm_invites_joined_.full("", limit, steady_ms());
}

}  // namespace mrt::transport
