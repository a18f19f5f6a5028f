// transport/envelope_batch.hpp (internal): envelopes to one recipient packed into a carrier
// payload `{"envelopes": […]}` whose canonical JSON stays within 40,000 bytes (PROTOCOL.md §5),
// so that the encrypted event (base64 adds a third) stays under Matrix's 65,536-byte limit.
//
//   PayloadBuilder payload;
//   while (more() && payload.add(next())) pop();
//   send(payload.content());
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace mrt::transport {

inline constexpr std::size_t kMaxPayloadBytes = 40'000;

class PayloadBuilder {
 public:
  explicit PayloadBuilder(std::size_t max_bytes = kMaxPayloadBytes) : max_bytes_(max_bytes) {}
  // Appends `envelope` if the payload stays within the limit. A signed envelope (at most
  // kMaxEnvelopeBytes) always fits into an empty payload; one with no canonical form never does.
  bool add(const nlohmann::json& envelope);
  std::size_t count() const { return envelopes_.size(); }
  std::size_t bytes() const { return bytes_; }
  // {"envelopes": […]}
  nlohmann::json content() const { return {{"envelopes", envelopes_}}; }

 private:
  std::size_t max_bytes_;
  std::size_t bytes_ = sizeof(R"({"envelopes":[]})") - 1;
  nlohmann::json envelopes_ = nlohmann::json::array();
};

}  // namespace mrt::transport
