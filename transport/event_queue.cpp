#include "event_queue.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace mrt {

EventQueue::EventQueue() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

EventQueue::~EventQueue() {
  ::close(fd_);
}

// The eventfd's counter is 1 while readable, 0 otherwise: set and cleared under mutex_, so it
// follows the queue exactly (level-triggered, as poll loops expect).
void EventQueue::signal_locked(bool readable) {
  if (readable == readable_) return;
  std::uint64_t n = 1;
  const ssize_t done = readable ? ::write(fd_, &n, sizeof n) : ::read(fd_, &n, sizeof n);
  if (done == sizeof n) readable_ = readable;
}

void EventQueue::push(NodeEvent e) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    events_.push_back(std::move(e));
    signal_locked(true);
  }
  ready_.notify_one();
}

std::optional<NodeEvent> EventQueue::pop(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, wait, [&] { return closed_ || !events_.empty(); })) return {};
  if (events_.empty()) return {};
  NodeEvent e = std::move(events_.front());
  events_.pop_front();
  signal_locked(closed_ || !events_.empty());
  return e;
}

void EventQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    signal_locked(true);
  }
  ready_.notify_all();
}

}  // namespace mrt
