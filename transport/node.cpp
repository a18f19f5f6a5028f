#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <mrt/canonical_json.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/node.hpp>
#include <mrt/owner_store_key.hpp>
#include <mrt/topics.hpp>

#include "node_impl.hpp"

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

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

std::optional<LogLevel> log_level_named(std::string_view name) {
  for (auto l : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error})
    if (to_string(l) == name) return l;
  return std::nullopt;
}

void Node::Impl::log(LogLevel level, const char* component, const char* event, json fields) {
  if (!config.on_log || level < config.log_level) return;
  LogRecord record{level, component, event, std::move(fields)};
  std::lock_guard lock(log_mutex);
  try {
    config.on_log(record);
  } catch (...) {
    // A log that fails must not take the node with it.
  }
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
    case NodeEventType::squatted:
      return "squatted";
    case NodeEventType::store_failed:
      return "store_failed";
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
    case NodeErrorKind::squatted:
      return "squatted";
    case NodeErrorKind::bad_user_id:
      return "bad_user_id";
    case NodeErrorKind::challenge_failed:
      return "challenge_failed";
  }
  return "unknown";
}

json to_json(const NodeStats& s) {
  json rejected = json::object();
  for (int r = static_cast<int>(RejectReason::malformed);
       r <= static_cast<int>(RejectReason::not_allowed); ++r) {
    rejected[std::string(to_string(static_cast<RejectReason>(r)))] = 0;
  }
  for (const auto& [reason, count] : s.rejected) rejected[std::string(to_string(reason))] = count;
  json to_device = json::object(), room = json::object();
  for (const auto& [reason, count] : s.undecryptable_to_device)
    to_device[std::string(to_string(reason))] = count;
  for (const auto& [reason, count] : s.undecryptable_room)
    room[std::string(to_string(reason))] = count;
  return {{"sent", s.sent},
          {"transmitted", s.transmitted},
          {"resent", s.resent},
          {"payloads", s.payloads},
          {"delivered", s.delivered},
          {"failed", s.failed},
          {"received", s.received},
          {"acks_sent", s.acks_sent},
          {"rejected", rejected},
          {"undecryptable", s.undecryptable},
          {"undecryptable_by_reason", {{"to_device", to_device}, {"room", room}}},
          {"olm_sessions_throttled", s.olm_sessions_throttled},
          {"envelopes_gated", s.envelopes_gated},
          {"dm_rooms_over_limit", s.dm_rooms_over_limit},
          {"invites_refused", s.invites_refused},
          {"invites_over_limit", s.invites_over_limit},
          {"outbox", s.outbox},
          {"inbox", s.inbox},
          {"syncs", s.syncs},
          {"relogins", s.relogins},
          {"failovers", s.failovers},
          {"peers", s.peers},
          {"id_lookups", s.id_lookups},
          {"id_lookups_failed", s.id_lookups_failed},
          {"ids_refused", s.ids_refused},
          {"squatted", s.squatted},
          {"store_errors", s.store_errors},
          {"step_failures", s.step_failures},
          {"store_commits", s.store_commits},
          {"store_transactions", s.store_transactions},
          {"http_retries", s.http_retries},
          {"oversized_to_device_dropped", s.oversized_to_device_dropped}};
}

Node::Impl::Impl(NodeConfig c, std::optional<NodeRunner> r, PrivateKey k, store::Env e)
    : config(std::move(c)),
      runner(std::move(r)),
      key(std::move(k)),
      address(key.address()),
      env(std::move(e)),
      tables(env) {
  device_id = tables.meta.get(env.read(), transport::kMetaDeviceId).value_or("");
  if (config.capabilities) capabilities_url = mrt::capabilities_url(*config.capabilities).value();
}

