// Persistence of the dev homeserver in an mrt store (LMDB, store/): users (with devices, keys,
// to-device inboxes, account data) as one JSON record each, events by stream position, room
// aliases, the device-list change log and the stream position. Everything is loaded into
// memory at start; each request's writes are one Changes set, committed before it is answered.
//
// The store needs an owner key. A homeserver has no Ethereum identity, so on first start a
// random key is written to DATA/server.key (mode 0600) and reused later: a dev-only shortcut
// (the key only seals the store; anyone who can read the data directory can read everything).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <mrt/result.hpp>
#include <mrt/store/env.hpp>

#include "model.hpp"

namespace mrt::devserver {

struct LoadedState {
  std::vector<User> users;
  std::vector<std::pair<StreamPos, Json>> events;
  std::map<std::string, std::string> aliases;  // alias -> room id
  std::vector<std::pair<StreamPos, std::string>> device_changes;
  StreamPos position = 0;
};

class Storage {
 public:
  static Result<Storage, std::string> open(const std::filesystem::path& data_dir,
                                           store::Durability durability);

  LoadedState load() const;

  void put_user(store::Changes& c, const User& user) const;
  void put_event(store::Changes& c, StreamPos pos, const Json& event) const;
  void put_alias(store::Changes& c, const std::string& alias, const std::string& room) const;
  void erase_alias(store::Changes& c, const std::string& alias) const;
  void put_device_change(store::Changes& c, StreamPos pos, const std::string& user) const;
  void put_position(store::Changes& c, StreamPos pos) const;

  store::Env& env() { return env_; }

 private:
  explicit Storage(store::Env env);
  store::Env env_;
  store::Table<store::StringKey, store::StringValue> meta_, users_, aliases_;
  store::Table<store::U64Key, store::StringValue> events_, device_changes_;
};

}  // namespace mrt::devserver
