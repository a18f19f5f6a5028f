// sdk/node/src/log_sink.cpp: see log_sink.hpp.
#include "log_sink.hpp"

namespace mrt::js {

LogSink::LogSink(Napi::Env env, Napi::Function callback)
    : tsfn_(Napi::ThreadSafeFunction::New(env, callback, "mrt log", kMaxQueued, 1)) {
  tsfn_.Unref(env);  // a log hook alone does not keep the process running
}

std::function<void(const LogRecord&)> LogSink::on_log(std::shared_ptr<LogSink> sink) {
  return [sink = std::move(sink)](const LogRecord& r) {
    std::lock_guard lock(sink->mutex_);
    if (!sink->open_) return;
    auto* record = new LogRecord(r);
    const napi_status status =
        sink->tsfn_.NonBlockingCall(record, [](Napi::Env js, Napi::Function cb, LogRecord* rec) {
          std::unique_ptr<LogRecord> owned(rec);
          if (js == nullptr || cb == nullptr) return;
          Napi::Object o = Napi::Object::New(js);
          o.Set("level", std::string(to_string(owned->level)));
          o.Set("component", owned->component);
          o.Set("event", owned->event);
          Napi::Function parse =
              js.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>();
          o.Set("fields", parse.Call({Napi::String::New(js, owned->fields.dump())}));
          try {
            cb.Call({o});
          } catch (const Napi::Error&) {
            // lib/index.js wraps the application's function; a fault there must not stop Node.
          }
        });
    if (status != napi_ok) delete record;  // the queue is full (dropped) or closing
  };
}

void LogSink::close() {
  std::lock_guard lock(mutex_);
  if (!open_) return;
  open_ = false;
  tsfn_.Release();
}

}  // namespace mrt::js