void Node::Impl::stop() {
  std::vector<Home*> all;
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    stopped = true;
    for (auto& h : homes) all.push_back(h.get());
  }
  monitor_wake.notify_all();
  // Peers sharing a room see us go (reachability); bounded, best effort, all homes at once.
  // (A runner's workers start no /sync unless it runs them.)
  if (!runner)
    for (Home* h : all) h->worker->stop_syncing();
  std::vector<std::future<transport::MatrixResult>> offline;
  offline.reserve(all.size());
  for (Home* h : all) offline.push_back(set_presence(*h, "offline"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (auto& f : offline) (void)f.wait_until(deadline);
  for (Home* h : all) h->worker->stop();
  if (io) io->shutdown();  // completes what is in flight with `cancelled` (dropped by now)
  if (monitor.joinable()) monitor.join();
  for (auto& h : retired) h->worker->stop();  // a home the monitor started while we stopped
  events.close();
  if (dispatcher.joinable()) dispatcher.join();
  homes.clear();
  retired.clear();
  home_set.reset();
  io.reset();
}

void Node::Impl::halt() {
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    stopped = true;
  }
  for (auto* list : {&homes, &retired})
    for (auto& h : *list) h->worker->stop();
  events.close();
  homes.clear();
  retired.clear();
  home_set.reset();
}

void Node::Impl::consumed(const NodeEvent& e) {
  if (!e.peer) return;
  store::Changes c;
  if (e.type == NodeEventType::message) {
    c.erase(tables.inbox, store::join_key({e.peer->to_hex(), e.id}));
    counters.update([](NodeStats& s) {
      if (s.inbox > 0) --s.inbox;
    });
  } else if (e.type == NodeEventType::delivered || e.type == NodeEventType::failed) {
    c.erase(tables.outbox, e.id);  // its settled record: the outcome has been seen
    if (home_set) home_set->consumed(e.id);
  } else {
    return;
  }
  env.commit(std::move(c));
}

namespace {

// The homeservers of `config`, `homeserver` first, each with its URL trimmed and its
// server_name; or what is wrong with them.
Result<std::vector<Homeserver>, NodeError> all_homeservers(const NodeConfig& config) {
  std::vector<Homeserver> all;
  if (!config.homeserver.empty()) all.push_back({config.homeserver, config.server_name});
  all.insert(all.end(), config.homeservers.begin(), config.homeservers.end());
  if (all.empty()) return fail(node_error(NodeErrorKind::bad_config, "no homeserver URL"));
  std::set<std::string> names;
  for (auto& h : all) {
    if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0)
      return fail(node_error(NodeErrorKind::bad_config,
                             "homeserver URL must start with http:// or https://: " + h.url));
    while (!h.url.empty() && h.url.back() == '/') h.url.pop_back();
    if (h.server_name.empty()) h.server_name = host_of(h.url);
    if (h.server_name.empty())
      return fail(node_error(NodeErrorKind::bad_config, "no server name in " + h.url));
    // The server name is the account's (and the store's) name for a homeserver.
    if (!names.insert(h.server_name).second)
      return fail(node_error(NodeErrorKind::bad_config,
                             "two homeservers named " + h.server_name + "; give each its own"));
  }
  return all;
}

// PROTOCOL §8: the known servers as given (else the homeservers'), the node's own homeservers
// added when missing; and the broadcast server (else the first known server).
Result<Unit, NodeError> settle_federation(NodeConfig& config) {
  std::vector<std::string> known = config.known_servers;
  for (const auto& h : config.homeservers)
    if (std::find(known.begin(), known.end(), h.server_name) == known.end())
      known.push_back(h.server_name);
  std::set<std::string> seen;
  for (const auto& name : known) {
    // A server name (host, IP literal, optional port): what a user id's domain part may hold.
    const bool plausible = !name.empty() && name.size() <= 255 &&
                           name.find_first_of(" \t\r\n/@#!?&%") == std::string::npos;
    if (!plausible)
      return fail(node_error(NodeErrorKind::bad_config, "not a server name: " + name));
    if (!seen.insert(name).second)
      return fail(node_error(NodeErrorKind::bad_config, "known server named twice: " + name));
  }
  config.known_servers = std::move(known);
  if (config.broadcast_server.empty()) config.broadcast_server = config.known_servers.front();
  if (config.broadcast_server.find_first_of(" \t\r\n/@#!?&%") != std::string::npos)
    return fail(
        node_error(NodeErrorKind::bad_config, "not a server name: " + config.broadcast_server));
  return Unit{};
}

