#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <mrt/canonical_json.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/node.hpp>

#include "http_io.hpp"
#include "matrix_client.hpp"
#include "node_tables.hpp"
#include "node_worker.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
using transport::MatrixResult;

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "http://host:port/x" -> "host".
std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find_first_of(":/", start);
  if (url.compare(start, 1, "[") == 0) end = url.find(']', start) + 1;
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

NodeError error(NodeErrorKind kind, std::string message) {
  return {kind, std::move(message)};
}

// Events waiting for the application.
class EventQueue {
 public:
  void push(NodeEvent e) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      events_.push_back(std::move(e));
    }
    ready_.notify_one();
  }
  std::optional<NodeEvent> pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, wait, [&] { return closed_ || !events_.empty(); })) return {};
    if (events_.empty()) return {};
    NodeEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<NodeEvent> events_;
  bool closed_ = false;
};

}  // namespace

std::string_view to_string(Carrier c) {
  switch (c) {
    case Carrier::room:
      return "room";
    case Carrier::to_device:
      return "to_device";
  }
  return "unknown";
}

std::string_view to_string(NodeEventType t) {
  switch (t) {
    case NodeEventType::message:
      return "message";
    case NodeEventType::delivered:
      return "delivered";
    case NodeEventType::failed:
      return "failed";
    case NodeEventType::rejected:
      return "rejected";
    case NodeEventType::reachability:
      return "reachability";
  }
  return "unknown";
}

std::string_view to_string(Reachability r) {
  switch (r) {
    case Reachability::unknown:
      return "unknown";
    case Reachability::reachable:
      return "reachable";
    case Reachability::unreachable:
      return "unreachable";
  }
  return "unknown";
}

std::string_view to_string(NodeErrorKind k) {
  switch (k) {
    case NodeErrorKind::bad_config:
      return "bad_config";
    case NodeErrorKind::store:
      return "store";
    case NodeErrorKind::login:
      return "login";
    case NodeErrorKind::not_started:
      return "not_started";
    case NodeErrorKind::too_large:
      return "too_large";
    case NodeErrorKind::stopped:
      return "stopped";
    case NodeErrorKind::bad_topic:
      return "bad_topic";
    case NodeErrorKind::network:
      return "network";
    case NodeErrorKind::outbox_full:
      return "outbox_full";
  }
  return "unknown";
}

struct Node::Impl {
  NodeConfig config;
  PrivateKey key;
  Address address;
  store::Env env;
  transport::NodeTables tables;
  transport::NodeCounters counters;
  EventQueue events;

  // Created by start(); stop() ends them in this order: worker, HTTP, dispatcher.
  std::unique_ptr<transport::HttpIo> io;
  std::unique_ptr<transport::MatrixClient> client;
  std::unique_ptr<transport::NodeWorker> worker;
  std::thread dispatcher;  // runs config.on_event

  mutable std::mutex mutex;
  bool started = false;
  bool stopped = false;
  std::string user_id;
  std::string device_id;

  Impl(NodeConfig c, PrivateKey k, store::Env e)
      : config(std::move(c)),
        key(std::move(k)),
        address(key.address()),
        env(std::move(e)),
        tables(env) {
    auto txn = env.read();
    if (auto d = tables.meta.get(txn, transport::kMetaDeviceId)) device_id = *d;
  }
  ~Impl() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
    }
    if (worker) {
      // Peers sharing a room see us go (issue 7: reachability); bounded, best effort.
      (void)set_presence("offline").wait_for(std::chrono::seconds(2));
      worker->stop();
    }
    if (io) io->shutdown();  // completes what is in flight with `cancelled` (dropped by now)
    events.close();
    if (dispatcher.joinable()) dispatcher.join();
    worker.reset();
    client.reset();
    io.reset();
  }

  void emit(NodeEvent e) { events.push(std::move(e)); }

  void consumed(const NodeEvent& e) {
    if (!e.peer) return;
    store::Changes c;
    if (e.type == NodeEventType::message) {
      c.erase(tables.inbox, store::join_key({e.peer->to_hex(), e.id}));
      counters.update([](NodeStats& s) {
        if (s.inbox > 0) --s.inbox;
      });
    } else if (e.type == NodeEventType::delivered || e.type == NodeEventType::failed) {
      c.erase(tables.outbox, e.id);  // its settled record: the outcome has been seen
    } else {
      return;
    }
    env.commit(std::move(c));
  }

  Result<Unit, NodeError> start();
  Result<Unit, NodeError> send_requests_now(E2eeMachine& machine);
  std::future<transport::MatrixResult> set_presence(const char* presence) {
    return client->call(transport::calls::request(
        "PUT", "/_matrix/client/v3/presence/" + transport::url_encode(user_id) + "/status",
        json{{"presence", presence}}));
  }
  // Hands `call` a callback for the worker's answer about the room of `topic`, and waits for it.
  Result<std::string, NodeError> room_call(
      const std::string& topic,
      const std::function<void(transport::NodeWorker&, transport::NodeWorker::RoomCallback)>& call);
  void delete_stale_devices(const MatrixIdentity& identity);
};

