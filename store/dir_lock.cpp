#include "dir_lock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

namespace mrt::store::detail {

Result<DirLock, OpenFailure> DirLock::acquire(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "mrt.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(OpenFailure{OpenError::io, "cannot open " + path.string() + ": " +
                                               std::generic_category().message(errno)});
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return fail(OpenFailure{
          OpenError::locked,
          "store " + dir.string() + " is in use by another process" +
              (n > 0 ? " (pid " + std::string(pid, static_cast<std::size_t>(n)) + ")" : "")});
    }
    return fail(OpenFailure{OpenError::io, "cannot lock " + path.string() + ": " +
                                               std::generic_category().message(err)});
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The pid is only for the message another opener prints; the lock itself holds.
  }
  return DirLock(fd);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace mrt::store::detail
