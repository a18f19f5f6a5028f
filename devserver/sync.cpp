// /sync: everything that happened to a user and device between `since` and the durable stream
// position, or nothing (the caller then long-polls until a wake-up or the timeout).
#include <algorithm>

#include "state.hpp"

namespace mrt::devserver {

namespace {

struct SyncFilter {
  std::int64_t timeline_limit = 10;
  bool lazy_load_members = false;
};

SyncFilter read_filter(const Ctx& c) {
  SyncFilter f;
  auto it = c.query.find("filter");
  if (it == c.query.end() || it->second.empty()) return f;
  Json j;
  if (it->second.starts_with("{")) {
    j = Json::parse(it->second, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw ApiError(400, "M_NOT_JSON", "bad inline filter");
  } else {
    auto stored = c.user->filters.find(it->second);
    if (stored == c.user->filters.end())
      throw ApiError(400, "M_INVALID_PARAM", "unknown filter id");
    j = stored->second;
  }
  const Json& room = opt_object(j, "room");
  const Json& timeline = opt_object(room, "timeline");
  const Json& state = opt_object(room, "state");
  if (auto limit = opt_int(timeline, "limit"))
    f.timeline_limit = std::clamp<std::int64_t>(*limit, 1, 1000);
  f.lazy_load_members = opt_bool(state, "lazy_load_members").value_or(false) ||
                        opt_bool(timeline, "lazy_load_members").value_or(false);
  return f;
}

StreamPos parse_since(const Ctx& c, bool& initial) {
  auto it = c.query.find("since");
  initial = it == c.query.end() || it->second.empty();
  if (initial) return 0;
  const std::string& t = it->second;
  if (t.size() < 2 || t.size() > 18 || t[0] != 's' ||
      t.find_first_not_of("0123456789", 1) != std::string::npos) {
    throw ApiError(400, "M_INVALID_PARAM", "bad since token");
  }
  return std::min<StreamPos>(std::stoull(t.substr(1)), c.s.durable);
}

// (type, state_key) -> event, as it was at `pos`.
std::map<std::pair<std::string, std::string>, StreamPos> state_at(const State& s, const Room& room,
                                                                  StreamPos pos) {
  std::map<std::pair<std::string, std::string>, StreamPos> out;
  for (StreamPos p : room.timeline) {
    if (p > pos) break;
    const Json& e = s.events.at(p);
    if (e.contains("state_key")) out[{e["type"], e["state_key"]}] = p;
  }
  return out;
}

Json streamed_events(const std::map<std::string, StreamedJson>& m, StreamPos since,
                     StreamPos upto) {
  Json out = Json::array();
  for (const auto& [type, v] : m) {
    if (v.pos > since && v.pos <= upto) out.push_back({{"type", type}, {"content", v.content}});
  }
  return out;
}

Json room_summary(const State& s, const Room& room, const std::string& me) {
  Json heroes = Json::array();
  for (const auto& u : members_with(s, room, {"join", "invite"})) {
    if (u != me && heroes.size() < 5) heroes.push_back(u);
  }
  return {{"m.joined_member_count", members_with(s, room, {"join"}).size()},
          {"m.invited_member_count", members_with(s, room, {"invite"}).size()},
          {"m.heroes", heroes}};
}

}  // namespace

// At most this many to-device messages per answer, as Synapse: the rest come with the next one.
constexpr std::size_t kMaxToDevicePerSync = 100;

std::optional<Response> compute_sync(Ctx& c, bool last_try) {
  State& s = c.s;
  bool initial = true;
  const StreamPos since = parse_since(c, initial);
  // One stream position for everything: the answer stops where its 100th to-device message is,
  // so that nothing after it is skipped.
  StreamPos upto = s.durable;
  {
    auto it = c.device->inbox.upper_bound(since);
    for (std::size_t n = 0; it != c.device->inbox.end() && it->first <= upto; ++it)
      if (++n == kMaxToDevicePerSync) upto = it->first;
  }
  const bool full_state = c.query.count("full_state") && c.query.at("full_state") == "true";
  const SyncFilter filter = read_filter(c);
  const std::string& me = c.user->id;
  bool anything = false;

  Json join = Json::object(), invite = Json::object(), leave = Json::object();
  std::set<std::string> changed, left;
  const auto my_rooms_it = s.user_rooms.find(me);
  const std::set<std::string> no_rooms;
  const std::set<std::string>& my_rooms =
      my_rooms_it == s.user_rooms.end() ? no_rooms : my_rooms_it->second;

  for (const auto& room_id : my_rooms) {
    if (c.user->forgotten_rooms.count(room_id)) continue;
    const Room& room = s.rooms.at(room_id);
    const std::string now = membership_at(s, room, me, upto);
    const std::string then = initial ? "" : membership_at(s, room, me, since);
    const auto first_new = std::upper_bound(room.timeline.begin(), room.timeline.end(), since);
    const auto end = std::upper_bound(room.timeline.begin(), room.timeline.end(), upto);

    // Device-list effects of membership changes in this room since `since`.
    if (!initial) {
      for (auto it = first_new; it != end; ++it) {
        const Json& e = s.events.at(*it);
        if (e["type"] != "m.room.member") continue;
        const std::string target = e.value("state_key", "");
        const std::string m = e["content"].value("membership", "");
        if (m == "join") {
          if (target == me) {
            for (auto& u : members_with(s, room, {"join"})) changed.insert(std::move(u));
          } else if (now == "join") {
            changed.insert(target);
          }
        } else if (m == "leave" || m == "ban") {
          if (target == me) {
            for (auto& u : members_with(s, room, {"join"})) left.insert(std::move(u));
          } else {
            left.insert(target);
          }
        }
      }
    }

    if (now == "join") {
      const bool fresh = initial || full_state || then != "join";
      std::vector<StreamPos> timeline(fresh && initial ? room.timeline.begin() : first_new, end);
      const bool limited = static_cast<std::int64_t>(timeline.size()) > filter.timeline_limit;
      if (limited) timeline.erase(timeline.begin(), timeline.end() - filter.timeline_limit);
      const StreamPos start = timeline.empty() ? upto : timeline.front() - 1;
      Json state = Json::array();
      std::set<std::string> senders;
      for (StreamPos p : timeline) senders.insert(s.events.at(p)["sender"]);
      senders.insert(me);
      if (fresh || limited) {
        for (const auto& [key, p] : state_at(s, room, start)) {
          if (!fresh && p <= since) continue;
          if (filter.lazy_load_members && key.first == "m.room.member" &&
              !senders.count(key.second)) {
            continue;
          }
          state.push_back(client_event(s, p, &c));
        }
      } else if (filter.lazy_load_members) {
        // Members of the senders, so a lazy-loading client can name them.
        for (const auto& u : senders) {
          auto it = room.state.find({"m.room.member", u});
          if (it == room.state.end() || it->second > upto) continue;
          if (std::find(timeline.begin(), timeline.end(), it->second) != timeline.end()) continue;
          if (u != me) state.push_back(client_event(s, it->second, &c));
        }
      }
      Json events = Json::array();
      for (StreamPos p : timeline) events.push_back(client_event(s, p, &c));
      Json account_data = Json::array();
      if (auto it = c.user->room_account_data.find(room_id);
          it != c.user->room_account_data.end()) {
        account_data = streamed_events(it->second, initial ? 0 : since, upto);
      }
      if (fresh || !events.empty() || !state.empty() || !account_data.empty()) {
        anything = true;
        Json entry = {
            {"timeline",
             {{"events", events},
              {"limited", limited},
              {"prev_batch", "s" + std::to_string(start)}}},
            {"state", {{"events", state}}},
            {"account_data", {{"events", account_data}}},
            {"ephemeral", {{"events", Json::array()}}},
            {"unread_notifications", {{"highlight_count", 0}, {"notification_count", 0}}}};
        // The summary only changes with membership (the spec lets it be omitted otherwise);
        // computing it costs a pass over the members.
        bool members_changed = fresh;
        for (StreamPos p : timeline) members_changed |= s.events.at(p)["type"] == "m.room.member";
        if (members_changed) entry["summary"] = room_summary(s, room, me);
        join[room_id] = std::move(entry);
      }
    } else if (now == "invite") {
      const StreamPos invited_at = room.state.at({"m.room.member", me});
      if (invited_at > since && invited_at <= upto) {
        anything = true;
        invite[room_id] = {{"invite_state", {{"events", stripped_state(s, room, me)}}}};
      }
    } else if ((now == "leave" || now == "ban") && !initial) {
      const StreamPos left_at = room.state.at({"m.room.member", me});
      if (left_at > since && left_at <= upto) {
        anything = true;
        std::vector<StreamPos> timeline(first_new, std::upper_bound(first_new, end, left_at));
        const bool limited = static_cast<std::int64_t>(timeline.size()) > filter.timeline_limit;
        if (limited) timeline.erase(timeline.begin(), timeline.end() - filter.timeline_limit);
        Json events = Json::array();
        for (StreamPos p : timeline) events.push_back(client_event(s, p, &c));
        leave[room_id] = {
            {"timeline",
             {{"events", events},
              {"limited", limited},
              {"prev_batch",
               "s" + std::to_string(timeline.empty() ? since : timeline.front() - 1)}}},
            {"state", {{"events", Json::array()}}},
            {"account_data", {{"events", Json::array()}}}};
      }
    }
  }

  if (!initial) {
    auto first = std::upper_bound(
        s.device_changes.begin(), s.device_changes.end(), since,
        [](StreamPos p, const std::pair<StreamPos, std::string>& e) { return p < e.first; });
    for (auto it = first; it != s.device_changes.end() && it->first <= upto; ++it) {
      if (changed.count(it->second)) continue;
      if (it->second == me || share_room(s, me, it->second)) changed.insert(it->second);
    }
  }
  for (auto it = left.begin(); it != left.end();) {
    if (*it == me || share_room(s, me, *it))
      it = left.erase(it);
    else
      ++it;
  }
  if (!changed.empty() || !left.empty()) anything = true;

  Json to_device = Json::array();
  for (const auto& [pos, message] : c.device->inbox) {
    if (pos > since && pos <= upto) to_device.push_back(message);
  }
  if (!to_device.empty()) anything = true;

  Json presence = Json::array();
  std::set<std::string> watched;
  if (s.last_presence > since) {
    watched = room_peers(s, me);
    watched.insert(me);
  }
  for (const auto& u : watched) {
    auto it = s.users.find(u);
    if (it == s.users.end()) continue;
    const User& other = it->second;
    if (other.presence_pos == 0 || other.presence_pos <= since || other.presence_pos > upto)
      continue;
    Json content = {{"presence", other.presence},
                    {"last_active_ago", std::max<std::int64_t>(0, now_ms() - other.last_active_ts)},
                    {"currently_active", other.presence == "online"}};
    if (!other.status_msg.empty()) content["status_msg"] = other.status_msg;
    presence.push_back({{"type", "m.presence"}, {"sender", u}, {"content", content}});
  }
  if (!presence.empty()) anything = true;

  Json account_data = streamed_events(c.user->account_data, initial ? 0 : since, upto);
  if (!account_data.empty()) anything = true;

  if (!anything && !initial && !full_state && !last_try) return std::nullopt;

  // The client saw everything up to `since`: its to-device messages up to there are done.
  if (!initial) {
    const auto before = c.device->inbox.size();
    c.device->inbox.erase(c.device->inbox.begin(), c.device->inbox.upper_bound(since));
    if (c.device->inbox.size() != before) {
      c.touch(*c.user);
      c.answer_after_commit = false;
    }
  }

  Json counts = {{"signed_curve25519", 0}};
  for (const auto& [id, key] : c.device->one_time_keys) {
    const std::string algorithm = id.substr(0, id.find(':'));
    counts[algorithm] = counts.value(algorithm, 0) + 1;
  }
  Json fallback_types = Json::array();
  if (!c.device->fallback_keys.empty() && !c.device->fallback_used) {
    std::set<std::string> algorithms;
    for (const auto& [id, key] : c.device->fallback_keys)
      algorithms.insert(id.substr(0, id.find(':')));
    for (const auto& a : algorithms) fallback_types.push_back(a);
  }

  Json body = {{"next_batch", "s" + std::to_string(upto)},
               {"rooms", {{"join", join}, {"invite", invite}, {"leave", leave}}},
               {"to_device", {{"events", to_device}}},
               {"device_lists", {{"changed", changed}, {"left", left}}},
               {"device_one_time_keys_count", counts},
               {"device_unused_fallback_key_types", fallback_types},
               {"presence", {{"events", presence}}},
               {"account_data", {{"events", account_data}}}};
  return Response{200, std::move(body)};
}

}  // namespace mrt::devserver
