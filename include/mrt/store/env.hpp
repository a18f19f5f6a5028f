// File: mrt/store/env.hpp
//
// The store: one LMDB environment in a directory of its own (mode 0700, files 0600), held by
// one process at a time, whose secret tables are sealed under keys derived from a StoreKey (a
// node's comes from its Ethereum key: mrt::store_key_for). All writes go through one writer thread
// that commits whatever is queued as one durable transaction (group commit): many writers share one
// fsync, and each one's completion fires only after its data is on disk.
//
//   mrt::store::Options options{.dir = "node-data",
//                               .tables = {{"outbox", Sealing::plain},
//                                          {"olm_sessions", Sealing::sealed}}};
//   auto env = mrt::store::Env::open(options, mrt::store_key_for(eth_key));
//   if (!env) fail(env.error().message);
//   auto outbox = env->table<StringKey, JsonValue>("outbox");
//   Changes c;
//   c.put(outbox, nonce, envelope);
//   env->commit(std::move(c)).get();      // durable here
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <mrt/result.hpp>
#include <mrt/store/changes.hpp>
#include <mrt/store/error.hpp>
#include <mrt/store/store_key.hpp>
#include <mrt/store/table.hpp>
#include <mrt/store/txn.hpp>

namespace mrt::store {

// The schema this build writes. Version 1: meta, and the tables the caller declares.
inline constexpr std::uint32_t kSchemaVersion = 1;
// Recorded in meta so that a later backend (vodozemac) knows what the pickles are.
inline constexpr const char* kCryptoBackend = "libolm-3.2";

enum class Durability {
  full,  // every completed commit survives a crash (fsync per group commit)
  off,   // NOT crash-safe: no fsync at all; for tests and benchmarks only
};

enum class Sealing { plain, sealed };

struct TableSpec {
  std::string name;
  Sealing sealing = Sealing::plain;
};

struct Options {
  std::filesystem::path dir;
  std::vector<TableSpec> tables;
  Durability durability = Durability::full;
  // LMDB's map starts here and doubles whenever a write finds it full.
  std::size_t initial_map_size = std::size_t{16} << 20;
  // Most queued writes one group commit takes.
  std::size_t max_batch = 4096;
  // For tests of upgrades: the schema to open at, and migrations from version v to v + 1,
  // run in one transaction (all of them, or none and the store stays as it was).
  std::uint32_t schema_version = kSchemaVersion;
  std::map<std::uint32_t, std::function<void(WriteTxn&)>> migrations;
  // For tests of failures: runs on the writer before each group commit; what it throws fails
  // every write of that group, none of them applied, as a disk that refuses writes would.
  std::function<void()> before_group_commit;
};

struct Stats {
  std::uint64_t writes = 0;         // write functions and Changes committed
  std::uint64_t group_commits = 0;  // transactions (fsyncs with Durability::full)
  std::uint64_t map_resizes = 0;
  std::size_t map_size = 0;
};

class Env {
 public:
  // Creates the store on first use; refuses a store of another key, a newer schema, a
  // directory that holds something else, or one another process has open.
  static Result<Env, OpenFailure> open(const Options& options, const StoreKey& key);

  Env(Env&&) noexcept;
  Env& operator=(Env&&) noexcept;
  ~Env();  // finishes queued writes, then closes

  // A table declared in Options::tables (std::invalid_argument for any other name).
  template <KeyCodec K, ValueCodec V>
  Table<K, V> table(const std::string& name) const {
    const auto [dbi, sealed] = find_table(name);
    return Table<K, V>(core(), dbi, name, sealed);
  }

  ReadTxn read() const;

  // Queues `changes`; the future is ready when they are durable (Durability::full), or holds
  // the exception that stopped them (then none of them was applied).
  // std::invalid_argument for a Changes with hooks: those commit with commit_now.
  std::future<void> commit(Changes changes);
  // Commits `changes` and waits until they are durable, then runs their after_commit hooks on
  // this thread; if they fail, runs their on_abandon hooks and rethrows. Nothing is waited for
  // when `changes` is empty (the after_commit hooks run at once).
  void commit_now(Changes changes);
  // The same for a step that reads and writes in one transaction. `step` may run more than
  // once (when the map grows), so it must only act through the transaction.
  std::future<void> write(std::function<void(WriteTxn&)> step);
  // Callback form: `done` runs on the writer thread once durable (nullptr) or failed. It must
  // not block, nor wait for another commit.
  void write(std::function<void(WriteTxn&)> step, std::function<void(std::exception_ptr)> done);

  // BLAKE2b-256 under a key derived from the store key: for record keys that would otherwise
  // reveal a secret.
  Bytes keyed_hash(ByteView data) const;

  Stats stats() const;
  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  explicit Env(std::unique_ptr<Impl> impl);
  std::pair<unsigned int, bool> find_table(const std::string& name) const;
  const detail::EnvCore* core() const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt::store
