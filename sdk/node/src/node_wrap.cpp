// Node for JavaScript: calls that may wait (the store's fsync, the homeservers) return Promises
// settled from libuv's thread pool; events come from a thread of the addon's through a
// thread-safe function, to lib/index.js, which consumes each once its handlers settled.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <mrt/node.hpp>

#include "addon.hpp"
#include "log_sink.hpp"

namespace mrt::js {
namespace {

using std::chrono::milliseconds;

Napi::Error node_error(Napi::Env env, const NodeError& e) {
  return make_error(env, "NodeError", to_string(e.kind), e.message);
}

// A promise value from a node Result: the value built on the JavaScript thread, or the error.
template <class T, class Build>
Settle settle(Result<T, NodeError> r, Build build) {
  if (!r) {
    NodeError e = r.error();
    return [e](Napi::Env env) -> Napi::Value { throw node_error(env, e); };
  }
  auto value = std::make_shared<T>(std::move(*r));
  return [value, build](Napi::Env env) -> Napi::Value { return build(env, *value); };
}

Napi::Value strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a.Set(static_cast<std::uint32_t>(i), v[i]);
  return a;
}

std::vector<std::string> string_array(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray())
    throw Napi::TypeError::New(env, std::string(what) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < a.Length(); ++i) out.push_back(to_string_arg(env, a.Get(i), what));
  return out;
}

std::set<Address> address_set(Napi::Env env, const Napi::Value& v, const char* what) {
  std::set<Address> out;
  for (const auto& text : string_array(env, v, what))
    out.insert(to_address(env, Napi::String::New(env, text)));
  return out;
}

// null or undefined: nullopt (every sender).
std::optional<std::set<Address>> optional_addresses(Napi::Env env, const Napi::Value& v,
                                                    const char* what) {
  if (v.IsNull() || v.IsUndefined()) return std::nullopt;
  return address_set(env, v, what);
}