// Makes `changes` durable. A write the store refuses (a full disk, say) is the caller's
// NodeErrorKind::store, naming `what` was not written, and the node goes on.
Result<Unit, NodeError> commit_durably(store::Env& env, store::Changes changes,
                                       const std::string& what) {
  // Named, so that the shared state (and the exception in it) outlives the handler's read of
  // the message: a waiter that drops it first leaves the store's writer thread to free the
  // exception, ordered only by libstdc++'s uninstrumented refcount (a TSan false positive).
  std::future<void> done = env.commit(std::move(changes));
  try {
    done.get();
  } catch (const store::Error& e) {
    return fail(node_error(NodeErrorKind::store, what + " could not be written: " + e.what()));
  }
  return Unit{};
}

}  // namespace

Result<Node, NodeError> Node::open(NodeConfig config, const PrivateKey& key) {
  return NodeInternals::open(std::move(config), key, std::nullopt);
}

Result<Node, NodeError> NodeInternals::open(NodeConfig config, const PrivateKey& key,
                                            std::optional<NodeRunner> runner) {
  if (runner && config.on_event)
    return fail(node_error(NodeErrorKind::bad_config, "on_event needs the node's own threads"));
  auto homeservers = all_homeservers(config);
  if (!homeservers) return fail(homeservers.error());
  config.homeservers = std::move(*homeservers);
  config.homeserver = config.homeservers.front().url;
  config.server_name = config.homeservers.front().server_name;
  if (auto settled = settle_federation(config); !settled) return fail(settled.error());
  if (config.homes < 1 || config.homes > config.homeservers.size())
    return fail(node_error(NodeErrorKind::bad_config,
                           "homes must be between 1 and the number of homeservers (" +
                               std::to_string(config.homeservers.size()) + ")"));
  if (config.failover_after.count() <= 0)
    return fail(node_error(NodeErrorKind::bad_config, "failover_after must be positive"));
  if (config.data_dir.empty())
    return fail(node_error(NodeErrorKind::bad_config, "no data directory"));
  if (config.limits.max_bytes > kMaxEnvelopeBytes || config.limits.max_age_ms <= 0)
    return fail(node_error(NodeErrorKind::bad_config,
                           "limits: max_bytes above 32768 or max_age_ms not positive"));
  if (!(config.policy.rate_per_second > 0) || !(config.policy.burst >= 1))
    return fail(node_error(NodeErrorKind::bad_config,
                           "policy: rate_per_second must be positive and burst at least 1"));
  if (!(config.policy.max_verified_per_second > 0))
    return fail(node_error(NodeErrorKind::bad_config, "policy: max_verified_per_second <= 0"));
  if (config.policy.max_outbox_per_recipient == 0)
    return fail(node_error(NodeErrorKind::bad_config, "policy: max_outbox_per_recipient is 0"));
  if (config.resend_initial.count() <= 0 || config.resend_max < config.resend_initial)
    return fail(
        node_error(NodeErrorKind::bad_config, "resend_initial must be positive, <= resend_max"));
  if (config.capabilities) {
    if (auto url = capabilities_url(*config.capabilities); !url)
      return fail(node_error(NodeErrorKind::bad_config,
                             "capabilities: " + std::string(to_string(url.error()))));
  }
  if (!config.now_ms) config.now_ms = system_now_ms;

  std::vector<std::string> server_names;
  for (const auto& h : config.homeservers) server_names.push_back(h.server_name);
  auto env = store::Env::open(
      {.dir = config.data_dir,
       .tables = transport::NodeTables::specs(server_names),
       .durability = config.durability,
       .before_group_commit = runner ? runner->before_group_commit : std::function<void()>{}},
      store_key_for(key));
  if (!env)
    return fail(node_error(NodeErrorKind::store,
                           "store in " + config.data_dir.string() + ": " + env.error().message));
  return Node(std::make_unique<Node::Impl>(std::move(config), std::move(runner), key.clone(),
                                           std::move(*env)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::Node(Node&&) noexcept = default;
Node& Node::operator=(Node&&) noexcept = default;
Node::~Node() = default;

Result<Unit, NodeError> Node::start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return fail(node_error(NodeErrorKind::stopped, "the node was stopped"));
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
      return fail(node_error(NodeErrorKind::not_started, "send before start() or after stop()"));
  }
  Impl& n = *impl_;
  // Reserved first, so that a refusal costs no signature; given back unless the messages become
  // durable (the worker then gives each back as it settles).
  const std::size_t cap = n.config.policy.max_outbox_per_recipient;
  if (!n.counters.reserve_outbox(to, bodies.size(), cap))
    return fail(node_error(NodeErrorKind::outbox_full,
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
  auto signed_entries = transport::sign_into_outbox(n.key, to, std::move(bodies), n.config.now_ms(),
                                                    n.config.limits, n.tables, changes);
  if (!signed_entries) return fail(signed_entries.error());
  std::vector<transport::OutboxEntry> entries = std::move(*signed_entries);
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const auto& e : entries) ids.push_back(e.nonce);
  // Durable: from here on it is delivered or failed. Refused: not accepted at all.
  if (auto durable = commit_durably(n.env, std::move(changes), "the outbox"); !durable)
    return fail(durable.error());
  reservation.kept = true;
  n.counters.update([&](NodeStats& s) {
    s.sent += entries.size();
    s.outbox += entries.size();
  });
  std::lock_guard lock(n.mutex);
  if (n.stopped || n.homes.empty())
    return fail(node_error(NodeErrorKind::stopped, "stopped; the message stays in the outbox"));
  // Every home holds the whole outbox; HomeSet decides which one transmits (and resends).
  for (auto* w : n.workers()) w->add_to_outbox(entries);
  return ids;
}

Result<bool, NodeError> Node::cancel(const std::string& id) {
  Impl& n = *impl_;
  const auto record = n.tables.outbox.get(n.env.read(), id);
  std::optional<Address> to;
  if (record)
    if (auto parsed = Address::parse(record->value("to", ""))) to = *parsed;
  {
    std::lock_guard lock(n.mutex);
    if (!n.started || n.stopped)
      return fail(node_error(NodeErrorKind::not_started, "cancel before start() or after stop()"));
    if (!record || record->contains("settled") || !to) return false;
    // Settled here, so that no home reports it and every home forgets it; settled for good, so
    // that an ack already on its way settles nothing. False: a home is settling it right now.
    if (!n.home_set->settle(id, nullptr)) return false;
  }
  store::Changes c;
  c.erase(n.tables.outbox, id);
  if (auto durable = commit_durably(n.env, std::move(c), "the cancellation"); !durable) {
    // Not cancelled: the homes take the message back (after forgetting it: tasks run in order).
    const json envelope = record->value("envelope", json::object());
    const transport::OutboxEntry entry{envelope, id, *to, envelope.value("ts", 0LL)};
    std::lock_guard lock(n.mutex);
    if (n.home_set) n.home_set->unsettle(id);
    for (auto* w : n.workers()) w->add_to_outbox({entry});
    return fail(durable.error());
  }
  n.counters.release_outbox(*to);
  n.counters.update([](NodeStats& s) {
    if (s.outbox > 0) --s.outbox;
  });
  return true;
}

void Node::set_allowlist(std::optional<std::set<Address>> allowlist) {
  impl_->rules.set_allowlist(std::move(allowlist));
}

NodeError as_node_error(const transport::MatrixError& e, const std::string& what) {
  if (e.errcode == transport::kSquattedErrcode) return node_error(NodeErrorKind::squatted, e.error);
  return node_error(NodeErrorKind::network, what + ": " + describe(e));
}

namespace {

// How long subscribe(), broadcast() and discover() wait for the homeservers (the clients retry
// inside).
constexpr auto kHomePatience = std::chrono::seconds(60);

template <class T>
using Answer = Result<T, transport::MatrixError>;

// The first good answer, else the first failure as a NodeError.
template <class T>
Result<T, NodeError> first_success(std::vector<Answer<T>> answers, const std::string& what) {
  if (answers.empty())
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  for (auto& a : answers)
    if (a) return std::move(*a);
  return fail(as_node_error(answers.front().error(), what));
}

Result<Unit, NodeError> check_topic(const std::string& topic) {
  if (is_topic(topic)) return Unit{};
  return fail(node_error(NodeErrorKind::bad_topic, "not a topic (^[a-z0-9_]{1,200}$): " + topic));
}

}  // namespace

Result<std::string, NodeError> Node::subscribe(const std::string& topic) {
  if (auto ok = check_topic(topic); !ok) return fail(ok.error());
  auto joined = first_success(
      impl_->ask_homes<std::string>(
          kHomePatience,
          [&](transport::NodeWorker& w, auto done) { w.subscribe(topic, std::move(done)); }),
      "room of " + topic);
  if (joined) {
    // A home started later (failover) subscribes again.
    store::Changes c;
    c.put(impl_->tables.meta, store::join_key({"subscription", topic}), "");
    if (auto durable = commit_durably(impl_->env, std::move(c), "the subscription"); !durable)
      return fail(durable.error());
  }
  return joined;
}

Result<std::string, NodeError> Node::broadcast(const std::string& topic, std::string body) {
  if (auto ok = check_topic(topic); !ok) return fail(ok.error());
  if (auto operator_address = events_topic_operator(topic);
      operator_address && *operator_address != impl_->key.address()) {
    return fail(node_error(NodeErrorKind::bad_topic,
                           "only " + operator_address->to_hex() + " publishes in " + topic));
  }
  const Envelope e =
      Envelope::broadcast(impl_->key, topic, std::move(body), impl_->config.now_ms());
  const json wire = e.to_json();
  auto text = canonical_json(wire);
  if (!text || text->size() > impl_->config.limits.max_bytes)
    return fail(node_error(NodeErrorKind::too_large,
                           "the broadcast envelope exceeds " +
                               std::to_string(impl_->config.limits.max_bytes) + " bytes"));
  // The topic's room is one room for the whole federation (PROTOCOL §8): sent through one home,
  // the next one if it fails.
  std::vector<transport::NodeWorker*> workers;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started && !impl_->stopped) workers = impl_->workers();
  }
  if (workers.empty())
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  std::optional<NodeError> error;
  bool sent = false;
  for (auto* w : workers) {
    auto done = std::make_shared<std::promise<Answer<std::string>>>();
    auto answer = done->get_future();
    w->broadcast(topic, wire, [done](Answer<std::string> r) { done->set_value(std::move(r)); });
    if (answer.wait_for(kHomePatience) != std::future_status::ready) {
      error = node_error(NodeErrorKind::network, "room of " + topic + ": no answer in time");
      continue;
    }
    auto r = answer.get();
    if (r) {
      sent = true;
      break;
    }
    error = as_node_error(r.error(), "room of " + topic);
    if (error->kind == NodeErrorKind::squatted) break;
  }
  if (!sent) return fail(*error);
  impl_->counters.update([](NodeStats& s) { ++s.sent; });
  return e.nonce;
}

