// sdk/node/src/log_sink.hpp: NodeConfig::on_log for a JavaScript function. The node logs on its
// own threads; each record is queued to the JavaScript thread through a thread-safe function
// that never blocks the node (a full queue drops the record) and does not keep the event loop
// alive. Closed once the node stopped: later records are dropped.
#pragma once

#include <memory>
#include <mutex>

#include <mrt/node.hpp>

#include "addon.hpp"

namespace mrt::js {

class LogSink {
 public:
  static constexpr std::size_t kMaxQueued = 4096;

  // `callback` gets one object per record: {level, component, event, fields}.
  LogSink(Napi::Env env, Napi::Function callback);
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // For NodeConfig::on_log; keeps the sink alive.
  static std::function<void(const LogRecord&)> on_log(std::shared_ptr<LogSink> sink);
  // Any thread; idempotent.
  void close();

 private:
  std::mutex mutex_;
  bool open_ = true;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace mrt::js
