#include <stdexcept>

#include <mrt/canonical_json.hpp>
#include <mrt/store/changes.hpp>
#include <mrt/store/codecs.hpp>

namespace mrt::store {

Bytes U64Key::encode(std::uint64_t v) {
  Bytes out(8);
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return out;
}

std::optional<std::uint64_t> U64Key::decode(ByteView b) {
  if (b.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (std::uint8_t byte : b) v = v << 8 | byte;
  return v;
}

SecretBuffer JsonValue::encode(const nlohmann::json& v) {
  auto text = canonical_json(v);
  if (!text)
    throw std::invalid_argument("store: value has no canonical JSON form: " + text.error().message);
  SecretBuffer out(as_bytes(*text));
  wipe(*text);
  return out;
}

std::optional<nlohmann::json> JsonValue::decode(ByteView b) {
  auto parsed =
      parse_json_strict(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

std::string join_key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view p : parts) {
    if (p.find('\0') != std::string_view::npos) {
      throw std::invalid_argument("store: a key part contains NUL, the separator");
    }
    key += p;
    key += '\0';
  }
  return key;
}

}  // namespace mrt::store