Result<Unit, NodeError> check_user_id_of(const Address& address, const std::string& user_id) {
  auto owner = address_of_user_id(user_id);
  if (owner && *owner == address) return Unit{};
  return fail(node_error(NodeErrorKind::bad_user_id,
                         "not a user id of " + address.to_hex() + ": " + user_id));
}

Result<Unit, NodeError> Node::add_user_ids(const Address& address,
                                           const std::vector<std::string>& user_ids) {
  if (user_ids.size() > transport::PeerIds::kMaxCandidates)
    return fail(node_error(
        NodeErrorKind::bad_user_id,
        "at most " + std::to_string(transport::PeerIds::kMaxCandidates) + " user ids at once"));
  for (const auto& id : user_ids)
    if (auto ok = check_user_id_of(address, id); !ok) return fail(ok.error());
  std::lock_guard lock(impl_->mutex);
  if (!impl_->started || impl_->stopped)
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  for (auto* w : impl_->workers()) w->add_user_ids(address, user_ids);
  return Unit{};
}

Result<Unit, NodeError> Node::set_publishers(const std::string& topic,
                                             std::optional<std::set<Address>> publishers) {
  if (auto ok = check_topic(topic); !ok) return fail(ok.error());
  impl_->rules.set_publishers(topic, std::move(publishers));
  return Unit{};
}

