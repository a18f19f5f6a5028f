#include "broadcast_room.hpp"

#include <cstdint>

#include <mrt/topics.hpp>

#include "dm_room.hpp"

namespace mrt::transport {
namespace {

using json = nlohmann::json;

// A power level: an integer, or (older room versions) a string holding one. Anything else is
// unreadable, and an unreadable requirement is taken as out of reach.
std::optional<std::int64_t> level(const json& object, const char* name, std::int64_t absent) {
  if (!object.is_object()) return absent;
  auto it = object.find(name);
  if (it == object.end()) return absent;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return std::nullopt;
    for (std::size_t k = i; k < s.size(); ++k)
      if (s[k] < '0' || s[k] > '9') return std::nullopt;
    return std::stoll(s);
  }
  return std::nullopt;
}

}  // namespace

void BroadcastRoomState::apply(std::string_view type, const json& content,
                               std::string_view sender) {
  const json c = content.is_object() ? content : json::object();
  if (type == "m.room.create") {
    auto it = c.find("creator");
    creator = it != c.end() && it->is_string() ? it->get<std::string>() : std::string(sender);
  } else if (type == "m.room.join_rules") {
    auto it = c.find("join_rule");
    join_rule = it != c.end() && it->is_string() ? it->get<std::string>() : "";
  } else if (type == "m.room.power_levels") {
    power_levels = c;
  } else if (type == "m.room.encryption") {
    encrypted = !c.empty();  // an empty content is how a redacted event looks
  }
}

bool BroadcastRoomState::apply_event(const json& event) {
  if (!event.is_object()) return false;
  auto type = event.find("type");
  auto key = event.find("state_key");
  if (type == event.end() || !type->is_string() || key == event.end() || !key->is_string() ||
      !key->get_ref<const std::string&>().empty())
    return false;
  const std::string& t = type->get_ref<const std::string&>();
  if (t != "m.room.create" && t != "m.room.join_rules" && t != "m.room.power_levels" &&
      t != "m.room.encryption")
    return false;
  auto sender = event.find("sender");
  apply(t, event.value("content", json::object()),
        sender != event.end() && sender->is_string() ? sender->get_ref<const std::string&>()
                                                     : std::string_view());
  return true;
}

std::string_view to_string(BroadcastVerdict v) {
  switch (v) {
    case BroadcastVerdict::valid:
      return "valid";
    case BroadcastVerdict::not_public:
      return "not_public";
    case BroadcastVerdict::encrypted:
      return "encrypted";
    case BroadcastVerdict::restricted:
      return "restricted";
    case BroadcastVerdict::foreign_creator:
      return "foreign_creator";
  }
  return "unknown";
}

BroadcastVerdict judge_broadcast_room(const BroadcastRoomState& state,
                                      const std::optional<std::set<Address>>& operators,
                                      const std::optional<Address>& creator_address) {
  if (state.join_rule != "public") return BroadcastVerdict::not_public;
  if (state.encrypted) return BroadcastVerdict::encrypted;
  // Without a power-levels event every level is 0, so every member may post.
  const json& pl = state.power_levels;
  const auto users_default = level(pl, "users_default", 0);
  const auto events_default = level(pl, "events_default", 0);
  std::optional<std::int64_t> required = events_default;
  if (pl.is_object() && pl.contains("events") && pl["events"].is_object() &&
      pl["events"].contains(kEnvelopesEventType))
    required = level(pl["events"], kEnvelopesEventType, 0);
  if (!users_default || !required || *required > *users_default)
    return BroadcastVerdict::restricted;
  if (operators && (!creator_address || !operators->count(*creator_address)))
    return BroadcastVerdict::foreign_creator;
  return BroadcastVerdict::valid;
}

std::string explain(BroadcastVerdict v, const BroadcastRoomState& state) {
  switch (v) {
    case BroadcastVerdict::valid:
      return "valid";
    case BroadcastVerdict::not_public:
      return "join rule is \"" + state.join_rule + "\", not public";
    case BroadcastVerdict::encrypted:
      return "the room is encrypted; broadcast rooms are plaintext";
    case BroadcastVerdict::restricted:
      return std::string("members may not send ") + kEnvelopesEventType +
             " (its power level is above users_default)";
    case BroadcastVerdict::foreign_creator:
      return "created by " + (state.creator.empty() ? "an unknown user" : state.creator) +
             ", not one of the broadcast operators";
  }
  return "unknown";
}

std::optional<std::set<Address>> allowed_creators(
    const std::string& topic, const std::optional<std::set<Address>>& operators) {
  auto events_operator = events_topic_operator(topic);
  if (!events_operator) return operators;
  std::set<Address> creators = operators.value_or(std::set<Address>{});
  creators.insert(*events_operator);
  return creators;
}

}  // namespace mrt::transport
