// Config::broadcast_rules: PROTOCOL §6 enforced before an event joins a broadcast room, the rule
// the Synapse module mrt.synapse_rules applies (mrt/broadcast_event_rule.hpp).
#include <mrt/broadcast_event_rule.hpp>

#include "state.hpp"

namespace mrt::devserver {

namespace {

// The broadcast topic a room stands for: its canonical alias's localpart, when that is a topic.
std::optional<std::string> topic_of(const State& s, const Room& room) {
  auto it = room.state.find({"m.room.canonical_alias", ""});
  if (it == room.state.end()) return std::nullopt;
  const Json& content = s.events.at(it->second)["content"];
  auto alias = content.find("alias");
  if (alias == content.end() || !alias->is_string()) return std::nullopt;
  const std::string& text = alias->get_ref<const std::string&>();
  const std::size_t colon = text.find(':');
  if (!text.starts_with("#") || colon == std::string::npos) return std::nullopt;
  std::string topic = text.substr(1, colon - 1);
  if (!is_topic(topic)) return std::nullopt;
  return topic;
}

}  // namespace

void check_broadcast_rules(const Ctx& c, const Room& room, const std::string& type) {
  if (!c.s.config.broadcast_rules || type != kEnvelopesEventType) return;
  const auto topic = topic_of(c.s, room);
  if (!topic) return;
  if (auto refused = refuse_broadcast_event(c.body, *topic, c.user->id))
    forbidden("broadcast rule (PROTOCOL section 6): " + refused->message());
}

}  // namespace mrt::devserver