// PROTOCOL §3: a node that had to start a new device deletes its older ones, so that room keys
// stop going to them. User-interactive auth with the Ethereum login; best effort (a failure
// leaves devices that peers still encrypt to, which costs them, not us).
void Node::Impl::delete_stale_devices(const MatrixIdentity& identity) {
  using transport::calls::request;
  auto list = client->call(request("GET", "/_matrix/client/v3/devices", json::object())).get();
  if (!list || !list->contains("devices") || !(*list)["devices"].is_array()) return;
  for (const auto& d : (*list)["devices"]) {
    const std::string id = d.is_object() ? d.value("device_id", "") : "";
    if (id.empty() || id == device_id) continue;
    const std::string path = "/_matrix/client/v3/devices/" + transport::url_encode(id);
    auto first = client->call(request("DELETE", path, json::object())).get();
    if (first || first.error().http_status != 401) continue;
    json auth = {{"type", "m.login.password"},
                 {"identifier", {{"type", "m.id.user"}, {"user", address.to_hex()}}},
                 {"password", identity.password.to_hex()}};
    if (!first.error().uia_session.empty()) auth["session"] = first.error().uia_session;
    (void)client->call(request("DELETE", path, json{{"auth", auth}})).get();
  }
}

Result<Unit, NodeError> Node::Impl::send_requests_now(E2eeMachine& machine) {
  // keys/upload before start() returns, so that peers can reach the device at once.
  for (int round = 0; round < 4; ++round) {
    auto requests = machine.outgoing_requests();
    if (requests.empty()) return Unit{};
    for (const auto& r : requests) {
      auto answer = client->call(transport::calls::request(r.method, r.path, r.body)).get();
      if (!answer)
        return fail(error(NodeErrorKind::login,
                          "homeserver refused " + r.path + ": " + describe(answer.error())));
      machine.mark_request_as_sent(r.id, *answer);
    }
  }
  return Unit{};
}

