#include "dm_room.hpp"

#include <mrt/e2ee_machine.hpp>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

const std::string* string_field(const json& j, const char* name) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

}  // namespace

json dm_room_create_body(const Address& lower, const Address& higher,
                         const std::vector<std::string>& invite) {
  return {{"preset", "private_chat"},
          {"is_direct", true},
          {"invite", invite},
          {"initial_state",
           json::array({{{"type", "m.room.encryption"},
                         {"state_key", ""},
                         {"content",
                          {{"algorithm", kMegolmAlgorithm},
                           {"rotation_period_ms", kDefaultRotationPeriodMs},
                           {"rotation_period_msgs", kDefaultRotationPeriodMsgs}}}},
                        {{"type", kDmStateType},
                         {"state_key", ""},
                         {"content", {{"addresses", {lower.to_hex(), higher.to_hex()}}}}}})}};
}

void DmRoomState::apply(const json& event) {
  const std::string* type = string_field(event, "type");
  const std::string* state_key = string_field(event, "state_key");
  if (!type || !state_key) return;
  auto content_it = event.find("content");
  const json content =
      content_it != event.end() && content_it->is_object() ? *content_it : json::object();
  if (*type == "m.room.member") {
    const std::string* m = string_field(content, "membership");
    membership[*state_key] = m ? *m : "leave";
  } else if (state_key->empty()) {
    if (*type == "m.room.create") {
      if (const std::string* sender = string_field(event, "sender")) creator = *sender;
      auto ts = event.find("origin_server_ts");
      if (ts != event.end() && ts->is_number_integer()) created_ts = ts->get<std::int64_t>();
    } else if (*type == kDmStateType) {
      dm = content;
    } else if (*type == "m.room.encryption") {
      encryption = content;
    } else if (*type == "m.room.join_rules") {
      const std::string* rule = string_field(content, "join_rule");
      join_rule = rule ? *rule : "";
    }
  }
}

bool DmRoomState::joined(const std::string& user_id) const {
  auto it = membership.find(user_id);
  return it != membership.end() && it->second == "join";
}

std::vector<std::string> DmRoomState::members() const {
  std::vector<std::string> out;
  for (const auto& [user, m] : membership)
    if (m == "join" || m == "invite") out.push_back(user);
  return out;
}

json DmRoomState::to_json() const {
  return {{"creator", creator},
          {"created_ts", created_ts},
          {"dm", dm ? *dm : json(nullptr)},
          {"encryption", encryption ? *encryption : json(nullptr)},
          {"join_rule", join_rule},
          {"membership", membership}};
}

std::optional<DmRoomState> DmRoomState::from_json(const json& j) {
  try {
    DmRoomState s;
    s.creator = j.at("creator").get<std::string>();
    s.created_ts = j.at("created_ts").get<std::int64_t>();
    if (!j.at("dm").is_null()) s.dm = j.at("dm");
    if (!j.at("encryption").is_null()) s.encryption = j.at("encryption");
    s.join_rule = j.at("join_rule").get<std::string>();
    s.membership = j.at("membership").get<std::map<std::string, std::string>>();
    return s;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string_view to_string(DmRoomVerdict v) {
  switch (v) {
    case DmRoomVerdict::valid:
      return "valid";
    case DmRoomVerdict::not_a_dm:
      return "not_a_dm";
    case DmRoomVerdict::bad_addresses:
      return "bad_addresses";
    case DmRoomVerdict::bad_creator:
      return "bad_creator";
    case DmRoomVerdict::bad_encryption:
      return "bad_encryption";
    case DmRoomVerdict::foreign_member:
      return "foreign_member";
    case DmRoomVerdict::public_room:
      return "public_room";
  }
  return "unknown";
}

std::optional<Address> dm_partner(const DmRoomState& state, const Address& me) {
  if (!state.dm) return std::nullopt;
  auto it = state.dm->find("addresses");
  if (it == state.dm->end() || !it->is_array() || it->size() != 2) return std::nullopt;
  const json& a = (*it)[0];
  const json& b = (*it)[1];
  if (!a.is_string() || !b.is_string()) return std::nullopt;
  auto lower = Address::parse(a.get<std::string>());
  auto higher = Address::parse(b.get<std::string>());
  // Wire form (lowercase), lower first, two different addresses, one of them ours.
  if (!lower || !higher || !(*lower < *higher)) return std::nullopt;
  if (*lower == me) return *higher;
  if (*higher == me) return *lower;
  return std::nullopt;
}

DmRoomVerdict judge_dm_room(const DmRoomState& state, const Address& me,
                            const std::map<std::string, Address>& validated) {
  if (!state.dm) return DmRoomVerdict::not_a_dm;
  const auto partner = dm_partner(state, me);
  if (!partner || state.dm->size() != 1) return DmRoomVerdict::bad_addresses;
  const Address& lower = me.to_hex() < partner->to_hex() ? me : *partner;

  auto v = validated.find(state.creator);
  if (v == validated.end() || v->second != lower) return DmRoomVerdict::bad_creator;

  if (!state.encryption || !state.encryption->is_object()) return DmRoomVerdict::bad_encryption;
  // Exactly §5's settings: a looser rotation would keep a Megolm session longer than agreed.
  const json& enc = *state.encryption;
  const std::string* algorithm = string_field(enc, "algorithm");
  auto number = [&](const char* name) -> std::optional<std::int64_t> {
    auto it = enc.find(name);
    if (it == enc.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  if (!algorithm || *algorithm != kMegolmAlgorithm ||
      number("rotation_period_ms") != kDefaultRotationPeriodMs ||
      number("rotation_period_msgs") != static_cast<std::int64_t>(kDefaultRotationPeriodMsgs))
    return DmRoomVerdict::bad_encryption;

  if (state.join_rule == "public" || state.join_rule == "knock") return DmRoomVerdict::public_room;

  for (const auto& user : state.members()) {
    auto found = validated.find(user);
    if (found == validated.end() || (found->second != me && found->second != *partner))
      return DmRoomVerdict::foreign_member;
  }
  return DmRoomVerdict::valid;
}

}  // namespace mrt::transport
