// File: mrt/store/changes.hpp
//
// The writes of one logical step ("new Olm session + removed one-time key + message marked
// seen"), collected as values and committed in one write transaction: all of them or none.
// Whoever owns the step owns its Changes; the parts of the step (the E2EE machine, the node's
// intake) write into it, read through it (they see the step's own writes), and say what to do
// once it is durable (after_commit) or if it never becomes so (on_abandon).
//
//   mrt::store::Changes changes;
//   changes.put(sessions, id, pickle);
//   changes.erase(one_time_keys, key_id);
//   auto seen = changes.get(seen_table, env.read(), key);  // this step's write, else the table's
//   env.commit_now(std::move(changes));   // durable here; after_commit hooks have run
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <mrt/store/table.hpp>

namespace mrt::store {

class Changes {
 public:
  Changes() = default;
  Changes(Changes&& other) noexcept;
  Changes& operator=(Changes&& other) noexcept;
  Changes(const Changes&) = delete;
  Changes& operator=(const Changes&) = delete;
  // A step dropped without being committed is abandoned: its on_abandon hooks run here.
  ~Changes();

  template <KeyCodec K, ValueCodec V>
  void put(const Table<K, V>& table, const typename K::Type& key, const typename V::Type& value) {
    push({table, K::encode(key), V::encode(value)});
  }
  template <KeyCodec K, ValueCodec V>
  void erase(const Table<K, V>& table, const typename K::Type& key) {
    push({table, K::encode(key), std::nullopt});
  }
  // The value of `key` as it will be once this step is committed: its last write here, or else
  // what `txn` reads from the table.
  template <KeyCodec K, ValueCodec V>
  std::optional<typename V::Type> get(const Table<K, V>& table, const Txn& txn,
                                      const typename K::Type& key) const {
    const Bytes encoded = K::encode(key);
    if (const Op* op = last_write(table, encoded)) {
      if (!op->value) return std::nullopt;
      auto value = V::decode(op->value->view());
      if (!value) throw_undecodable_record(table.name());
      return value;
    }
    return table.get(txn, key);
  }

  // Runs on the committing thread once the step is durable (Env::commit_now), in the order
  // added; one hook per `owner` (a second one from the same owner is ignored).
  void after_commit(const void* owner, std::function<void()> hook);
  // Runs when the step fails to commit or is dropped uncommitted: the owner's memory must not
  // stay ahead of the store (the E2EE machine reloads itself).
  void on_abandon(const void* owner, std::function<void()> hook);
  bool has_hooks() const { return !hooks_.committed.empty() || !hooks_.abandoned.empty(); }

  // Appends another step's writes and hooks after these.
  void append(Changes&& other);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  // Applies the writes in order (what Env::commit does inside its transaction).
  void apply(WriteTxn& txn) const;

  // For Env::commit_now: hands the hooks over (this Changes keeps none).
  using Hook = std::pair<const void*, std::function<void()>>;
  struct Hooks {
    std::vector<Hook> committed;
    std::vector<Hook> abandoned;
  };
  Hooks take_hooks();

 private:
  struct Op {
    TableBase table;
    Bytes key;
    std::optional<SecretBuffer> value;  // nullopt: erase
  };
  void push(Op op);
  const Op* last_write(const TableBase& table, const Bytes& key) const;
  void run_abandon_hooks() noexcept;

  std::vector<Op> ops_;
  std::map<std::string, std::size_t> last_;  // table name \0 key -> index of its last op
  Hooks hooks_;
};

}  // namespace mrt::store
