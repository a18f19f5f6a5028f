// File: mrt/topics.hpp
//
// The broadcast topics of PROTOCOL.md §6 (room alias localparts; `chain` decimal, addresses
// lowercase), built for the application, and the operator an events topic names:
//
//   mrt::events_topic(1, operator_address);         // "raiden_1_events_0x…"
//   mrt::events_topic_operator("raiden_1_events_0x…");  // that address
//
// In an events room only the operator publishes: a node accepts no one else's envelopes there
// (rule 8, `not_allowed`), keeps the operator's as evidence (Node::evidence), and a homeserver
// with the broadcast rule refuses anyone else's (mrt/broadcast_event_rule.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <mrt/eth.hpp>

namespace mrt {

std::string discovery_topic(std::uint64_t chain_id, const Address& token_network);
std::string monitoring_topic(std::uint64_t chain_id);
std::string path_finding_topic(std::uint64_t chain_id);
std::string events_topic(std::uint64_t chain_id, const Address& operator_address);

// The operator of `raiden_<chain>_events_<address>` (chain: decimal digits, no leading zero),
// or nothing when `topic` is not an events topic.
std::optional<Address> events_topic_operator(std::string_view topic);

}  // namespace mrt