std::int64_t int_option(const Napi::Object& o, const char* name, std::int64_t fallback) {
  const Napi::Value v = o.Get(name);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

std::string string_option(Napi::Env env, const Napi::Object& o, const char* name) {
  const Napi::Value v = o.Get(name);
  return v.IsUndefined() ? std::string() : to_string_arg(env, v, name);
}

Napi::Value parse_json(Napi::Env env, const nlohmann::json& j) {
  Napi::Function parse =
      env.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>();
  return parse.Call({Napi::String::New(env, j.dump())});
}

// An object of str, bool, int or arrays of those, through mrt's JSON form (NodeError
// bad_config otherwise).
Capabilities to_capabilities(Napi::Env env, const Napi::Value& v) {
  Napi::Function stringify =
      env.Global().Get("JSON").As<Napi::Object>().Get("stringify").As<Napi::Function>();
  const Napi::Value text = stringify.Call({v});
  auto read = capabilities_from_json(
      text.IsString() ? nlohmann::json::parse(text.As<Napi::String>().Utf8Value(), nullptr, false)
                      : nlohmann::json());
  if (!read)
    throw_error(env, "NodeError", "bad_config",
                "capabilities: an object of strings, booleans, integers or arrays of those (" +
                    std::string(to_string(read.error())) + ")");
  return std::move(*read);
}

LogLevel to_log_level(Napi::Env env, const std::string& name) {
  if (auto level = log_level_named(name)) return *level;
  throw_error(env, "NodeError", "bad_config",
              "logLevel is debug, info, warning or error, not '" + name + "'");
}

NodeConfig make_config(Napi::Env env, const Napi::Object& o) {
  NodeConfig c;
  if (!o.Get("capabilities").IsUndefined() && !o.Get("capabilities").IsNull())
    c.capabilities = to_capabilities(env, o.Get("capabilities"));
  if (!o.Get("logLevel").IsUndefined())
    c.log_level = to_log_level(env, to_string_arg(env, o.Get("logLevel"), "logLevel"));
  c.homeserver = to_string_arg(env, o.Get("homeserver"), "homeserver");
  c.data_dir = to_string_arg(env, o.Get("dataDir"), "dataDir");
  c.server_name = string_option(env, o, "serverName");
  if (o.Get("homeservers").IsArray()) {
    Napi::Array a = o.Get("homeservers").As<Napi::Array>();
    for (std::uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject())
        throw Napi::TypeError::New(env, "homeservers: {url, serverName} objects");
      Napi::Object h = a.Get(i).As<Napi::Object>();
      c.homeservers.push_back(
          {to_string_arg(env, h.Get("url"), "url"), string_option(env, h, "serverName")});
    }
  }
  c.homes = static_cast<std::size_t>(int_option(o, "homes", 1));
  if (!o.Get("knownServers").IsUndefined())
    c.known_servers = string_array(env, o.Get("knownServers"), "knownServers");
  c.broadcast_server = string_option(env, o, "broadcastServer");
  c.broadcast_operators =
      optional_addresses(env, o.Get("broadcastOperators"), "broadcastOperators");
  const std::string carrier =
      o.Get("carrier").IsUndefined() ? "room" : to_string_arg(env, o.Get("carrier"), "carrier");
  if (carrier == "room") {
    c.carrier = Carrier::room;
  } else if (carrier == "to_device") {
    c.carrier = Carrier::to_device;
  } else {
    throw_error(env, "NodeError", "bad_config",
                "carrier is 'room' or 'to_device', not '" + carrier + "'");
  }
  c.policy.allowlist = optional_addresses(env, o.Get("allowlist"), "allowlist");
  if (o.Get("publishers").IsObject()) {
    Napi::Object p = o.Get("publishers").As<Napi::Object>();
    Napi::Array topics = p.GetPropertyNames();
    for (std::uint32_t i = 0; i < topics.Length(); ++i) {
      const std::string topic = topics.Get(i).As<Napi::String>().Utf8Value();
      c.policy.publishers[topic] = address_set(env, p.Get(topic), "publishers");
    }
  }
  c.limits.max_age_ms = int_option(o, "maxAgeMs", c.limits.max_age_ms);
  c.resend_initial = milliseconds(int_option(o, "resendInitialMs", c.resend_initial.count()));
  c.resend_max = milliseconds(int_option(o, "resendMaxMs", c.resend_max.count()));
  c.sync_timeout = milliseconds(int_option(o, "syncTimeoutMs", c.sync_timeout.count()));
  c.policy.max_outbox_per_recipient = static_cast<std::size_t>(int_option(
      o, "maxOutboxPerRecipient", static_cast<std::int64_t>(c.policy.max_outbox_per_recipient)));
  c.challenge_candidates =
      o.Get("challengeCandidates").IsBoolean() && o.Get("challengeCandidates").As<Napi::Boolean>();
  const Napi::Value durable = o.Get("durable");
  c.durability = durable.IsBoolean() && !durable.As<Napi::Boolean>().Value()
                     ? store::Durability::off
                     : store::Durability::full;
  return c;
}

Napi::Value event_object(Napi::Env env, const NodeEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", std::string(to_string(e.type)));
  o.Set("id", e.id);
  o.Set("peer", e.peer ? Napi::Value(Napi::String::New(env, e.peer->to_hex())) : env.Null());
  o.Set("body", e.body);
  o.Set("ts", Napi::Number::New(env, static_cast<double>(e.ts)));
  o.Set("carrier", e.carrier
                       ? Napi::Value(Napi::String::New(env, std::string(to_string(*e.carrier))))
                       : env.Null());
  o.Set("topic", e.topic ? Napi::Value(Napi::String::New(env, *e.topic)) : env.Null());
  o.Set("reason", e.reason ? Napi::Value(Napi::String::New(env, std::string(to_string(*e.reason))))
                           : env.Null());
  o.Set("reachability", e.reachability ? Napi::Value(Napi::String::New(
                                             env, std::string(to_string(*e.reachability))))
                                       : env.Null());
  o.Set("detail", e.detail);
  return o;
}

