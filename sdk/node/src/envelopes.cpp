// Envelopes (PROTOCOL §4) checked and made outside a node, and the conformance vectors (§7).
#include <chrono>

#include <mrt/broadcast_event_rule.hpp>
#include <mrt/envelope.hpp>

#include "addon.hpp"
#include "vector_runner.hpp"

namespace mrt::js {
namespace {

using json = nlohmann::json;

std::int64_t now_ms(const Napi::Object& options) {
  if (options.Has("nowMs") && options.Get("nowMs").IsNumber())
    return options.Get("nowMs").As<Napi::Number>().Int64Value();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Napi::Object options_arg(const Napi::CallbackInfo& info, std::size_t i) {
  return info.Length() > i && info[i].IsObject() ? info[i].As<Napi::Object>()
                                                 : Napi::Object::New(info.Env());
}

Napi::Object to_object(Napi::Env env, const Envelope& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", e.kind == EnvelopeKind::message ? "message" : "ack");
  o.Set("sender", e.sender.to_hex());
  o.Set("recipient",
        e.recipient ? Napi::Value(Napi::String::New(env, e.recipient->to_hex())) : env.Null());
  o.Set("topic", e.topic ? Napi::Value(Napi::String::New(env, *e.topic)) : env.Null());
  o.Set("nonce", e.nonce);
  o.Set("ts", Napi::Number::New(env, static_cast<double>(e.ts)));
  o.Set("body", e.body);
  Napi::Array acks = Napi::Array::New(env, e.acks.size());
  for (std::size_t i = 0; i < e.acks.size(); ++i)
    acks.Set(static_cast<std::uint32_t>(i), e.acks[i]);
  o.Set("acks", acks);
  o.Set("sig", e.sig.to_hex());
  return o;
}

// validateEnvelope(text, {receiver | topic, nowMs, maxBytes, maxAgeMs}) -> object
Napi::Value validate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string text = to_string_arg(env, info[0], "envelope");
  const Napi::Object o = options_arg(info, 1);
  const bool unicast = o.Has("receiver") && !o.Get("receiver").IsUndefined();
  const bool broadcast = o.Has("topic") && !o.Get("topic").IsUndefined();
  if (unicast == broadcast)
    throw Napi::TypeError::New(env, "give exactly one of receiver (unicast) and topic (broadcast)");
  Arrival arrival;
  if (unicast) arrival.receiver = to_address(env, o.Get("receiver"));
  if (broadcast) arrival.room_topic = to_string_arg(env, o.Get("topic"), "topic");
  EnvelopeLimits limits;
  if (o.Get("maxBytes").IsNumber())
    limits.max_bytes = static_cast<std::size_t>(o.Get("maxBytes").As<Napi::Number>().Int64Value());
  if (o.Get("maxAgeMs").IsNumber())
    limits.max_age_ms = o.Get("maxAgeMs").As<Napi::Number>().Int64Value();
  const json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) throw_error(env, "EnvelopeError", "malformed", "not JSON");
  auto e = validate_envelope(parsed, arrival, now_ms(o), limits);
  if (!e)
    throw_error(env, "EnvelopeError", to_string(e.error()),
                "envelope refused by PROTOCOL §4: " + std::string(to_string(e.error())));
  return to_object(env, *e);
}

// refuseBroadcastEvent(content, topic, sender) -> null | {error, index, reason, message}
Napi::Value refuse_broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const json parsed = json::parse(to_string_arg(env, info[0], "content"), nullptr, false);
  auto refused = refuse_broadcast_event(parsed.is_discarded() ? json() : parsed,
                                        to_string_arg(env, info[1], "topic"),
                                        to_string_arg(env, info[2], "sender"));
  if (!refused) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("error", std::string(to_string(refused->error)));
  o.Set("index", Napi::Number::New(env, static_cast<double>(refused->index)));
  o.Set("reason", refused->reason ? Napi::Value(Napi::String::New(
                                        env, std::string(to_string(*refused->reason))))
                                  : env.Null());
  o.Set("message", refused->message());
  return o;
}

}  // namespace

void init_envelopes(Napi::Env module_env, Napi::Object exports) {
  exports.Set("validateEnvelope", Napi::Function::New(module_env, validate));
  exports.Set("refuseBroadcastEvent", Napi::Function::New(module_env, refuse_broadcast));
  exports.Set("messageEnvelope",
              Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                const PrivateKey& key = unwrap_key(env, info[0]);
                const Address to = to_address(env, info[1]);
                return Napi::String::New(
                    env, Envelope::message(key, to, to_string_arg(env, info[2], "body"),
                                           now_ms(options_arg(info, 3)))
                             .to_json()
                             .dump());
              }));
  exports.Set("broadcastEnvelope",
              Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                const PrivateKey& key = unwrap_key(env, info[0]);
                const std::string topic = to_string_arg(env, info[1], "topic");
                if (!is_topic(topic))
                  throw_error(env, "NodeError", "bad_topic", "not a topic: " + topic);
                return Napi::String::New(
                    env, Envelope::broadcast(key, topic, to_string_arg(env, info[2], "body"),
                                             now_ms(options_arg(info, 3)))
                             .to_json()
                             .dump());
              }));
  exports.Set("runVectors", Napi::Function::New(module_env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                const cli::VectorReport r =
                    cli::run_vector_file(to_string_arg(env, info[0], "path"));
                Napi::Object o = Napi::Object::New(env);
                o.Set("kind", r.kind);
                o.Set("passed", r.passed);
                o.Set("failed", r.failed);
                Napi::Array failures = Napi::Array::New(env, r.failures.size());
                for (std::size_t i = 0; i < r.failures.size(); ++i)
                  failures.Set(static_cast<std::uint32_t>(i), r.failures[i]);
                o.Set("failures", failures);
                o.Set("fileError", r.file_error ? Napi::Value(Napi::String::New(env, *r.file_error))
                                                : env.Null());
                return o;
              }));
}

}  // namespace mrt::js