Result<Unit, NodeError> Node::Impl::start() {
  io = std::make_unique<transport::HttpIo>();
  client = std::make_unique<transport::MatrixClient>(
      *io, transport::MatrixClientOptions{.base_url = config.homeserver});

  std::optional<std::string> known_device;
  if (!device_id.empty()) known_device = device_id;
  auto login = client->login_ethereum(key, config.server_name, known_device).get();
  if (!login)
    return fail(
        error(NodeErrorKind::login, "login at " + config.homeserver + " as " + address.to_hex() +
                                        " (password signed for server name \"" +
                                        config.server_name + "\"): " + describe(login.error())));
  const bool new_device = device_id != login->device_id;
  if (new_device) {
    // Kept first, so that a crash from here on still comes back as this device.
    store::Changes c;
    c.put(tables.meta, transport::kMetaDeviceId, login->device_id);
    env.commit(std::move(c)).get();
  }
  {
    std::lock_guard lock(mutex);
    user_id = login->user_id;
    device_id = login->device_id;
  }
  const MatrixIdentity identity = matrix_identity(key, config.server_name);
  if (new_device) delete_stale_devices(identity);

  auto machine =
      E2eeMachine::open(env, key, login->user_id, login->device_id, {.now_ms = config.now_ms});
  if (!machine)
    return fail(error(NodeErrorKind::store, "E2EE account in " + config.data_dir.string() + ": " +
                                                std::string(to_string(machine.error()))));
  if (auto sent = send_requests_now(*machine); !sent) return fail(sent.error());

  // The displayname proves the user id to anyone (PROTOCOL §2).
  auto named =
      client
          ->call(transport::calls::request(
              "PUT",
              "/_matrix/client/v3/profile/" + transport::url_encode(user_id) + "/displayname",
              json{{"displayname", identity.displayname.to_hex()}}))
          .get();
  if (!named)
    return fail(error(NodeErrorKind::login, "setting the displayname: " + describe(named.error())));
  (void)set_presence("online").get();  // best effort: reachability is a hint, not a promise

  std::string since;
  std::vector<NodeEvent> unconsumed;
  {
    auto txn = env.read();
    if (auto s = tables.meta.get(txn, transport::kMetaNextBatch)) since = *s;
    tables.inbox.for_each(txn, {}, [&](const std::string&, json record) {
      auto e = parse_envelope(record.value("envelope", json::object()));
      if (!e) return true;
      NodeEvent m;
      m.type = NodeEventType::message;
      m.id = e->nonce;
      m.peer = e->sender;
      m.body = e->body;
      m.ts = e->ts;
      if (record.contains("topic")) {
        m.topic = record.value("topic", "");
      } else {
        m.carrier = record.value("carrier", "") == "room" ? Carrier::room : Carrier::to_device;
      }
      unconsumed.push_back(std::move(m));
      return true;
    });
    counters.update([&](NodeStats& s) { s.inbox = unconsumed.size(); });
  }

  if (config.on_event) {
    dispatcher = std::thread([this] {
      while (auto e = events.pop(std::chrono::hours(24))) {
        config.on_event(*e);
        consumed(*e);
      }
    });
  }
  for (auto& m : unconsumed) emit(std::move(m));

  transport::NodeWorkerContext context{config,
                                       key,
                                       env,
                                       tables,
                                       *client,
                                       counters,
                                       [this](NodeEvent e) { emit(std::move(e)); },
                                       config.now_ms};
  worker = std::make_unique<transport::NodeWorker>(std::move(context), std::move(*machine),
                                                   std::move(since));
  worker->start();
  return Unit{};
}

