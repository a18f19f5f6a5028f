// transport/sync_batch.hpp (internal): the parts of a /sync answer the node acts on.
//
// A homeserver's /sync answer is untrusted input: `parse_sync_batch` takes any JSON object and
// keeps what has the types the client-server API promises, dropping the rest element by
// element (a broken event must not hide the others). Only a missing `next_batch` fails the
// whole answer, since the node could not go on from it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/result.hpp>

namespace mrt::transport {

struct InvitedRoom {
  std::string room_id;
  nlohmann::json state_events = nlohmann::json::array();  // invite_state.events (stripped)
};

struct JoinedRoom {
  std::string room_id;
  nlohmann::json state_events = nlohmann::json::array();     // state.events
  nlohmann::json timeline_events = nlohmann::json::array();  // timeline.events, in order
};

struct SyncBatch {
  std::string next_batch;
  SyncChanges e2ee;  // to_device, device_lists, key counts: what the E2EE machine reads
  std::vector<InvitedRoom> invited;
  std::vector<JoinedRoom> joined;
  std::vector<std::string> left;  // rooms.leave (left, kicked or banned)
  // presence.events: (sender, content.presence) of m.presence events
  std::vector<std::pair<std::string, std::string>> presence;
};

enum class SyncBatchError : int { not_an_object = 1, no_next_batch = 2 };

[[nodiscard]] Result<SyncBatch, SyncBatchError> parse_sync_batch(const nlohmann::json& body);

}  // namespace mrt::transport
