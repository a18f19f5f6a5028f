// transport/node_tables.hpp (internal): what a node keeps in its store besides the E2EE
// machine's tables.
//
//   node_meta    device id, next_batch                           (plain)
//   outbox       nonce -> {envelope, to}: messages not yet acked  (sealed: application data)
//   inbox        sender\0nonce -> {envelope, carrier}: accepted, not yet consumed (sealed)
//   seen_nonces  sender\0nonce -> ts + max_age: the replay window (plain)
//   dm_rooms     room id -> DmRoomState + verdict                 (plain)
#pragma once

#include <string>
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

  explicit NodeTables(const store::Env& env);
  // The node's tables and the E2EE machine's, for store::Options::tables.
  static std::vector<store::TableSpec> specs();
};

inline constexpr const char* kMetaDeviceId = "device_id";
inline constexpr const char* kMetaNextBatch = "next_batch";

}  // namespace mrt::transport
