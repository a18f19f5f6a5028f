// Fuzz target: Raiden's capabilities (include/mrt/capabilities.hpp), read from a peer's profile
// (avatar_url) and from the application's JSON.
//
// Input: any bytes, read as a capabilities URL and, when it parses, as JSON. Properties:
// - parse_capabilities_url never throws; what it accepts, capabilities_url writes back (unless
//   the %-encoding makes it too long) to a URL that parses to the same pairs;
// - capabilities_to_json then capabilities_from_json give the same pairs grouped by key (keys in
//   order, each key's values in their order);
// - capabilities_from_json never throws on any JSON value; what it accepts makes a valid URL.
#include <algorithm>
#include <cstdint>
#include <string>

#include <mrt/capabilities.hpp>

#include "fuzz_common.hpp"

namespace {

void check_url(std::string_view url) {
  auto caps = mrt::parse_capabilities_url(url);
  if (!caps) return;
  auto written = mrt::capabilities_url(*caps);
  if (!written) {
    FUZZ_CHECK(written.error() == mrt::CapabilitiesError::too_long);
    return;
  }
  auto again = mrt::parse_capabilities_url(*written);
  FUZZ_CHECK(again.ok() && *again == *caps);

  mrt::Capabilities grouped = *caps;
  std::stable_sort(grouped.begin(), grouped.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  auto from_json = mrt::capabilities_from_json(mrt::capabilities_to_json(*caps));
  FUZZ_CHECK(from_json.ok() && *from_json == grouped);
}

void check_json(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return;
  auto caps = mrt::capabilities_from_json(json);
  if (caps) FUZZ_CHECK(mrt::capabilities_url(*caps).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = mrt::fuzz::as_text(data, size);
  check_url(input);
  check_json(input);
  return 0;
}
