// File: mrt/store/codecs.hpp
//
// How typed tables turn keys and values into bytes. A codec is a struct with a `Type`,
// `encode` and `decode`; decode returns nullopt for bytes it does not recognise (the table
// then throws IntegrityError). Values are encoded into a SecretBuffer so that a plaintext on
// its way to a sealed table is wiped afterwards.
//
//   mrt::store::Table<mrt::store::StringKey, mrt::store::JsonValue> rooms =
//   env.table<...>("rooms");
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>

namespace mrt::store {

template <class C>
concept KeyCodec = requires(const typename C::Type& v, ByteView b) {
  { C::encode(v) } -> std::same_as<Bytes>;
  { C::decode(b) } -> std::same_as<std::optional<typename C::Type>>;
};

template <class C>
concept ValueCodec = requires(const typename C::Type& v, ByteView b) {
  { C::encode(v) } -> std::same_as<SecretBuffer>;
  { C::decode(b) } -> std::same_as<std::optional<typename C::Type>>;
};

// Keys: raw bytes of a string (byte order), raw bytes, or a big-endian integer (numeric order).
struct StringKey {
  using Type = std::string;
  static Bytes encode(const std::string& s) { return {s.begin(), s.end()}; }
  static std::optional<std::string> decode(ByteView b) { return std::string(b.begin(), b.end()); }
};
struct BytesKey {
  using Type = Bytes;
  static Bytes encode(const Bytes& b) { return b; }
  static std::optional<Bytes> decode(ByteView b) { return Bytes(b.begin(), b.end()); }
};
struct U64Key {
  using Type = std::uint64_t;
  static Bytes encode(std::uint64_t v);
  static std::optional<std::uint64_t> decode(ByteView b);
};

// Values.
struct StringValue {
  using Type = std::string;
  static SecretBuffer encode(const std::string& s) { return SecretBuffer(as_bytes(s)); }
  static std::optional<std::string> decode(ByteView b) { return std::string(b.begin(), b.end()); }
};
struct BytesValue {
  using Type = Bytes;
  static SecretBuffer encode(const Bytes& b) { return SecretBuffer(b); }
  static std::optional<Bytes> decode(ByteView b) { return Bytes(b.begin(), b.end()); }
};
// For secrets: the value never exists outside a wiped buffer.
struct SecretValue {
  using Type = SecretBuffer;
  static SecretBuffer encode(const SecretBuffer& b) { return SecretBuffer(b.view()); }
  static std::optional<SecretBuffer> decode(ByteView b) { return SecretBuffer(b); }
};
struct U64Value {
  using Type = std::uint64_t;
  static SecretBuffer encode(std::uint64_t v) { return SecretBuffer(U64Key::encode(v)); }
  static std::optional<std::uint64_t> decode(ByteView b) { return U64Key::decode(b); }
};
// Canonical JSON text; decoding uses the strict parser.
struct JsonValue {
  using Type = nlohmann::json;
  static SecretBuffer encode(const nlohmann::json& v);  // throws std::invalid_argument for floats
  static std::optional<nlohmann::json> decode(ByteView b);
};

// A composite string key `a \0 b \0 …` whose prefix `a \0` selects every key under `a`.
std::string join_key(std::initializer_list<std::string_view> parts);

}  // namespace mrt::store
