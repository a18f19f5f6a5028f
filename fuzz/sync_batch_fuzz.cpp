// Fuzz target: what a node makes of a /sync answer (transport/sync_batch) and of the room state
// in it (transport/dm_room, transport/broadcast_room): any JSON a homeserver sends.
//
// Input: a JSON text (parsed leniently, as the Matrix client does). Properties:
// - never crashes or throws;
// - a batch has a non-empty next_batch, and every kept event is an object whose fields the node
//   reads with json::value() (type, sender, state_key, event_id, room_id, content) do not throw;
// - folding each joined and invited room's events into a DmRoomState and judging it works on
//   any events, and the state survives its store round trip (to_json/from_json) unchanged;
// - folding them into a BroadcastRoomState and judging it (with and without operators) works on
//   any events, and a room judged valid is public and unencrypted.
#include "fuzz_common.hpp"
#include "transport/broadcast_room.hpp"
#include "transport/dm_room.hpp"
#include "transport/matrix_response.hpp"
#include "transport/sync_batch.hpp"

namespace {

void fold_and_judge(const nlohmann::json& events) {
  using namespace mrt::transport;
  static const mrt::Address me = *mrt::Address::parse("0x1111111111111111111111111111111111111111");
  static const mrt::Address other =
      *mrt::Address::parse("0x0000000000000000000000000000000000000001");
  DmRoomState state;
  for (const auto& e : events) {
    FUZZ_CHECK(e.is_object());
    state.apply(e);
  }
  const std::map<std::string, mrt::Address> validated = {
      {"@0x1111111111111111111111111111111111111111:hs", me},
      {"@0x0000000000000000000000000000000000000001:hs", other}};
  (void)judge_dm_room(state, me, validated);
  (void)dm_partner(state, me);
  (void)state.members();
  const auto stored = state.to_json();
  auto back = DmRoomState::from_json(stored);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->to_json() == stored);

  BroadcastRoomState broadcast;
  for (const auto& e : events) (void)broadcast.apply_event(e);
  const std::optional<std::set<mrt::Address>> operators = std::set<mrt::Address>{me};
  for (const auto& ops : {std::optional<std::set<mrt::Address>>(), operators}) {
    const BroadcastVerdict v = judge_broadcast_room(broadcast, ops, other);
    (void)explain(v, broadcast);
    if (v == BroadcastVerdict::valid) {
      FUZZ_CHECK(broadcast.join_rule == "public");
      FUZZ_CHECK(!broadcast.encrypted);
      FUZZ_CHECK(!ops);  // `other` is no operator
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mrt::transport;
  auto body = parse_response_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body) return 0;
  auto batch = parse_sync_batch(*body);
  if (!batch) return 0;
  FUZZ_CHECK(!batch->next_batch.empty());
  auto read_fields = [](const nlohmann::json& events) {
    for (const auto& e : events) {
      FUZZ_CHECK(e.is_object());
      for (const char* name : {"type", "sender", "state_key", "event_id", "room_id"})
        (void)e.value(name, "");
      (void)e.value("content", nlohmann::json::object());
    }
  };
  read_fields(batch->e2ee.to_device_events);
  for (const auto& room : batch->invited) {
    read_fields(room.state_events);
    fold_and_judge(room.state_events);
  }
  for (const auto& room : batch->joined) {
    read_fields(room.state_events);
    read_fields(room.timeline_events);
    fold_and_judge(room.state_events);
    fold_and_judge(room.timeline_events);
  }
  return 0;
}
