#include <mrt/broadcast_event_rule.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/topics.hpp>

namespace mrt {

std::string_view to_string(BroadcastEventError e) {
  switch (e) {
    case BroadcastEventError::not_a_batch:
      return "not_a_batch";
    case BroadcastEventError::bad_envelope:
      return "bad_envelope";
    case BroadcastEventError::not_the_sender:
      return "not_the_sender";
    case BroadcastEventError::not_the_operator:
      return "not_the_operator";
  }
  return "unknown";
}

std::string BroadcastEventRefusal::message() const {
  switch (error) {
    case BroadcastEventError::not_a_batch:
      return "not a network.raiden.envelopes batch: the content must be exactly "
             "{\"envelopes\": [one or more envelopes]}";
    case BroadcastEventError::bad_envelope:
      return "envelope " + std::to_string(index) + " is refused by PROTOCOL section 4: " +
             std::string(to_string(reason.value_or(RejectReason::malformed)));
    case BroadcastEventError::not_the_sender:
      return "envelope " + std::to_string(index) +
             " is not signed by the address of the event's sender";
    case BroadcastEventError::not_the_operator:
      return "envelope " + std::to_string(index) +
             " is not the operator's: only the address the events topic names publishes there";
  }
  return "refused";
}

std::optional<BroadcastEventRefusal> refuse_broadcast_event(const nlohmann::json& content,
                                                            std::string_view topic,
                                                            std::string_view matrix_sender) {
  const auto envelopes =
      content.is_object() && content.size() == 1 ? content.find("envelopes") : content.end();
  if (envelopes == content.end() || !envelopes->is_array() || envelopes->empty())
    return BroadcastEventRefusal{.error = BroadcastEventError::not_a_batch};
  const auto sender = address_of_user_id(matrix_sender);
  const auto operator_address = events_topic_operator(topic);
  const Arrival arrival{.room_topic = std::string(topic)};
  for (std::size_t i = 0; i < envelopes->size(); ++i) {
    const nlohmann::json& wire = (*envelopes)[i];
    auto shape = parse_envelope(wire);
    if (!shape) {
      return BroadcastEventRefusal{
          .error = BroadcastEventError::bad_envelope, .index = i, .reason = shape.error()};
    }
    if (!sender || shape->sender != *sender)
      return BroadcastEventRefusal{.error = BroadcastEventError::not_the_sender, .index = i};
    if (operator_address && shape->sender != *operator_address)
      return BroadcastEventRefusal{.error = BroadcastEventError::not_the_operator, .index = i};
    // Judged "now" at the envelope's own time: rule 5 is the receivers' (see the header).
    if (auto e = validate_envelope(wire, arrival, shape->ts); !e) {
      return BroadcastEventRefusal{
          .error = BroadcastEventError::bad_envelope, .index = i, .reason = e.error()};
    }
  }
  return std::nullopt;
}

}  // namespace mrt