Result<Node, NodeError> Node::open(NodeConfig config, const PrivateKey& key) {
  if (config.homeserver.empty()) return fail(error(NodeErrorKind::bad_config, "no homeserver URL"));
  if (config.homeserver.rfind("http://", 0) != 0 && config.homeserver.rfind("https://", 0) != 0)
    return fail(error(NodeErrorKind::bad_config,
                      "homeserver URL must start with http:// or https://: " + config.homeserver));
  while (!config.homeserver.empty() && config.homeserver.back() == '/')
    config.homeserver.pop_back();
  if (config.server_name.empty()) config.server_name = host_of(config.homeserver);
  if (config.server_name.empty())
    return fail(error(NodeErrorKind::bad_config, "no server name in " + config.homeserver));
  if (config.data_dir.empty()) return fail(error(NodeErrorKind::bad_config, "no data directory"));
  if (config.limits.max_bytes > kMaxEnvelopeBytes || config.limits.max_age_ms <= 0)
    return fail(error(NodeErrorKind::bad_config,
                      "limits: max_bytes above 32768 or max_age_ms not positive"));
  if (!(config.policy.rate_per_second > 0) || !(config.policy.burst >= 1))
    return fail(error(NodeErrorKind::bad_config,
                      "policy: rate_per_second must be positive and burst at least 1"));
  if (config.policy.max_outbox_per_recipient == 0)
    return fail(error(NodeErrorKind::bad_config, "policy: max_outbox_per_recipient is 0"));
  if (config.resend_initial.count() <= 0 || config.resend_max < config.resend_initial)
    return fail(error(NodeErrorKind::bad_config, "resend_initial must be positive, <= resend_max"));
  if (!config.now_ms) config.now_ms = system_now_ms;

  auto env = store::Env::open({.dir = config.data_dir,
                               .tables = transport::NodeTables::specs(),
                               .durability = config.durability},
                              key);
  if (!env)
    return fail(error(NodeErrorKind::store,
                      "store in " + config.data_dir.string() + ": " + env.error().message));
  return Node(std::make_unique<Impl>(std::move(config), key.clone(), std::move(*env)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::Node(Node&&) noexcept = default;
Node& Node::operator=(Node&&) noexcept = default;
Node::~Node() = default;

Result<Unit, NodeError> Node::start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return fail(error(NodeErrorKind::stopped, "the node was stopped"));
    if (impl_->started) return Unit{};
  }
  auto r = impl_->start();
  if (!r) {
    impl_->stop();
    return r;
  }
  std::lock_guard lock(impl_->mutex);
  impl_->started = true;
  return r;
}

Result<std::string, NodeError> Node::send(const Address& to, std::string body) {
  std::vector<std::string> bodies;
  bodies.push_back(std::move(body));
  auto ids = send_many(to, std::move(bodies));
  if (!ids) return fail(ids.error());
  return std::move(ids->front());
}

Result<std::vector<std::string>, NodeError> Node::send_many(const Address& to,
                                                            std::vector<std::string> bodies) {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started || impl_->stopped)
      return fail(error(NodeErrorKind::not_started, "send before start() or after stop()"));
  }
  Impl& n = *impl_;
  // Reserved first, so that a refusal costs no signature; given back unless the messages become
  // durable (the worker then gives each back as it settles).
  const std::size_t cap = n.config.policy.max_outbox_per_recipient;
  if (!n.counters.reserve_outbox(to, bodies.size(), cap))
    return fail(error(NodeErrorKind::outbox_full,
                      "recipient " + to.to_hex() + " has messages waiting for its ack; " +
                          std::to_string(bodies.size()) + " more would exceed " +
                          std::to_string(cap) + " (Policy::max_outbox_per_recipient)"));
  struct Reservation {
    transport::NodeCounters& counters;
    const Address& to;
    std::size_t count;
    bool kept = false;
    ~Reservation() {
      if (!kept) counters.release_outbox(to, count);
    }
  } reservation{n.counters, to, bodies.size()};
  store::Changes changes;
  std::vector<transport::OutboxEntry> entries;
  std::vector<std::string> ids;
  const std::int64_t now = n.config.now_ms();
  for (auto& body : bodies) {
    Envelope e = Envelope::message(n.key, to, std::move(body), now);
    json wire = e.to_json();
    auto text = canonical_json(wire);
    if (!text) return fail(error(NodeErrorKind::too_large, "body has no canonical JSON form"));
    if (text->size() > n.config.limits.max_bytes)
      return fail(error(NodeErrorKind::too_large, "envelope of " + std::to_string(text->size()) +
                                                      " bytes exceeds " +
                                                      std::to_string(n.config.limits.max_bytes)));
    changes.put(n.tables.outbox, e.nonce, json{{"envelope", wire}, {"to", to.to_hex()}});
    ids.push_back(e.nonce);
    entries.push_back({std::move(wire), e.nonce, to, e.ts});
  }
  n.env.commit(std::move(changes)).get();  // durable: from here on it is delivered or failed
  reservation.kept = true;
  n.counters.update([&](NodeStats& s) {
    s.sent += entries.size();
    s.outbox += entries.size();
  });
  std::lock_guard lock(n.mutex);
  if (n.stopped || !n.worker)
    return fail(error(NodeErrorKind::stopped, "stopped; the message stays in the outbox"));
  n.worker->add_to_outbox(std::move(entries));
  return ids;
}

namespace {

// How long subscribe() and broadcast() wait for the homeserver (the client retries inside).
constexpr auto kRoomCallPatience = std::chrono::seconds(60);

}  // namespace

