// The writer thread: every queued write of a moment goes into one LMDB transaction, each in a
// nested transaction of its own so that a failing one is undone alone; one commit (one fsync
// with Durability::full) then makes the whole batch durable before any completion fires.
#include "env_impl.hpp"

namespace mrt::store {

void Env::Impl::start_writer() {
  writer = std::thread([this] { writer_loop(); });
}

void Env::Impl::enqueue(QueuedWrite write) {
  {
    std::lock_guard lock(queue_mutex);
    if (stopping) throw std::logic_error("store: write queued while the store is closing");
    queue.push_back(std::move(write));
  }
  queue_cv.notify_one();
}

void Env::Impl::writer_loop() {
  std::vector<QueuedWrite> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex);
      queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and everything queued is done
      while (!queue.empty() && batch.size() < max_batch) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void Env::Impl::grow_map() {
  std::unique_lock lock(core.map_mutex);  // waits for open readers to finish
  MDB_envinfo info;
  detail::check_lmdb(mdb_env_info(core.env, &info), "reading the map size");
  detail::check_lmdb(mdb_env_set_mapsize(core.env, info.me_mapsize * 2), "growing the map");
  ++map_resizes;
}

void Env::Impl::commit_batch(std::vector<QueuedWrite>& batch) {
  std::vector<std::exception_ptr> errors(batch.size());
  std::exception_ptr batch_error;
  for (;;) {
    std::fill(errors.begin(), errors.end(), nullptr);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(core.env, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      std::unique_lock lock(core.map_mutex);
      mdb_env_set_mapsize(core.env, 0);  // adopt the size another process set
      continue;
    }
    if (rc != MDB_SUCCESS) {
      batch_error = std::make_exception_ptr(
          Error(rc, std::string("store: starting a write transaction: ") + mdb_strerror(rc)));
      break;
    }
    bool map_full = false;
    for (std::size_t i = 0; i < batch.size() && !map_full; ++i) {
      MDB_txn* child = nullptr;
      rc = mdb_txn_begin(core.env, txn, 0, &child);
      if (rc != MDB_SUCCESS) {
        map_full = rc == MDB_MAP_FULL;
        errors[i] = std::make_exception_ptr(
            Error(rc, std::string("store: starting a nested transaction: ") + mdb_strerror(rc)));
        continue;
      }
      try {
        WriteTxn w(&core, child);
        batch[i].step(w);
        rc = mdb_txn_commit(child);
        child = nullptr;
        detail::check_lmdb(rc, "committing a step");
      } catch (const Error& e) {
        if (child) mdb_txn_abort(child);
        map_full = e.code() == MDB_MAP_FULL;
        errors[i] = std::current_exception();
      } catch (...) {
        if (child) mdb_txn_abort(child);
        errors[i] = std::current_exception();
      }
    }
    if (!map_full) {
      rc = mdb_txn_commit(txn);  // with Durability::full, returns once fsynced
      if (rc == MDB_SUCCESS) break;
      if (rc != MDB_MAP_FULL) {
        batch_error = std::make_exception_ptr(
            Error(rc, std::string("store: committing a group of writes: ") + mdb_strerror(rc)));
        break;
      }
    } else {
      mdb_txn_abort(txn);
    }
    grow_map();  // then run the whole batch again in a fresh transaction
  }
  ++group_commits;
  writes += batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].done) continue;
    try {
      batch[i].done(batch_error ? batch_error : errors[i]);
    } catch (...) {
      // A completion must not throw (env.hpp); one that does must not stop the writer.
    }
  }
}

}  // namespace mrt::store
