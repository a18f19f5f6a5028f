// Raiden's capabilities URL (include/mrt/capabilities.hpp): URL query encoding, no more.
#include <optional>

#include <mrt/capabilities.hpp>

#include "core/utf8.hpp"
#include "matrix_client.hpp"  // url_encode

namespace mrt {
namespace {

constexpr std::string_view kPrefix = "mxc://raiden.network/cap?";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string, CapabilitiesError> decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) return fail(CapabilitiesError::bad_escape);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  if (detail::first_invalid_utf8(out)) return fail(CapabilitiesError::not_utf8);
  return out;
}

}  // namespace

std::string_view to_string(CapabilitiesError e) {
  switch (e) {
    case CapabilitiesError::too_long:
      return "too_long";
    case CapabilitiesError::empty_key:
      return "empty_key";
    case CapabilitiesError::bad_escape:
      return "bad_escape";
    case CapabilitiesError::not_utf8:
      return "not_utf8";
    case CapabilitiesError::bad_value:
      return "bad_value";
  }
  return "unknown";
}

Result<std::string, CapabilitiesError> capabilities_url(const Capabilities& caps) {
  if (caps.empty()) return std::string("mxc://");
  std::string url(kPrefix);
  for (std::size_t i = 0; i < caps.size(); ++i) {
    const auto& [key, value] = caps[i];
    if (key.empty()) return fail(CapabilitiesError::empty_key);
    if (detail::first_invalid_utf8(key) || detail::first_invalid_utf8(value))
      return fail(CapabilitiesError::not_utf8);
    if (i > 0) url.push_back('&');
    url += transport::url_encode(key) + "=" + transport::url_encode(value);
    if (url.size() > kMaxCapabilitiesUrlBytes) return fail(CapabilitiesError::too_long);
  }
  return url;
}

Result<Capabilities, CapabilitiesError> parse_capabilities_url(std::string_view url) {
  if (url.size() > kMaxCapabilitiesUrlBytes) return fail(CapabilitiesError::too_long);
  Capabilities caps;
  const std::size_t query = url.find('?');
  if (query == std::string_view::npos) return caps;
  std::string_view rest = url.substr(query + 1);
  while (!rest.empty()) {
    const std::size_t end = rest.find('&');
    const std::string_view piece = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    auto key = decode(piece.substr(0, eq));
    if (!key) return fail(key.error());
    if (key->empty()) return fail(CapabilitiesError::empty_key);
    auto value = decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
    if (!value) return fail(value.error());
    caps.emplace_back(std::move(*key), std::move(*value));
  }
  return caps;
}

nlohmann::json capabilities_to_json(const Capabilities& caps) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : caps) {
    auto it = out.find(key);
    if (it == out.end()) {
      out[key] = value;
    } else {
      if (!it->is_array()) *it = nlohmann::json::array({*it});
      it->push_back(value);
    }
  }
  return out;
}

Result<Capabilities, CapabilitiesError> capabilities_from_json(const nlohmann::json& json) {
  if (!json.is_object()) return fail(CapabilitiesError::bad_value);
  const auto text = [](const nlohmann::json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "1" : "0");
    if (v.is_number_integer()) return v.dump();
    return std::nullopt;
  };
  Capabilities caps;
  for (const auto& [key, value] : json.items()) {
    for (const auto& v : value.is_array() ? value : nlohmann::json::array({value})) {
      auto t = text(v);
      if (!t) return fail(CapabilitiesError::bad_value);
      caps.emplace_back(key, std::move(*t));
    }
  }
  // The URL's own checks (empty key, UTF-8, length).
  if (auto url = capabilities_url(caps); !url) return fail(url.error());
  return caps;
}

}  // namespace mrt