Result<Unit, NodeError> Node::watch(const Address& address) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->started || impl_->stopped)
    return fail(node_error(NodeErrorKind::not_started, "watch before start() or after stop()"));
  impl_->watched.insert(address);
  for (auto* w : impl_->workers()) w->watch(address);
  return Unit{};
}

Reachability Node::reachability(const Address& address) {
  // Each home updates HomeSet's view, which combines them (reachable on any home wins).
  std::vector<std::future<void>> answers;
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started || impl_->stopped) return Reachability::unknown;
    for (auto* w : impl_->workers()) {
      auto done = std::make_shared<std::promise<void>>();
      answers.push_back(done->get_future());
      w->reachability(address, [done](Reachability) { done->set_value(); });
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& a : answers) (void)a.wait_until(deadline);
  std::lock_guard lock(impl_->mutex);
  return impl_->home_set ? impl_->home_set->reachability(address) : Reachability::unknown;
}

Result<std::vector<std::string>, NodeError> Node::discover(const Address& address) {
  auto answers = impl_->ask_homes<std::vector<std::string>>(
      kHomePatience,
      [&](transport::NodeWorker& w, auto done) { w.discover(address, std::move(done)); });
  if (answers.empty())
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  // Every home's user directory; the same id found twice (federation) counts once.
  std::vector<std::string> found;
  bool any = false;
  for (auto& a : answers) {
    if (!a) continue;
    any = true;
    for (auto& id : *a)
      if (std::find(found.begin(), found.end(), id) == found.end()) found.push_back(id);
  }
  if (!any) return fail(as_node_error(answers.front().error(), "user directory"));
  return found;
}

