#include <mrt/store/txn.hpp>

#include "env_core.hpp"

namespace mrt::store {

ReadTxn::ReadTxn(const detail::EnvCore* core) : Txn(core, nullptr), map_lock_(core->map_mutex) {
  detail::check_lmdb(mdb_txn_begin(core->env, nullptr, MDB_RDONLY, &txn_),
                     "starting a read transaction");
}

ReadTxn::ReadTxn(ReadTxn&& other) noexcept
    : Txn(other.core_, other.txn_), map_lock_(std::move(other.map_lock_)) {
  other.txn_ = nullptr;
}

ReadTxn::~ReadTxn() {
  if (txn_) mdb_txn_abort(txn_);
}

}  // namespace mrt::store
