#include "envelope_batch.hpp"

#include <mrt/canonical_json.hpp>

namespace mrt::transport {

bool PayloadBuilder::add(const nlohmann::json& envelope) {
  auto text = canonical_json(envelope);
  if (!text) return false;
  const std::size_t grown = bytes_ + text->size() + (envelopes_.empty() ? 0 : 1);  // comma
  if (grown > max_bytes_) return false;
  bytes_ = grown;
  envelopes_.push_back(envelope);
  return true;
}

}  // namespace mrt::transport
