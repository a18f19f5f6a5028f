// File: mrt/broadcast_event_rule.hpp
//
// PROTOCOL.md §6 enforced by a homeserver (docs/protocol.md "Rules in the homeserver"): whether
// a `network.raiden.envelopes` event that a user sends into the broadcast room of a topic may
// reach the room's members. `mrt serve --broadcast-rules` asks it of every such event; the
// Synapse module `mrt.synapse_rules` (Python SDK) asks the same function. A refused event never
// reaches a member: the sender's own server answers 403, and a server that receives it over
// federation drops it.
//
// The rule is §4 rules 1 to 4 on every envelope, plus one a node cannot check: the envelope's
// `sender` is the address of the event's Matrix sender, so nobody republishes another's
// envelopes; and in an events room, that sender is the operator the topic names. Rule 5 (age) and 6
// to 8 (replay, budgets, allowlists) stay with the receiving nodes: a verdict on an event from
// another server must not depend on when it arrived.
//
//   if (auto refused = mrt::refuse_broadcast_event(content, topic, event_sender))
//     return forbidden(refused->message());
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <mrt/envelope.hpp>

namespace mrt {

enum class BroadcastEventError : int {
  not_a_batch = 1,       // the content is not exactly {"envelopes": [one or more]}
  bad_envelope = 2,      // an envelope fails PROTOCOL §4 rules 1-4 (`reason` says which)
  not_the_sender = 3,    // an envelope's sender is not the address of the event's Matrix sender
  not_the_operator = 4,  // in an events room (mrt/topics.hpp), a sender other than its operator
};
std::string_view to_string(BroadcastEventError e);

struct BroadcastEventRefusal {
  BroadcastEventError error = BroadcastEventError::not_a_batch;
  std::size_t index = 0;               // the envelope refused (bad_envelope, not_the_sender)
  std::optional<RejectReason> reason;  // bad_envelope: the first of rules 1-4 it fails
  std::string message() const;         // what was wrong, for the 403 and the log
};

// Why `content`, sent by the Matrix user `matrix_sender` into the broadcast room of `topic`, is
// refused, or nothing when it passes. Envelopes are judged in order and the first refusal is the
// answer; the claimed sender is compared before the signature is checked, so a forger's event
// costs no ecrecover. At most one ecrecover per envelope (a 65,536-byte event holds about 200).
[[nodiscard]] std::optional<BroadcastEventRefusal> refuse_broadcast_event(
    const nlohmann::json& content, std::string_view topic, std::string_view matrix_sender);

}  // namespace mrt