class NodeWrap : public Napi::ObjectWrap<NodeWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeNode",
                       {InstanceMethod<&NodeWrap::start>("start"),
                        InstanceMethod<&NodeWrap::stop>("stop"),
                        InstanceMethod<&NodeWrap::send>("send"),
                        InstanceMethod<&NodeWrap::send_many>("sendMany"),
                        InstanceMethod<&NodeWrap::cancel>("cancel"),
                        InstanceMethod<&NodeWrap::subscribe>("subscribe"),
                        InstanceMethod<&NodeWrap::broadcast>("broadcast"),
                        InstanceMethod<&NodeWrap::discover>("discover"),
                        InstanceMethod<&NodeWrap::reachability>("reachability"),
                        InstanceMethod<&NodeWrap::watch>("watch"),
                        InstanceMethod<&NodeWrap::add_user_ids>("addUserIds"),
                        InstanceMethod<&NodeWrap::add_metadata>("addMetadata"),
                        InstanceMethod<&NodeWrap::metadata>("metadata"),
                        InstanceMethod<&NodeWrap::evidence>("evidence"),
                        InstanceMethod<&NodeWrap::challenge>("challenge"),
                        InstanceMethod<&NodeWrap::capabilities_of>("capabilitiesOf"),
                        InstanceMethod<&NodeWrap::set_capabilities>("setCapabilities"),
                        InstanceMethod<&NodeWrap::set_allowlist>("setAllowlist"),
                        InstanceMethod<&NodeWrap::set_publishers>("setPublishers"),
                        InstanceMethod<&NodeWrap::consumed>("consumed"),
                        InstanceMethod<&NodeWrap::stats>("stats"),
                        InstanceMethod<&NodeWrap::pump>("pump"),
                        InstanceAccessor<&NodeWrap::address>("address"),
                        InstanceAccessor<&NodeWrap::user_id>("userId"),
                        InstanceAccessor<&NodeWrap::device_id>("deviceId")});
  }

  // new NativeNode(key, options): opens the store (NodeError bad_config, store).
  explicit NodeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NodeWrap>(info) {
    Napi::Env env = info.Env();
    const PrivateKey& key = unwrap_key(env, info[0]);
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
    const Napi::Object options = info[1].As<Napi::Object>();
    NodeConfig config = make_config(env, options);
    if (!options.Get("onLog").IsUndefined()) {
      if (!options.Get("onLog").IsFunction())
        throw Napi::TypeError::New(env, "onLog must be a function");
      log_ = std::make_shared<LogSink>(env, options.Get("onLog").As<Napi::Function>());
      config.on_log = LogSink::on_log(log_);
    }
    auto node = Node::open(std::move(config), key);
    if (!node) {
      if (log_) log_->close();
      throw node_error(env, node.error());
    }
    if (!node) throw node_error(env, node.error());
    node_ = std::make_shared<Node>(std::move(*node));
    address_ = node_->address().to_hex();
  }
  ~NodeWrap() override { end_pump(); }

 private:
  std::shared_ptr<Node> node(Napi::Env env) const {
    if (!node_)
      throw_error(env, "NodeError", to_string(NodeErrorKind::not_started),
                  "this node was stopped; create a new Node on its dataDir to start again");
    return node_;
  }

  Napi::Value start(const Napi::CallbackInfo& info) {
    auto n = node(info.Env());
    return run_async(info.Env(), [n] {
      return settle(n->start(),
                    [](Napi::Env env, const Unit&) -> Napi::Value { return env.Undefined(); });
    });
  }

  // Stops the node and the event thread, then closes the store (a new Node may open it).
  Napi::Value stop(const Napi::CallbackInfo& info) {
    std::shared_ptr<Node> n = std::move(node_);
    if (!n) return run_async(info.Env(), [] { return Settle(); });
    auto pump = std::make_shared<std::thread>(std::move(pump_));
    return run_async(info.Env(), [n, pump, log = log_] {
      n->stop();
      if (pump->joinable()) pump->join();
      if (log) log->close();  // the records of the stop included
      return Settle();
    });
  }

  void end_pump() {
    if (node_) node_->stop();
    if (pump_.joinable()) pump_.join();
    if (log_) log_->close();
  }

  Napi::Value send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address to = to_address(env, info[0]);
    std::string body = to_string_arg(env, info[1], "body");
    return run_async(env, [n, to, body = std::move(body)]() mutable {
      return settle(n->send(to, std::move(body)),
                    [](Napi::Env js, const std::string& id) -> Napi::Value {
                      return Napi::String::New(js, id);
                    });
    });
  }

  Napi::Value send_many(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address to = to_address(env, info[0]);
    std::vector<std::string> bodies = string_array(env, info[1], "bodies");
    return run_async(env, [n, to, bodies = std::move(bodies)]() mutable {
      return settle(n->send_many(to, std::move(bodies)), strings);
    });
  }

  Napi::Value cancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const std::string id = to_string_arg(env, info[0], "id");
    return run_async(env, [n, id] {
      return settle(n->cancel(id),
                    [](Napi::Env js, bool c) -> Napi::Value { return Napi::Boolean::New(js, c); });
    });
  }

  Napi::Value subscribe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const std::string topic = to_string_arg(env, info[0], "topic");
    return run_async(env, [n, topic] {
      return settle(n->subscribe(topic), [](Napi::Env js, const std::string& room) -> Napi::Value {
        return Napi::String::New(js, room);
      });
    });
  }

  Napi::Value broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const std::string topic = to_string_arg(env, info[0], "topic");
    std::string body = to_string_arg(env, info[1], "body");
    return run_async(env, [n, topic, body = std::move(body)]() mutable {
      return settle(n->broadcast(topic, std::move(body)),
                    [](Napi::Env js, const std::string& id) -> Napi::Value {
                      return Napi::String::New(js, id);
                    });
    });
  }

  Napi::Value discover(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address a = to_address(env, info[0]);
    return run_async(env, [n, a] { return settle(n->discover(a), strings); });
  }

  Napi::Value reachability(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address a = to_address(env, info[0]);
    return run_async(env, [n, a]() -> Settle {
      const std::string r(to_string(n->reachability(a)));
      return [r](Napi::Env js) -> Napi::Value { return Napi::String::New(js, r); };
    });
  }

  Napi::Value watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (auto r = node(env)->watch(to_address(env, info[0])); !r) throw node_error(env, r.error());
    return env.Undefined();
  }

  Napi::Value add_user_ids(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Address a = to_address(env, info[0]);
    if (auto r = node(env)->add_user_ids(a, string_array(env, info[1], "userIds")); !r)
      throw node_error(env, r.error());
    return env.Undefined();
  }

  // addMetadata(address, {user_id, displayname}): Raiden's address metadata.
  Napi::Value add_metadata(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Address a = to_address(env, info[0]);
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "metadata must be an object");
    const Napi::Object m = info[1].As<Napi::Object>();
    const AddressMetadata metadata{.user_id = string_option(env, m, "user_id"),
                                   .displayname = string_option(env, m, "displayname")};
    if (auto r = node(env)->add_metadata(a, metadata); !r) throw node_error(env, r.error());
    return env.Undefined();
  }

  // evidence(topic): an events room's signed envelopes (JSON text), oldest first.
  Napi::Value evidence(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto kept = node(env)->evidence(to_string_arg(env, info[0], "topic"));
    if (!kept) throw node_error(env, kept.error());
    Napi::Array out = Napi::Array::New(env, kept->size());
    for (std::size_t i = 0; i < kept->size(); ++i)
      out.Set(static_cast<std::uint32_t>(i), (*kept)[i]);
    return out;
  }

  Napi::Value metadata(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = node(env)->metadata();
    if (!m) throw node_error(env, m.error());
    return parse_json(env, to_json(*m));
  }

  Napi::Value capabilities_of(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address a = to_address(env, info[0]);
    return run_async(env, [n, a] {
      return settle(n->capabilities_of(a), [](Napi::Env js, const Capabilities& caps) {
        return parse_json(js, capabilities_to_json(caps));
      });
    });
  }

  // challenge(address, userId, waitMs): resolves once the id answered a live challenge.
  Napi::Value challenge(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    const Address a = to_address(env, info[0]);
    const std::string user_id = to_string_arg(env, info[1], "userId");
    const milliseconds wait(info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 10000);
    return run_async(env, [n, a, user_id, wait] {
      return settle(n->challenge(a, user_id, wait),
                    [](Napi::Env js, const Unit&) -> Napi::Value { return js.Undefined(); });
    });
  }

  Napi::Value set_capabilities(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    Capabilities caps = to_capabilities(env, info[0]);
    return run_async(env, [n, caps = std::move(caps)]() mutable {
      return settle(n->set_capabilities(caps),
                    [](Napi::Env js, const Unit&) -> Napi::Value { return js.Undefined(); });
    });
  }

  Napi::Value set_allowlist(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    node(env)->set_allowlist(optional_addresses(env, info[0], "allowlist"));
    return env.Undefined();
  }

  Napi::Value set_publishers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string topic = to_string_arg(env, info[0], "topic");
    if (auto r = node(env)->set_publishers(topic, optional_addresses(env, info[1], "publishers"));
        !r)
      throw node_error(env, r.error());
    return env.Undefined();
  }

  // consumed({type, id, peer}): the fields Node::consumed reads.
  Napi::Value consumed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!node_) return env.Undefined();  // stopped: reported again at the next start
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "an event");
    Napi::Object o = info[0].As<Napi::Object>();
    NodeEvent e;
    const std::string type = to_string_arg(env, o.Get("type"), "type");
    if (type == "message") {
      e.type = NodeEventType::message;
    } else if (type == "delivered") {
      e.type = NodeEventType::delivered;
    } else if (type == "failed") {
      e.type = NodeEventType::failed;
    } else {
      return env.Undefined();  // other events need no call
    }
    e.id = to_string_arg(env, o.Get("id"), "id");
    e.peer = to_address(env, o.Get("peer"));
    node_->consumed(e);
    return env.Undefined();
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    return parse_json(info.Env(), to_json(node(info.Env())->stats()));
  }

  // pump(callback): the node's events, in order, each as callback(event) on the JS thread.
  Napi::Value pump(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto n = node(env);
    if (pump_.joinable()) throw Napi::Error::New(env, "events are already pumped");
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "a callback");
    auto tsfn =
        Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "mrt events", 0, 1);
    pump_ = std::thread([n, tsfn]() mutable {
      while (auto e = n->next_event(std::chrono::hours(24))) {
        auto* event = new NodeEvent(std::move(*e));
        const napi_status status =
            tsfn.BlockingCall(event, [](Napi::Env js, Napi::Function cb, NodeEvent* ev) {
              std::unique_ptr<NodeEvent> owned(ev);
              if (js != nullptr && cb != nullptr) cb.Call({event_object(js, *owned)});
            });
        if (status != napi_ok) {
          delete event;  // the environment is going away: reported again at the next start
          break;
        }
      }
      tsfn.Release();
    });
    return env.Undefined();
  }

  Napi::Value address(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), address_);
  }
  Napi::Value user_id(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), node(info.Env())->user_id());
  }
  Napi::Value device_id(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), node(info.Env())->device_id());
  }

  std::shared_ptr<LogSink> log_;
  std::shared_ptr<Node> node_;
  std::thread pump_;
  std::string address_;
};

}  // namespace

void init_node(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeNode", NodeWrap::define(env));
}

}  // namespace mrt::js
