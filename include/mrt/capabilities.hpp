// File: mrt/capabilities.hpp
//
// A Raiden node's capabilities, as Raiden publishes them (raiden-network/spec, transport,
// "Capabilities"): the avatar_url of the node's Matrix profile holds
// `mxc://raiden.network/cap?<the capabilities as a URL query>`. Values are strings; a boolean is
// "1" or "0"; a list is its key repeated. Pathfinding Services hand the same string out as a
// peer's `capabilities` in its address metadata. PROTOCOL.md is silent on it: docs/protocol.md
// gives mrt's reading.
//
//   mrt::Capabilities caps{{"Receive", "1"}, {"Mediate", "0"}, {"toDevice", "1"}};
//   std::string url = mrt::capabilities_url(caps).value();
//   // "mxc://raiden.network/cap?Receive=1&Mediate=0&toDevice=1"
//   auto back = mrt::parse_capabilities_url(url);  // the same pairs, in order
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <mrt/result.hpp>

namespace mrt {

// (key, value) pairs in order; a key may repeat (a list).
using Capabilities = std::vector<std::pair<std::string, std::string>>;

// Synapse refuses a longer avatar_url (MAX_AVATAR_URL_LEN).
inline constexpr std::size_t kMaxCapabilitiesUrlBytes = 1000;

enum class CapabilitiesError : int {
  too_long = 1,    // over kMaxCapabilitiesUrlBytes
  empty_key = 2,   // a pair without a key ("=1", "&&" is fine: empty pieces are skipped)
  bad_escape = 3,  // % not followed by two hex digits
  not_utf8 = 4,    // a key or value that is not UTF-8 once decoded
  bad_value = 5,   // JSON (capabilities_from_json): not an object, or a value that is not a
                   // string, boolean, integer or an array of those
};
std::string_view to_string(CapabilitiesError e);

// `mxc://raiden.network/cap?k=v&…`, keys and values %-encoded; no pairs: "mxc://" (what Raiden
// publishes for none, and what its older parser reads as none).
[[nodiscard]] Result<std::string, CapabilitiesError> capabilities_url(const Capabilities& caps);

// The pairs of the query after the first '?', %-decoded ('+' is a space), in order; a key
// without '=' has the value "". A URL without '?' (none, or an ordinary avatar) holds none.
[[nodiscard]] Result<Capabilities, CapabilitiesError> parse_capabilities_url(std::string_view url);

// As JSON, for `mrt node` and the SDKs: {"Receive": "1", "k": ["a", "b"]}, a repeated key's
// values as an array (how Raiden's services read a list). Keys in JSON's order, not the pairs'.
nlohmann::json capabilities_to_json(const Capabilities& caps);
// The reverse: a value is a string, a boolean ("1" or "0", as Raiden writes them), an integer
// (its decimal text) or an array of those (the key repeated).
[[nodiscard]] Result<Capabilities, CapabilitiesError> capabilities_from_json(
    const nlohmann::json& json);

}  // namespace mrt
