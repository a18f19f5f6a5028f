#include <mrt/topics.hpp>

namespace mrt {

namespace {

std::string prefix(std::uint64_t chain_id) {
  return "raiden_" + std::to_string(chain_id) + "_";
}

}  // namespace

std::string discovery_topic(std::uint64_t chain_id, const Address& token_network) {
  return prefix(chain_id) + "discovery_" + token_network.to_hex();
}

std::string monitoring_topic(std::uint64_t chain_id) {
  return prefix(chain_id) + "monitoring";
}

std::string path_finding_topic(std::uint64_t chain_id) {
  return prefix(chain_id) + "path_finding";
}

std::string events_topic(std::uint64_t chain_id, const Address& operator_address) {
  return prefix(chain_id) + "events_" + operator_address.to_hex();
}

std::optional<Address> events_topic_operator(std::string_view topic) {
  constexpr std::string_view kStart = "raiden_", kMiddle = "_events_";
  if (!topic.starts_with(kStart)) return std::nullopt;
  topic.remove_prefix(kStart.size());
  const std::size_t middle = topic.find(kMiddle);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  const std::string_view chain = topic.substr(0, middle);
  if (chain.find_first_not_of("0123456789") != std::string_view::npos ||
      (chain.size() > 1 && chain.front() == '0'))
    return std::nullopt;
  auto address = Address::parse(topic.substr(middle + kMiddle.size()));
  if (!address) return std::nullopt;
  return *address;
}

}  // namespace mrt
