// PrivateKey, sign and recover for JavaScript (PROTOCOL §1); keystores decrypt off the main
// thread (scrypt takes seconds with the standard parameters).
#include <memory>

#include <sodium.h>

#include <mrt/keystore.hpp>

#include "addon.hpp"
#include "common/error_kinds.hpp"

namespace mrt::js {
namespace {

class KeyWrap : public Napi::ObjectWrap<KeyWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "PrivateKey",
                       {InstanceAccessor<&KeyWrap::address>("address"),
                        InstanceAccessor<&KeyWrap::checksum_address>("checksumAddress"),
                        InstanceMethod<&KeyWrap::to_keystore>("toKeystore"),
                        InstanceMethod<&KeyWrap::inspect>("toString")});
  }
  explicit KeyWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KeyWrap>(info) {}
  const PrivateKey& key() const {
    if (!key_)
      throw Napi::TypeError::New(Env(), "use PrivateKey.generate, fromHex or fromKeystore");
    return *key_;
  }
  void set(PrivateKey key) { key_ = std::make_unique<PrivateKey>(std::move(key)); }

 private:
  Napi::Value address(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), key().address().to_hex());
  }
  Napi::Value checksum_address(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), key().address().to_checksummed());
  }
  Napi::Value inspect(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(),
                             "PrivateKey(" + key().address().to_hex() + ", <redacted>)");
  }
  // toKeystore(path, password, {light}) -> Promise<void>
  Napi::Value to_keystore(const Napi::CallbackInfo& info);

  std::unique_ptr<PrivateKey> key_;
};

Napi::FunctionReference& key_constructor(Napi::Env env) {
  return env.GetInstanceData<AddonData>()->key_class;
}

Napi::Object new_key_object(Napi::Env env, PrivateKey key) {
  Napi::Object o = key_constructor(env).New({});
  KeyWrap::Unwrap(o)->set(std::move(key));
  return o;
}

// A password as bytes, wiped after use (JavaScript's own string cannot be).
class Password {
 public:
  Password(Napi::Env env, const Napi::Value& v) {
    if (v.IsBuffer()) {
      auto b = v.As<Napi::Buffer<std::uint8_t>>();
      bytes_.assign(b.Data(), b.Data() + b.Length());
    } else if (v.IsString()) {
      std::string s = v.As<Napi::String>().Utf8Value();
      bytes_.assign(s.begin(), s.end());
      sodium_memzero(s.data(), s.size());
    } else {
      throw Napi::TypeError::New(env, "password must be a string or a Buffer");
    }
  }
  ~Password() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
  }
  Password(const Password&) = delete;
  Password& operator=(const Password&) = delete;
  ByteView view() const { return {bytes_.data(), bytes_.size()}; }

 private:
  std::vector<std::uint8_t> bytes_;
};

Napi::Value KeyWrap::to_keystore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = to_string_arg(env, info[0], "path");
  auto password = std::make_shared<Password>(env, info[1]);
  const bool light = info[2].IsObject() && info[2].As<Napi::Object>().Get("light").ToBoolean();
  auto key = std::make_shared<PrivateKey>(this->key().clone());
  return run_async(env, [path, password, light, key]() -> Settle {
    const auto doc = encrypt_keystore(*key, password->view(),
                                      light ? ScryptParams::light() : ScryptParams::standard());
    auto written = write_keystore_file(path, doc);
    if (!written) {
      auto f = written.error();
      return [f](Napi::Env js) -> Napi::Value {
        throw make_error(js, "KeystoreError", sdk::kind_of(f.code), f.message);
      };
    }
    return nullptr;
  });
}

ByteView data_arg(Napi::Env env, const Napi::Value& v, std::string& holder) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<std::uint8_t>>();
    return {b.Data(), b.Length()};
  }
  if (v.IsString()) {
    holder = v.As<Napi::String>().Utf8Value();
    return as_bytes(holder);
  }
  throw Napi::TypeError::New(env, "data must be a string (UTF-8) or a Buffer");
}

}  // namespace

const PrivateKey& unwrap_key(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(key_constructor(env).Value()))
    throw Napi::TypeError::New(env, "key must be an mrt PrivateKey");
  return KeyWrap::Unwrap(v.As<Napi::Object>())->key();
}

void init_keys(Napi::Env module_env, Napi::Object exports) {
  Napi::Function cls = KeyWrap::define(module_env);
  key_constructor(module_env) = Napi::Persistent(cls);
  cls.Set("generate", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
            return new_key_object(info.Env(), PrivateKey::generate());
          }));
  cls.Set("fromHex", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
            Napi::Env env = info.Env();
            auto k = PrivateKey::from_hex(to_string_arg(env, info[0], "hex"));
            if (!k)
              throw_error(env, "InvalidKeyError", sdk::kind_of(k.error()),
                          std::string(to_string(k.error())));
            return new_key_object(env, std::move(*k));
          }));
  // fromKeystore(path, password) -> Promise<PrivateKey>
  cls.Set("fromKeystore", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
            Napi::Env env = info.Env();
            const std::string path = to_string_arg(env, info[0], "path");
            auto password = std::make_shared<Password>(env, info[1]);
            return run_async(env, [path, password]() -> Settle {
              auto doc = read_keystore_file(path);
              auto key = doc ? decrypt_keystore(*doc, password->view())
                             : Result<PrivateKey, KeystoreFailure>(fail(doc.error()));
              if (!key) {
                auto f = key.error();
                return [f](Napi::Env js) -> Napi::Value {
                  throw make_error(js, "KeystoreError", sdk::kind_of(f.code), f.message);
                };
              }
              auto shared = std::make_shared<PrivateKey>(std::move(*key));
              return [shared](Napi::Env js) -> Napi::Value {
                return new_key_object(js, shared->clone());
              };
            });
          }));
  exports.Set("PrivateKey", cls);

  exports.Set("sign", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                const PrivateKey& key = unwrap_key(env, info[0]);
                std::string holder;
                return Napi::String::New(
                    env, personal_sign(key, data_arg(env, info[1], holder)).to_hex());
              }));
  exports.Set("recover", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                std::string holder;
                const ByteView data = data_arg(env, info[0], holder);
                auto a = ecrecover(data, to_string_arg(env, info[1], "signature"));
                if (!a)
                  throw_error(env, "SignatureError", sdk::kind_of(a.error()),
                              std::string(to_string(a.error())));
                return Napi::String::New(env, a->to_hex());
              }));
}

}  // namespace mrt::js
