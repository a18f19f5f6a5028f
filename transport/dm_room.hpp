// transport/dm_room.hpp (internal): the DM room of a pair of addresses (PROTOCOL.md §5, room
// carrier): how the lower address creates it, and whether a room's state follows the rules.
//
// Pure functions over state events, so that every rule is testable without a server; the node
// feeds them the state it learns (createRoom, /sync, GET /rooms/{id}/state) and leaves a room
// whose verdict is not `valid`, also when a later state event changes it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/envelope.hpp>
#include <mrt/eth.hpp>

namespace mrt::transport {

inline constexpr const char* kDmStateType = "network.raiden.dm";

// The createRoom body of §5: private_chat, is_direct, m.room.encryption with §5's rotation and
// network.raiden.dm {addresses: [lower, higher]}, inviting `invite`.
nlohmann::json dm_room_create_body(const Address& lower, const Address& higher,
                                   const std::vector<std::string>& invite);

// What the node knows of a room's state, folded from state events in order.
struct DmRoomState {
  std::string creator;  // the sender of m.room.create
  std::int64_t created_ts = 0;
  std::optional<nlohmann::json> dm;          // network.raiden.dm content
  std::optional<nlohmann::json> encryption;  // m.room.encryption content
  std::string join_rule;
  std::map<std::string, std::string> membership;  // user id -> join / invite / leave / ban

  // Applies one event if it is a state event (has a string state_key); others are ignored.
  void apply(const nlohmann::json& event);
  bool joined(const std::string& user_id) const;
  // Joined or invited: who must hold the room key.
  std::vector<std::string> members() const;
  nlohmann::json to_json() const;
  static std::optional<DmRoomState> from_json(const nlohmann::json& j);
};

enum class DmRoomVerdict : int {
  valid = 0,
  not_a_dm = 1,        // no network.raiden.dm state (some other room)
  bad_addresses = 2,   // network.raiden.dm is not {addresses: [lower, higher]} naming us
  bad_creator = 3,     // not created by a validated user id of the lower address
  bad_encryption = 4,  // m.room.encryption missing or not exactly §5's (algorithm, rotation)
  foreign_member = 5,  // someone other than the pair's validated user ids joined or was invited
  public_room = 6,     // a join rule that lets anyone in
};
std::string_view to_string(DmRoomVerdict v);

// The other address of a room's network.raiden.dm, if it names `me` and one other address.
std::optional<Address> dm_partner(const DmRoomState& state, const Address& me);

// `validated` maps each user id known to belong to an address (its displayname recovered over
// it, PROTOCOL §2) to that address.
DmRoomVerdict judge_dm_room(const DmRoomState& state, const Address& me,
                            const std::map<std::string, Address>& validated);

}  // namespace mrt::transport
