// File: mrt/envelope.hpp
//
// The signed envelope every application message travels in (PROTOCOL.md §4): build and sign
// one, and validate a received one by rules 1 to 5 in order (schema, size, signature,
// recipient/topic, age). Rules 6 to 8 (replay window, device attestation, spam policy) need
// state and live in the transport; their reasons are listed here so that every rejection is
// counted under one enum.
//
//   auto e = mrt::Envelope::message(key, peer, "balance proof …", now_ms);
//   nlohmann::json wire = e.to_json();                  // signed
//   auto got = mrt::validate_envelope(wire, {.receiver = peer}, now_ms);
//   if (!got) count(got.error());                       // a RejectReason
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/result.hpp>

namespace mrt {

// Why an envelope was dropped. The numbers never change; each says what the receiver does.
enum class RejectReason : int {
  malformed = 1,          // drop; the sender's software is broken or hostile
  too_large = 2,          // drop
  bad_signature = 3,      // drop; costs one ecrecover
  wrong_recipient = 4,    // drop: replayed or misrouted
  wrong_topic = 5,        // drop: replayed or misrouted
  expired = 6,            // drop: too old, or from a clock too far ahead
  replay = 7,             // drop, but ack again if it was a message (the first ack got lost)
  unattested_device = 8,  // drop; a later resend from an attested device gets through
  rate_limited = 9,       // drop; the sender's resend comes back later
  not_allowed = 10,       // drop: not on the room's or the node's allowlist
};
std::string_view to_string(RejectReason r);

enum class EnvelopeKind { message, ack };

// A broadcast topic (PROTOCOL §4, §6): ^[a-z0-9_]{1,200}$, the room alias localpart.
bool is_topic(std::string_view topic);

// The Matrix event type of a payload of envelopes (PROTOCOL §5, §6): {"envelopes": [...]}.
inline constexpr const char* kEnvelopesEventType = "network.raiden.envelopes";

inline constexpr std::size_t kMaxEnvelopeBytes = 32'768;
inline constexpr std::int64_t kDefaultMaxAgeMs = 3'600'000;
inline constexpr std::int64_t kMaxClockSkewMs = 120'000;
inline constexpr std::size_t kMaxAcks = 256;

struct Envelope {
  EnvelopeKind kind = EnvelopeKind::message;
  Address sender;
  std::optional<Address> recipient;  // unicast
  std::optional<std::string> topic;  // broadcast: the room alias localpart
  std::string nonce;                 // 32 lowercase hex digits
  std::int64_t ts = 0;               // ms since epoch
  std::string body;                  // kind message
  std::vector<std::string> acks;     // kind ack
  Signature sig;

  // Signed, with a fresh random nonce.
  static Envelope message(const PrivateKey& key, const Address& recipient, std::string body,
                          std::int64_t now_ms);
  static Envelope broadcast(const PrivateKey& key, std::string topic, std::string body,
                            std::int64_t now_ms);
  static Envelope ack(const PrivateKey& key, const Address& recipient,
                      std::vector<std::string> nonces, std::int64_t now_ms);

  nlohmann::json to_json() const;  // with "sig"
  // The bytes `sig` is over: canonical JSON of to_json() without "sig".
  std::string signing_payload() const;
};

struct EnvelopeLimits {
  std::size_t max_bytes = kMaxEnvelopeBytes;  // configurable lower, never higher
  std::int64_t max_age_ms = kDefaultMaxAgeMs;
};

// Where an envelope arrived: on a unicast carrier of `receiver` (room_topic empty), or in the
// broadcast room of `room_topic`.
struct Arrival {
  std::optional<Address> receiver;
  std::optional<std::string> room_topic;
};

// PROTOCOL.md §4 rules 1-5, in order; the first that fails is the reason.
[[nodiscard]] Result<Envelope, RejectReason> validate_envelope(const nlohmann::json& envelope,
                                                               const Arrival& arrival,
                                                               std::int64_t now_ms,
                                                               const EnvelopeLimits& limits = {});

// Rule 1 alone: the envelope's shape, without its signature checked.
[[nodiscard]] Result<Envelope, RejectReason> parse_envelope(const nlohmann::json& envelope);

}  // namespace mrt
