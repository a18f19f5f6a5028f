// transport/event_queue.hpp (internal): the node's events on their way to the application.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include <mrt/node.hpp>

namespace mrt {

// Events waiting for the application, and a descriptor that a poll loop (asyncio, gevent,
// libuv) watches: readable while an event waits or once the queue is closed (Node::event_fd).
class EventQueue {
 public:
  EventQueue();
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void push(NodeEvent e);
  // Waits at most `wait` (zero: not at all).
  std::optional<NodeEvent> pop(std::chrono::milliseconds wait);
  void close();
  int fd() const { return fd_; }

 private:
  void signal_locked(bool readable);  // needs mutex_

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<NodeEvent> events_;
  bool closed_ = false;
  bool readable_ = false;
  int fd_ = -1;  // an eventfd
};

}  // namespace mrt
