#include "node_tables.hpp"

#include <mrt/e2ee_machine.hpp>

namespace mrt::transport {

NodeTables::NodeTables(const store::Env& env)
    : meta(env.table<store::StringKey, store::StringValue>("node_meta")),
      outbox(env.table<store::StringKey, store::JsonValue>("outbox")),
      inbox(env.table<store::StringKey, store::JsonValue>("inbox")),
      seen_nonces(env.table<store::StringKey, store::U64Value>("seen_nonces")),
      dm_rooms(env.table<store::StringKey, store::JsonValue>("dm_rooms")),
      evidence(env.table<store::StringKey, store::StringValue>("evidence")) {}

std::vector<store::TableSpec> NodeTables::specs(const std::vector<std::string>& server_names) {
  std::vector<store::TableSpec> specs = E2eeMachine::tables();
  for (const auto& name : server_names) {
    auto more = E2eeMachine::tables(HomeNamespace{name, false}.tables_prefix());
    specs.insert(specs.end(), more.begin(), more.end());
  }
  specs.push_back({"node_meta", store::Sealing::plain});
  specs.push_back({"outbox", store::Sealing::sealed});
  specs.push_back({"inbox", store::Sealing::sealed});
  specs.push_back({"seen_nonces", store::Sealing::plain});
  specs.push_back({"dm_rooms", store::Sealing::plain});
  specs.push_back({"evidence", store::Sealing::plain});
  return specs;
}

std::string evidence_key(std::string_view topic, std::int64_t ts, std::string_view nonce) {
  std::string digits = std::to_string(ts);
  digits.insert(0, digits.size() < 16 ? 16 - digits.size() : 0, '0');
  return store::join_key({topic, digits, nonce});
}

std::string HomeNamespace::tables_prefix() const {
  return primary ? std::string() : "home/" + server_name + "/";
}

std::string HomeNamespace::meta_key(std::string_view key) const {
  if (primary) return std::string(key);
  return store::join_key({"home", server_name}) + std::string(key);
}

}  // namespace mrt::transport
