// File: mrt/store/txn.hpp
//
// LMDB transactions as RAII values. A ReadTxn is a consistent snapshot, usable from any thread
// (the environment is opened with MDB_NOTLS) and cheap to start; keep it short, since the store
// can not grow its map while one is open. A WriteTxn only ever exists on the store's writer
// thread, inside Env::write / Env::commit, or in a migration.
#pragma once

#include <memory>
#include <shared_mutex>

struct MDB_txn;  // from <lmdb.h>; LMDB stays out of the public headers

namespace mrt::store {

namespace detail {
struct EnvCore;
}

class Txn {
 public:
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn* raw() const { return txn_; }

 protected:
  Txn(const detail::EnvCore* core, MDB_txn* txn) : core_(core), txn_(txn) {}
  ~Txn() = default;
  const detail::EnvCore* core_;
  MDB_txn* txn_;
};

class ReadTxn : public Txn {
 public:
  explicit ReadTxn(const detail::EnvCore* core);  // use Env::read()
  ReadTxn(ReadTxn&& other) noexcept;
  ~ReadTxn();

 private:
  std::shared_lock<std::shared_mutex> map_lock_;  // the map is not resized under a reader
};

class WriteTxn : public Txn {
 public:
  WriteTxn(const detail::EnvCore* core, MDB_txn* txn) : Txn(core, txn) {}
};

}  // namespace mrt::store
