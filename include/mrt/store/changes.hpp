// File: mrt/store/changes.hpp
//
// The writes of one logical step ("new Olm session + removed one-time key + message marked
// seen"), collected as values and committed in one write transaction: all of them or none.
//
//   mrt::store::Changes changes;
//   changes.put(sessions, id, pickle);
//   changes.erase(one_time_keys, key_id);
//   env.commit(std::move(changes)).get();   // durable when get() returns
#pragma once

#include <optional>
#include <vector>

#include <mrt/store/table.hpp>

namespace mrt::store {

class Changes {
 public:
  template <KeyCodec K, ValueCodec V>
  void put(const Table<K, V>& table, const typename K::Type& key, const typename V::Type& value) {
    ops_.push_back({table, K::encode(key), V::encode(value)});
  }
  template <KeyCodec K, ValueCodec V>
  void erase(const Table<K, V>& table, const typename K::Type& key) {
    ops_.push_back({table, K::encode(key), std::nullopt});
  }
  // Appends another step's writes after these.
  void append(Changes&& other);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  // Applies the writes in order (what Env::commit does inside its transaction).
  void apply(WriteTxn& txn) const;

 private:
  struct Op {
    TableBase table;
    Bytes key;
    std::optional<SecretBuffer> value;  // nullopt: erase
  };
  std::vector<Op> ops_;
};

}  // namespace mrt::store
