// transport/broadcast_room.hpp (internal): whether a broadcast room follows PROTOCOL.md §6, so
// that a node never publishes into a room somebody squatted under the topic's alias.
//
// Pure functions over state contents, testable without a server: the node loads the room's
// create, join rules, power levels and encryption state after it joins, feeds later state
// events from /sync, and publishes only while the verdict is `valid`.
//
//   BroadcastRoomState s;
//   s.apply("m.room.join_rules", {{"join_rule", "public"}});
//   auto verdict = judge_broadcast_room(s, operators, creator_address);
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>

namespace mrt::transport {

// The state a broadcast room is judged on (each from its state event's content).
struct BroadcastRoomState {
  std::string creator;  // m.room.create: `creator` (room versions up to 10), else the sender
  std::string join_rule;
  bool encrypted = false;                                  // any m.room.encryption state
  nlohmann::json power_levels = nlohmann::json::object();  // m.room.power_levels content

  // One state event's content; `sender` is the event's, when known (for m.room.create).
  void apply(std::string_view type, const nlohmann::json& content, std::string_view sender = {});
  // A /sync state or timeline event; false when it is not a state event this judge reads.
  bool apply_event(const nlohmann::json& event);
};

enum class BroadcastVerdict : int {
  valid = 0,
  not_public = 1,       // join rule not `public`
  encrypted = 2,        // m.room.encryption is set: broadcast rooms are plaintext
  restricted = 3,       // network.raiden.envelopes needs more power than users_default gives
  foreign_creator = 4,  // broadcast_operators is set and the creator is none of them
};
std::string_view to_string(BroadcastVerdict v);

// `creator_address`: the address the creator's user id is validated for (its displayname
// proves it), if any; read only when `operators` is set.
BroadcastVerdict judge_broadcast_room(const BroadcastRoomState& state,
                                      const std::optional<std::set<Address>>& operators,
                                      const std::optional<Address>& creator_address);

// Whose rooms `topic` accepts (judge_broadcast_room's `operators`): the network's
// broadcast_operators (nullopt: anyone's), and for an events topic also its operator
// (mrt/topics.hpp).
std::optional<std::set<Address>> allowed_creators(
    const std::string& topic, const std::optional<std::set<Address>>& operators);

// For people: "join rule is \"invite\", not public", …
std::string explain(BroadcastVerdict v, const BroadcastRoomState& state);

}  // namespace mrt::transport
