// File: mrt/store/table.hpp
//
// Typed tables: callers speak in keys and values, never in MDB_val. A table declared `sealed`
// stores every value encrypted (XChaCha20-Poly1305 under the store key, with the table name and
// the record key as associated data), so a value copied to another record or table fails to
// open. Keys are never encrypted: a key that would reveal a secret must be a keyed hash
// (Env::keyed_hash).
//
//   auto sessions = env.table<StringKey, SecretValue>("olm_sessions");
//   auto txn = env.read();
//   std::optional<SecretBuffer> pickle = sessions.get(txn, "curve:sessionid");
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <mrt/bytes.hpp>
#include <mrt/store/codecs.hpp>
#include <mrt/store/txn.hpp>

namespace mrt::store {

// The untyped part of a table: bytes in, bytes out, sealing applied.
class TableBase {
 public:
  const std::string& name() const { return name_; }
  bool sealed() const { return sealed_; }

  std::optional<SecretBuffer> get_bytes(const Txn& txn, ByteView key) const;
  void put_bytes(WriteTxn& txn, ByteView key, ByteView value) const;
  bool erase_bytes(WriteTxn& txn, ByteView key) const;
  // Calls `visit(key, value)` for each record whose key starts with `prefix`, in key order,
  // until it returns false.
  void scan_bytes(const Txn& txn, ByteView prefix,
                  const std::function<bool(ByteView, SecretBuffer)>& visit) const;
  std::size_t count(const Txn& txn) const;

 protected:
  TableBase(const detail::EnvCore* core, unsigned int dbi, std::string name, bool sealed)
      : core_(core), dbi_(dbi), name_(std::move(name)), sealed_(sealed) {}

 private:
  friend class Env;
  const detail::EnvCore* core_;
  unsigned int dbi_;
  std::string name_;
  bool sealed_;
};

template <KeyCodec K, ValueCodec V>
class Table : public TableBase {
 public:
  using Key = typename K::Type;
  using Value = typename V::Type;

  std::optional<Value> get(const Txn& txn, const Key& key) const {
    auto bytes = get_bytes(txn, K::encode(key));
    if (!bytes) return std::nullopt;
    return decode(bytes->view());
  }
  void put(WriteTxn& txn, const Key& key, const Value& value) const {
    put_bytes(txn, K::encode(key), V::encode(value).view());
  }
  bool erase(WriteTxn& txn, const Key& key) const { return erase_bytes(txn, K::encode(key)); }

  // Every record whose encoded key starts with `prefix` (empty: the whole table), in order.
  void for_each(const Txn& txn, ByteView prefix,
                const std::function<bool(const Key&, Value)>& visit) const {
    scan_bytes(txn, prefix, [&](ByteView k, SecretBuffer v) {
      auto key = K::decode(k);
      if (!key) throw_undecodable();
      return visit(*key, decode(v.view()));
    });
  }

 private:
  friend class Env;
  using TableBase::TableBase;
  Value decode(ByteView bytes) const {
    auto value = V::decode(bytes);
    if (!value) throw_undecodable();
    return std::move(*value);
  }
  [[noreturn]] void throw_undecodable() const;
};

[[noreturn]] void throw_undecodable_record(const std::string& table);

template <KeyCodec K, ValueCodec V>
void Table<K, V>::throw_undecodable() const {
  throw_undecodable_record(name());
}

}  // namespace mrt::store
