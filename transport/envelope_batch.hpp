// transport/envelope_batch.hpp (internal): envelopes to one recipient packed into carrier
// payloads `{"envelopes": […]}` whose canonical JSON stays within 40,000 bytes (PROTOCOL.md §5),
// so that the encrypted event (base64 adds a third) stays under Matrix's 65,536-byte limit.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::transport {

inline constexpr std::size_t kMaxPayloadBytes = 40'000;

// Splits `envelopes` (signed envelope objects, each within kMaxEnvelopeBytes), in order, into
// as few payloads as the limit allows. An envelope that alone exceeds the limit is dropped.
std::vector<nlohmann::json> batch_envelopes(const std::vector<nlohmann::json>& envelopes,
                                            std::size_t max_payload_bytes = kMaxPayloadBytes);

}  // namespace mrt::transport
