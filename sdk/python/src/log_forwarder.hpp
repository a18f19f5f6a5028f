// sdk/python/src/log_forwarder.hpp: NodeConfig::on_log for a Python callable. The node logs on
// its own threads, sometimes holding its locks; taking the GIL there could deadlock with a
// Python thread that holds the GIL and waits for one of those locks. So records are queued
// (bounded: a burst beyond it is counted and dropped, never waited for) and one thread of the
// forwarder's own, holding no lock of the node, hands them to Python.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <mrt/node.hpp>

#include "bindings.hpp"

namespace mrt::python {

class LogForwarder {
 public:
  static constexpr std::size_t kMaxQueued = 4096;

  // `callback` gets one dict per record: level, component, event, fields. Needs the GIL.
  explicit LogForwarder(py::object callback);
  ~LogForwarder();  // needs the GIL
  LogForwarder(const LogForwarder&) = delete;
  LogForwarder& operator=(const LogForwarder&) = delete;

  // For NodeConfig::on_log: queues the record; holds no Python object, so the node may drop it
  // on any thread.
  std::function<void(const LogRecord&)> on_log() const;
  // Hands over what is queued, then ends the thread; later records are dropped. Call without
  // the GIL. Idempotent.
  void stop();

 private:
  struct Queue {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<LogRecord> records;
    std::uint64_t dropped = 0;
    bool closed = false;
  };
  void run();

  py::object callback_;
  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
  std::thread thread_;
};

}  // namespace mrt::python
