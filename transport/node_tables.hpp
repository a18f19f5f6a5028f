// transport/node_tables.hpp (internal): what a node keeps in its store besides the E2EE
// machine's tables.
//
//   node_meta    device id, next_batch, subscriptions, caches      (plain)
//   outbox       nonce -> {envelope, to}: messages not yet acked  (sealed: application data)
//   inbox        sender\0nonce -> {envelope, carrier}: accepted, not yet consumed (sealed)
//   seen_nonces  sender\0nonce -> ts + max_age: the replay window (plain)
//   dm_rooms     room id -> DmRoomState + verdict + home          (plain)
//   evidence     topic\0ts\0nonce -> the signed envelope, canonical JSON: an events room's
//                envelopes, kept after they are consumed (plain: published in a public room)
//
// A node with accounts on several homeservers (multi-homing) keeps one E2EE account per homeserver
// and its own device id, next_batch and subscriptions there: each homeserver's are in its
// HomeNamespace. The outbox, inbox and replay window are the node's, shared by its homes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <mrt/store/env.hpp>

namespace mrt::transport {

using JsonTable = store::Table<store::StringKey, store::JsonValue>;

struct NodeTables {
  store::Table<store::StringKey, store::StringValue> meta;
  JsonTable outbox;
  JsonTable inbox;
  store::Table<store::StringKey, store::U64Value> seen_nonces;
  JsonTable dm_rooms;
  store::Table<store::StringKey, store::StringValue> evidence;

  explicit NodeTables(const store::Env& env);
  // The node's tables and the E2EE machine's (once unprefixed, once per homeserver), for
  // store::Options::tables.
  static std::vector<store::TableSpec> specs(const std::vector<std::string>& server_names);
};

// Where one homeserver's state lives in the store. The store's first homeserver (its
// "primary", kept in node_meta) uses the plain names, so a store of a one-homeserver node
// reads the same with any number of homeservers configured later.
struct HomeNamespace {
  std::string server_name;
  bool primary = true;

  std::string tables_prefix() const;
  // node_meta's key for `key` of this homeserver.
  std::string meta_key(std::string_view key) const;
};

inline constexpr const char* kMetaDeviceId = "device_id";
inline constexpr const char* kMetaNextBatch = "next_batch";
inline constexpr const char* kMetaPrimaryServer = "primary_server";

// The evidence table's key: ordered by topic, then time (16 decimal digits hold any §4 `ts`).
std::string evidence_key(std::string_view topic, std::int64_t ts, std::string_view nonce);

}  // namespace mrt::transport