std::optional<NodeEvent> Node::next_event(std::chrono::milliseconds wait) {
  if (impl_->config.on_event) return std::nullopt;  // the dispatcher owns the queue
  return impl_->events.pop(wait);
}

std::optional<NodeEvent> Node::try_next_event() {
  return next_event(std::chrono::milliseconds(0));
}

int Node::event_fd() const {
  return impl_->events.fd();
}

void Node::consumed(const NodeEvent& event) {
  impl_->consumed(event);
}

NodeStats Node::stats() const {
  NodeStats s = impl_->counters.snapshot();
  const store::Stats store = impl_->env.stats();
  s.store_commits = store.writes;
  s.store_transactions = store.group_commits;
  std::lock_guard lock(impl_->mutex);
  for (const auto* list : {&impl_->homes, &impl_->retired}) {
    for (const auto& h : *list) {
      if (!h->http) continue;
      auto c = h->http->stats();
      s.http_retries += c.rate_limited_waits + c.backoff_retries;
      s.oversized_to_device_dropped += c.oversized_dropped;
    }
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

std::vector<HomeStatus> Node::homes() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<HomeStatus> all;
  for (const auto& h : impl_->homes)
    all.push_back({h->server.url, h->server.server_name, h->user_id, h->device_id, h->rtt_ms});
  return all;
}

void Node::stop() {
  if (impl_) impl_->stop();
}

}  // namespace mrt
