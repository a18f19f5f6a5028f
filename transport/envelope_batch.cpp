#include "envelope_batch.hpp"

#include <mrt/canonical_json.hpp>

namespace mrt::transport {

std::vector<nlohmann::json> batch_envelopes(const std::vector<nlohmann::json>& envelopes,
                                            std::size_t max_payload_bytes) {
  // {"envelopes":[a,b]}: the frame, then each envelope and a comma between two.
  constexpr std::size_t kFrame = sizeof(R"({"envelopes":[]})") - 1;
  std::vector<nlohmann::json> payloads;
  nlohmann::json current = nlohmann::json::array();
  std::size_t size = kFrame;
  for (const auto& envelope : envelopes) {
    auto text = canonical_json(envelope);
    if (!text) continue;  // signed envelopes are canonical; anything else cannot be sent
    const std::size_t add = text->size() + (current.empty() ? 0 : 1);
    if (kFrame + text->size() > max_payload_bytes) continue;
    if (size + add > max_payload_bytes) {
      payloads.push_back({{"envelopes", std::move(current)}});
      current = nlohmann::json::array();
      size = kFrame;
      size += text->size();
    } else {
      size += add;
    }
    current.push_back(envelope);
  }
  if (!current.empty()) payloads.push_back({{"envelopes", std::move(current)}});
  return payloads;
}

}  // namespace mrt::transport
