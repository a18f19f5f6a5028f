#include "sync_batch.hpp"

namespace mrt::transport {
namespace {

using json = nlohmann::json;

const json* object_at(const json& parent, const char* name) {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(name);
  return it != parent.end() && it->is_object() ? &*it : nullptr;
}

// An event whose fields have the types the API promises where present, so that the node can
// read them with json::value() (which throws on a field of another type).
bool well_typed_event(const json& e) {
  if (!e.is_object()) return false;
  for (const char* name : {"type", "sender", "state_key", "event_id", "room_id"}) {
    auto it = e.find(name);
    if (it != e.end() && !it->is_string()) return false;
  }
  auto content = e.find("content");
  return content == e.end() || content->is_object();
}

// The well-typed events of parent[a][b] (an array of events), others dropped.
json events_at(const json& parent, const char* a, const char* b) {
  json out = json::array();
  const json* outer = object_at(parent, a);
  if (!outer) return out;
  auto it = outer->find(b);
  if (it == outer->end() || !it->is_array()) return out;
  for (const auto& e : *it)
    if (well_typed_event(e)) out.push_back(e);
  return out;
}

std::vector<std::string> strings_at(const json& parent, const char* name) {
  std::vector<std::string> out;
  if (!parent.is_object()) return out;
  auto it = parent.find(name);
  if (it == parent.end() || !it->is_array()) return out;
  for (const auto& s : *it)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

}  // namespace

Result<SyncBatch, SyncBatchError> parse_sync_batch(const json& body) {
  if (!body.is_object()) return fail(SyncBatchError::not_an_object);
  auto next = body.find("next_batch");
  if (next == body.end() || !next->is_string() || next->get_ref<const std::string&>().empty())
    return fail(SyncBatchError::no_next_batch);

  SyncBatch batch;
  batch.next_batch = next->get<std::string>();
  batch.e2ee.to_device_events = events_at(body, "to_device", "events");
  if (const json* lists = object_at(body, "device_lists")) {
    batch.e2ee.changed_users = strings_at(*lists, "changed");
    batch.e2ee.left_users = strings_at(*lists, "left");
  }
  if (const json* counts = object_at(body, "device_one_time_keys_count")) {
    std::map<std::string, std::uint64_t> parsed;
    for (const auto& [algorithm, n] : counts->items())
      if (n.is_number_integer() && n.get<std::int64_t>() >= 0)
        parsed[algorithm] = n.get<std::uint64_t>();
    batch.e2ee.one_time_key_counts = std::move(parsed);
  }
  if (body.contains("device_unused_fallback_key_types"))
    batch.e2ee.unused_fallback_key_types = strings_at(body, "device_unused_fallback_key_types");

  for (const auto& e : events_at(body, "presence", "events")) {
    auto sender = e.find("sender");
    auto content = e.find("content");
    if (e.value("type", "") != "m.presence" || sender == e.end() || !sender->is_string() ||
        content == e.end() || !content->is_object())
      continue;
    auto presence = content->find("presence");
    if (presence != content->end() && presence->is_string())
      batch.presence.emplace_back(sender->get<std::string>(), presence->get<std::string>());
  }

  if (const json* rooms = object_at(body, "rooms")) {
    if (const json* invite = object_at(*rooms, "invite"))
      for (const auto& [room_id, room] : invite->items())
        batch.invited.push_back({room_id, events_at(room, "invite_state", "events")});
    if (const json* join = object_at(*rooms, "join"))
      for (const auto& [room_id, room] : join->items())
        batch.joined.push_back(
            {room_id, events_at(room, "state", "events"), events_at(room, "timeline", "events")});
    if (const json* leave = object_at(*rooms, "leave"))
      for (const auto& [room_id, room] : leave->items()) batch.left.push_back(room_id);
  }
  return batch;
}

}  // namespace mrt::transport
