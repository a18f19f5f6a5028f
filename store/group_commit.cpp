// The writer thread: every queued write of a moment goes into one LMDB transaction; one commit
// (LMDB's fsyncs, with Durability::full) then makes the whole batch durable before any
// completion fires.
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
  // Steps run straight in one transaction (nested transactions per step cost more than the
  // steps). When a step throws, the transaction is dropped and the batch runs again without
  // that step, so it is undone alone; when the map is full, it grows and the batch runs again.
  std::vector<std::exception_ptr> errors(batch.size());
  std::exception_ptr batch_error;
  if (before_group_commit) {
    try {
      before_group_commit();
    } catch (...) {
      batch_error = std::current_exception();
    }
  }
  while (!batch_error) {
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
    bool rerun = false, map_full = false;
    for (std::size_t i = 0; i < batch.size() && !rerun; ++i) {
      if (errors[i]) continue;  // failed in an earlier run of this batch
      try {
        WriteTxn w(&core, txn);
        batch[i].step(w);
      } catch (const Error& e) {
        map_full = e.code() == MDB_MAP_FULL;
        if (!map_full) errors[i] = std::current_exception();
        rerun = true;
      } catch (...) {
        errors[i] = std::current_exception();
        rerun = true;
      }
    }
    if (rerun) {
      mdb_txn_abort(txn);
      if (map_full) grow_map();
      continue;
    }
    rc = mdb_txn_commit(txn);  // with Durability::full, returns once fsynced
    if (rc == MDB_SUCCESS) break;
    if (rc != MDB_MAP_FULL) {
      batch_error = std::make_exception_ptr(
          Error(rc, std::string("store: committing a group of writes: ") + mdb_strerror(rc)));
      break;
    }
    grow_map();
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
