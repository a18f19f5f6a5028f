#pragma once

#include <filesystem>

#include <mrt/result.hpp>
#include <mrt/store/error.hpp>

namespace mrt::store::detail {

// An exclusive flock on `dir/mrt.lock`, holding the owner's pid. LMDB itself lets several
// processes share an environment; mrt's store has one owner, so a second opener is refused
// with the first one's pid. The kernel drops the lock when its process dies, however it dies.
class DirLock {
 public:
  static Result<DirLock, OpenFailure> acquire(const std::filesystem::path& dir);
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace mrt::store::detail
