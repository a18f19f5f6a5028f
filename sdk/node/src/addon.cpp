// The Node.js addon's entry point, its errors and its thread-pool promises.
#include "addon.hpp"

#include <exception>
#include <memory>

#include "common/error_kinds.hpp"

namespace mrt::js {
namespace {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<Settle()> work)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      settle_ = work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(settle_ ? settle_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Settle()> work_;
  Settle settle_;
};

}  // namespace

void set_error_classes(Napi::Env env, Napi::Object classes) {
  auto* data = env.GetInstanceData<AddonData>();
  data->errors = Napi::Persistent(classes);
}

Napi::Error make_error(Napi::Env env, const char* cls, std::string_view kind,
                       const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object error;
  if (data && !data->errors.IsEmpty() && data->errors.Value().Get(cls).IsFunction()) {
    error =
        data->errors.Value().Get(cls).As<Napi::Function>().New({Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
  }
  error.Set("kind", Napi::String::New(env, std::string(kind)));
  return Napi::Error(env, error);
}

void throw_error(Napi::Env env, const char* cls, std::string_view kind,
                 const std::string& message) {
  throw make_error(env, cls, kind, message);
}

Napi::Promise run_async(Napi::Env env, std::function<Settle()> work) {
  auto* worker = new PromiseWorker(env, std::move(work));  // deleted by libuv when done
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

std::string to_string_arg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Address to_address(Napi::Env env, const Napi::Value& v) {
  const std::string text = to_string_arg(env, v, "address");
  auto a = Address::parse_checksummed(text);
  if (!a)
    throw_error(env, "AddressError", sdk::kind_of(a.error()),
                std::string(to_string(a.error())) + ": " + text);
  return *a;
}

}  // namespace mrt::js

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new mrt::js::AddonData());
  exports.Set("setErrorClasses", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "an object");
                mrt::js::set_error_classes(info.Env(), info[0].As<Napi::Object>());
              }));
  mrt::js::init_keys(env, exports);
  mrt::js::init_envelopes(env, exports);
  mrt::js::init_node(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(mrt, Init)