Result<std::string, NodeError> Node::Impl::room_call(
    const std::string& topic,
    const std::function<void(transport::NodeWorker&, transport::NodeWorker::RoomCallback)>& call) {
  if (!is_topic(topic))
    return fail(error(NodeErrorKind::bad_topic, "not a topic (^[a-z0-9_]{1,200}$): " + topic));
  auto promise = std::make_shared<std::promise<Result<std::string, transport::MatrixError>>>();
  auto answer = promise->get_future();
  {
    std::lock_guard lock(mutex);
    if (!started || stopped || !worker)
      return fail(error(NodeErrorKind::not_started, "before start() or after stop()"));
    call(*worker, [promise](Result<std::string, transport::MatrixError> r) {
      promise->set_value(std::move(r));
    });
  }
  if (answer.wait_for(kRoomCallPatience) != std::future_status::ready)
    return fail(error(NodeErrorKind::network, "no answer about the room of " + topic));
  auto r = answer.get();
  if (!r)
    return fail(error(NodeErrorKind::network, "room of " + topic + ": " + describe(r.error())));
  return std::move(*r);
}

Result<std::string, NodeError> Node::subscribe(const std::string& topic) {
  return impl_->room_call(
      topic, [&](transport::NodeWorker& w, auto done) { w.subscribe(topic, std::move(done)); });
}

Result<std::string, NodeError> Node::broadcast(const std::string& topic, std::string body) {
  if (!is_topic(topic))
    return fail(error(NodeErrorKind::bad_topic, "not a topic (^[a-z0-9_]{1,200}$): " + topic));
  const Envelope e =
      Envelope::broadcast(impl_->key, topic, std::move(body), impl_->config.now_ms());
  json wire = e.to_json();
  auto text = canonical_json(wire);
  if (!text || text->size() > impl_->config.limits.max_bytes)
    return fail(error(NodeErrorKind::too_large, "the broadcast envelope exceeds " +
                                                    std::to_string(impl_->config.limits.max_bytes) +
                                                    " bytes"));
  auto sent = impl_->room_call(topic, [&](transport::NodeWorker& w, auto done) {
    w.broadcast(topic, std::move(wire), std::move(done));
  });
  if (!sent) return fail(sent.error());
  impl_->counters.update([](NodeStats& s) { ++s.sent; });
  return e.nonce;
}

Reachability Node::reachability(const Address& address) {
  auto promise = std::make_shared<std::promise<Reachability>>();
  auto answer = promise->get_future();
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started || impl_->stopped || !impl_->worker) return Reachability::unknown;
    impl_->worker->reachability(address, [promise](Reachability r) { promise->set_value(r); });
  }
  if (answer.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    return Reachability::unknown;
  return answer.get();
}

Result<std::vector<std::string>, NodeError> Node::discover(const Address& address) {
  auto promise =
      std::make_shared<std::promise<Result<std::vector<std::string>, transport::MatrixError>>>();
  auto answer = promise->get_future();
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started || impl_->stopped || !impl_->worker)
      return fail(error(NodeErrorKind::not_started, "before start() or after stop()"));
    impl_->worker->discover(address, [promise](auto r) { promise->set_value(std::move(r)); });
  }
  if (answer.wait_for(kRoomCallPatience) != std::future_status::ready)
    return fail(error(NodeErrorKind::network, "no answer from the user directory"));
  auto r = answer.get();
  if (!r) return fail(error(NodeErrorKind::network, "user directory: " + describe(r.error())));
  return std::move(*r);
}

std::optional<NodeEvent> Node::next_event(std::chrono::milliseconds wait) {
  if (impl_->config.on_event) return std::nullopt;  // the dispatcher owns the queue
  return impl_->events.pop(wait);
}

void Node::consumed(const NodeEvent& event) {
  impl_->consumed(event);
}

NodeStats Node::stats() const {
  NodeStats s = impl_->counters.snapshot();
  std::lock_guard lock(impl_->mutex);
  if (impl_->client) {
    auto c = impl_->client->stats();
    s.http_retries = c.rate_limited_waits + c.backoff_retries;
  }
  return s;
}

const Address& Node::address() const {
  return impl_->address;
}

std::string Node::user_id() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->user_id;
}

std::string Node::device_id() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->device_id;
}

void Node::stop() {
  if (impl_) impl_->stop();
}

}  // namespace mrt
