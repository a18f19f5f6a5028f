// sdk/node/src/addon.hpp: what the files of the Node.js addon (mrt.node) share: the error
// classes that lib/index.js hands over at load, promises run on libuv's thread pool, and the
// conversions between mrt's values and JavaScript's.
#pragma once

#include <functional>
#include <napi.h>
#include <string>
#include <string_view>

#include <mrt/eth.hpp>

namespace mrt::js {

// Per instance of the addon (each worker thread that loads it has its own).
struct AddonData {
  Napi::ObjectReference errors;       // lib/errors.js's classes
  Napi::FunctionReference key_class;  // PrivateKey
};

// The JavaScript error classes (lib/errors.js), by name: NodeError, KeystoreError,
// InvalidKeyError, AddressError, SignatureError, EnvelopeError. Each instance gets `kind`.
void set_error_classes(Napi::Env env, Napi::Object classes);
Napi::Error make_error(Napi::Env env, const char* cls, std::string_view kind,
                       const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const char* cls, std::string_view kind,
                              const std::string& message);

// Runs `work` on the thread pool; what it returns builds the promise's value on the JavaScript
// thread (throwing a Napi::Error there rejects the promise).
using Settle = std::function<Napi::Value(Napi::Env)>;
Napi::Promise run_async(Napi::Env env, std::function<Settle()> work);

Address to_address(Napi::Env env, const Napi::Value& v);
std::string to_string_arg(Napi::Env env, const Napi::Value& v, const char* what);

void init_keys(Napi::Env env, Napi::Object exports);
void init_envelopes(Napi::Env env, Napi::Object exports);
void init_node(Napi::Env env, Napi::Object exports);
// The PrivateKey behind a JavaScript PrivateKey object (TypeError otherwise).
const PrivateKey& unwrap_key(Napi::Env env, const Napi::Value& v);

}  // namespace mrt::js
