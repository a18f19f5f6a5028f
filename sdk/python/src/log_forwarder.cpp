// sdk/python/src/log_forwarder.cpp: see log_forwarder.hpp.
#include "log_forwarder.hpp"

namespace mrt::python {

LogForwarder::LogForwarder(py::object callback)
    : callback_(std::move(callback)), thread_([this] { run(); }) {}

LogForwarder::~LogForwarder() {
  {
    py::gil_scoped_release unlocked;
    stop();
  }
  callback_ = py::object();
}

std::function<void(const LogRecord&)> LogForwarder::on_log() const {
  return [queue = queue_](const LogRecord& r) {
    {
      std::lock_guard lock(queue->mutex);
      if (queue->closed) return;
      if (queue->records.size() >= kMaxQueued) {
        ++queue->dropped;
        return;
      }
      queue->records.push_back(r);
    }
    queue->wake.notify_one();
  };
}

void LogForwarder::stop() {
  {
    std::lock_guard lock(queue_->mutex);
    queue_->closed = true;
  }
  queue_->wake.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LogForwarder::run() {
  for (;;) {
    std::deque<LogRecord> batch;
    std::uint64_t dropped = 0;
    {
      std::unique_lock lock(queue_->mutex);
      queue_->wake.wait(lock, [&] { return queue_->closed || !queue_->records.empty(); });
      if (queue_->records.empty()) return;  // closed, nothing left
      batch.swap(queue_->records);
      std::swap(dropped, queue_->dropped);
    }
    // The interpreter may be shutting down (a node never stopped): nothing can be handed over
    // then, and taking the GIL would hang this thread.
    if (_Py_IsFinalizing() != 0) continue;
    py::gil_scoped_acquire gil;
    const auto hand_over = [&](const LogRecord& r) {
      py::dict d;
      d["level"] = std::string(to_string(r.level));
      d["component"] = r.component;
      d["event"] = r.event;
      d["fields"] = py::module_::import("json").attr("loads")(r.fields.dump());
      try {
        callback_(d);
      } catch (py::error_already_set& e) {
        e.discard_as_unraisable("mrt.Node on_log");  // a logger's fault must not stop the node
      }
    };
    if (dropped > 0)
      hand_over({LogLevel::warning, "sdk", "log_records_dropped", {{"count", dropped}}});
    for (const auto& r : batch) hand_over(r);
  }
}

}  // namespace mrt::python
