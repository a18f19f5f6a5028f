// What a client asks before it starts: versions, .well-known, capabilities, push rules (the
// spec's defaults, read-only), and filters.
#include "state.hpp"

namespace mrt::devserver {

namespace {

Response versions(Ctx&) {
  return {200,
          {{"versions",
            {"r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9",
             "v1.10", "v1.11"}},
           {"unstable_features", Json::object()}}};
}

Response well_known(Ctx& c) {
  const std::string host = c.req.host.empty() ? c.s.config.server_name : c.req.host;
  return {200, {{"m.homeserver", {{"base_url", "http://" + host}}}}};
}

Response capabilities(Ctx&) {
  return {200,
          {{"capabilities",
            {{"m.change_password", {{"enabled", false}}},
             {"m.room_versions",
              {{"default", "10"},
               {"available", {{"9", "stable"}, {"10", "stable"}, {"11", "stable"}}}}},
             {"m.set_displayname", {{"enabled", true}}},
             {"m.set_avatar_url", {{"enabled", true}}},
             {"m.3pid_changes", {{"enabled", false}}}}}}};
}

Json rule(const char* id, Json conditions, Json actions) {
  return {{"rule_id", id},
          {"default", true},
          {"enabled", true},
          {"conditions", std::move(conditions)},
          {"actions", std::move(actions)}};
}

Json event_match(const char* key, const char* pattern) {
  return {{"kind", "event_match"}, {"key", key}, {"pattern", pattern}};
}

// The default push rules of the client-server spec (v1.11, "Predefined Rules").
Json default_push_rules(const std::string& user_id) {
  const Json notify_sound = {"notify", {{"set_tweak", "sound"}, {"value", "default"}}};
  const Json notify_highlight = {
      "notify", {{"set_tweak", "sound"}, {"value", "default"}}, {{"set_tweak", "highlight"}}};
  Json override_rules = Json::array({
      rule(".m.rule.master", Json::array(), Json::array()),
      rule(".m.rule.suppress_notices", {event_match("content.msgtype", "m.notice")}, Json::array()),
      rule(".m.rule.invite_for_me",
           {event_match("type", "m.room.member"), event_match("content.membership", "invite"),
            event_match("state_key", user_id.c_str())},
           {"notify", {{"set_tweak", "sound"}, {"value", "default"}}}),
      rule(".m.rule.member_event", {event_match("type", "m.room.member")}, Json::array()),
      rule(".m.rule.is_user_mention",
           {{{"kind", "event_property_contains"},
             {"key", "content.m\\.mentions.user_ids"},
             {"value", user_id}}},
           notify_highlight),
      rule(".m.rule.is_room_mention",
           {{{"kind", "event_property_is"}, {"key", "content.m\\.mentions.room"}, {"value", true}},
            {{"kind", "sender_notification_permission"}, {"key", "room"}}},
           {"notify", {{"set_tweak", "highlight"}}}),
      rule(".m.rule.tombstone",
           {event_match("type", "m.room.tombstone"), event_match("state_key", "")},
           {"notify", {{"set_tweak", "highlight"}}}),
      rule(".m.rule.reaction", {event_match("type", "m.reaction")}, Json::array()),
      rule(".m.rule.server_acl",
           {event_match("type", "m.room.server_acl"), event_match("state_key", "")}, Json::array()),
  });
  override_rules[0]["enabled"] = false;
  Json underride = Json::array({
      rule(".m.rule.call", {event_match("type", "m.call.invite")},
           {"notify", {{"set_tweak", "sound"}, {"value", "ring"}}}),
      rule(".m.rule.encrypted_room_one_to_one",
           {{{"kind", "room_member_count"}, {"is", "2"}}, event_match("type", "m.room.encrypted")},
           notify_sound),
      rule(".m.rule.room_one_to_one",
           {{{"kind", "room_member_count"}, {"is", "2"}}, event_match("type", "m.room.message")},
           notify_sound),
      rule(".m.rule.message", {event_match("type", "m.room.message")}, {"notify"}),
      rule(".m.rule.encrypted", {event_match("type", "m.room.encrypted")}, {"notify"}),
  });
  const std::string localpart = user_id.substr(1, user_id.find(':') - 1);
  Json content = Json::array({{{"rule_id", ".m.rule.contains_user_name"},
                               {"default", true},
                               {"enabled", true},
                               {"pattern", localpart},
                               {"actions", notify_highlight}}});
  return {{"global",
           {{"override", override_rules},
            {"content", content},
            {"room", Json::array()},
            {"sender", Json::array()},
            {"underride", underride}}}};
}

Response pushrules(Ctx& c) {
  return {200, default_push_rules(c.user->id)};
}

Response post_filter(Ctx& c) {
  require_self(c, c.params[0]);
  if (c.user->filters.size() >= 1000) throw ApiError(400, "M_LIMIT_EXCEEDED", "too many filters");
  const std::string id = std::to_string(c.user->filters.size());
  c.user->filters[id] = c.body;
  c.touch(*c.user);
  return {200, {{"filter_id", id}}};
}

Response get_filter(Ctx& c) {
  require_self(c, c.params[0]);
  auto it = c.user->filters.find(c.params[1]);
  if (it == c.user->filters.end()) not_found("unknown filter");
  return {200, it->second};
}

}  // namespace

std::vector<Route> server_info_routes() {
  return {
      {"GET", "versions", versions, false},
      {"GET", ".well-known", well_known, false},
      {"GET", "capabilities", capabilities},
      {"GET", "pushrules", pushrules},
      {"GET", "pushrules/", pushrules},
      {"POST", "user/{}/filter", post_filter},
      {"GET", "user/{}/filter/{}", get_filter},
      // Dispatched before this handler is reached (homeserver.cpp: a sync may long-poll).
      {"GET", "sync", [](Ctx& c) { return *compute_sync(c, true); }},
  };
}

}  // namespace mrt::devserver
