#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <mrt/store/env.hpp>

#include "dir_lock.hpp"
#include "env_core.hpp"

namespace mrt::store {

struct Env::Impl {
  Impl(detail::StoreKeys keys, detail::DirLock lock_, const Options& options)
      : core{nullptr, detail::Sealer(std::move(keys.seal)), {}},
        key_hash_key(std::move(keys.key_hash)),
        dir_lock(std::move(lock_)),
        dir(options.dir),
        max_batch(options.max_batch),
        before_group_commit(options.before_group_commit) {}
  ~Impl();

  struct QueuedWrite {
    std::function<void(WriteTxn&)> step;
    std::function<void(std::exception_ptr)> done;
  };

  void start_writer();
  void enqueue(QueuedWrite write);
  void writer_loop();
  void commit_batch(std::vector<QueuedWrite>& batch);
  void grow_map();

  detail::EnvCore core;
  SecretBuffer key_hash_key;
  detail::DirLock dir_lock;
  std::filesystem::path dir;
  std::size_t max_batch;
  std::function<void()> before_group_commit;
  std::map<std::string, std::pair<unsigned int, bool>> tables;

  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::deque<QueuedWrite> queue;
  bool stopping = false;
  std::thread writer;

  std::atomic<std::uint64_t> writes{0}, group_commits{0}, map_resizes{0};
};

}  // namespace mrt::store
