// Node: choosing homeservers by round-trip time, logging in on each home (one device and one
// E2EE account per homeserver), and failover: a home whose /sync keeps failing is replaced by
// the next fastest homeserver, with the same Ethereum identity and the same outbox.
#include <algorithm>
#include <chrono>

#include "node_impl.hpp"

namespace mrt {

using json = nlohmann::json;
using transport::MatrixResult;

namespace {

constexpr int kProbes = 3;
constexpr auto kProbeTimeout = std::chrono::milliseconds(2000);
constexpr auto kWatchEvery = std::chrono::milliseconds(250);
constexpr std::int64_t kRttStepMs = 10;

}  // namespace

std::future<MatrixResult> Node::Impl::set_presence(Home& home, const char* presence) {
  return home.client->call(transport::calls::set_presence(home.user_id, presence));
}

// The best of a few GET /versions per homeserver; no retries, so that a dead one costs
// kProbeTimeout per probe at most (a refused connection costs nothing).
std::vector<Node::Impl::Candidate> Node::Impl::rank_homeservers() {
  std::vector<Candidate> ranked;
  std::vector<std::unique_ptr<transport::MatrixCaller>> probes;
  for (const auto& server : config.homeservers) {
    ranked.push_back({server, kUnreachable});
    if (runner) {
      probes.push_back(runner->connect(server));
    } else {
      probes.push_back(std::make_unique<transport::MatrixClient>(
          *io, transport::MatrixClientOptions{
                   .base_url = server.url, .request_timeout = kProbeTimeout, .max_attempts = 1}));
    }
  }
  for (int round = 0; round < kProbes; ++round) {
    // One at a time, so that no answer waits behind another's.
    for (std::size_t i = 0; i < probes.size(); ++i) {
      const std::int64_t sent = steady();
      auto answer = probes[i]->call(transport::calls::versions()).get();
      if (answer) ranked[i].rtt_ms = std::min(ranked[i].rtt_ms, steady() - sent);
    }
  }
  // Times within one kRttStepMs step count as equal and keep the configured order: noise must
  // not send two nodes configured alike to different homeservers.
  const auto step = [](const Candidate& c) {
    return c.rtt_ms == kUnreachable ? kUnreachable : c.rtt_ms / kRttStepMs;
  };
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const Candidate& a, const Candidate& b) { return step(a) < step(b); });
  return ranked;
}

// PROTOCOL §3: a node that had to start a new device deletes its older ones, so that room keys
// stop going to them. User-interactive auth with the Ethereum login; best effort (a failure
// leaves devices that peers still encrypt to, which costs them, not us).
void Node::Impl::delete_stale_devices(Home& home, const MatrixIdentity& identity) {
  namespace calls = transport::calls;
  auto& client = *home.client;
  auto list = client.call(calls::devices()).get();
  if (!list || !list->contains("devices") || !(*list)["devices"].is_array()) return;
  for (const auto& d : (*list)["devices"]) {
    const std::string id = d.is_object() ? d.value("device_id", "") : "";
    if (id.empty() || id == home.device_id) continue;
    auto first = client.call(calls::delete_device(id)).get();
    if (first || first.error().http_status != 401) continue;
    json auth = {{"type", "m.login.password"},
                 {"identifier", {{"type", "m.id.user"}, {"user", address.to_hex()}}},
                 {"password", identity.password.to_hex()}};
    if (!first.error().uia_session.empty()) auth["session"] = first.error().uia_session;
    (void)client.call(calls::delete_device(id, auth)).get();
  }
}

Result<Unit, NodeError> Node::Impl::send_requests_now(Home& home, E2eeMachine& machine) {
  // keys/upload before the home is used, so that peers can reach the device at once.
  for (int round = 0; round < 4; ++round) {
    auto requests = machine.outgoing_requests();
    if (requests.empty()) return Unit{};
    for (const auto& r : requests) {
      const auto call = transport::calls::machine_request(r);
      auto answer = home.client->call(call).get();
      if (!answer)
        return fail(node_error(NodeErrorKind::login, home.server.url + " refused " + call.path +
                                                         ": " + describe(answer.error())));
      machine.mark_request_as_sent(r.id, *answer);
    }
  }
  return Unit{};
}

// Logs in on one homeserver (the same device as before there, if the store has one), publishes
// the device's keys and the signed displayname, and starts its worker with the whole outbox and
// every subscribed topic.
Result<std::unique_ptr<Node::Impl::Home>, NodeError> Node::Impl::start_home(
    const Candidate& candidate) {
  auto home = std::make_unique<Home>();
  home->server = candidate.server;
  home->rtt_ms = candidate.rtt_ms;
  const std::string& server_name = candidate.server.server_name;
  {
    std::lock_guard lock(mutex);
    if (primary_server.empty()) {
      primary_server = server_name;
      store::Changes c;
      c.put(tables.meta, transport::kMetaPrimaryServer, primary_server);
      env.commit(std::move(c)).get();
    }
    home->ns = {server_name, server_name == primary_server};
  }
  if (runner) {
    home->client = runner->connect(candidate.server);
  } else {
    auto http = std::make_unique<transport::MatrixClient>(
        *io, transport::MatrixClientOptions{.base_url = candidate.server.url});
    home->http = http.get();
    home->client = std::move(http);
  }

  const std::string device_key = home->ns.meta_key(transport::kMetaDeviceId);
  std::optional<std::string> known_device = tables.meta.get(env.read(), device_key);
  auto login = home->client->login_ethereum(key, server_name, known_device).get();
  if (!login)
    return fail(node_error(NodeErrorKind::login,
                           "login at " + candidate.server.url + " as " + address.to_hex() +
                               " (password signed for server name \"" + server_name +
                               "\"): " + describe(login.error())));
  const bool new_device = known_device != login->device_id;
  if (new_device) {
    // Kept first, so that a crash from here on still comes back as this device.
    store::Changes c;
    c.put(tables.meta, device_key, login->device_id);
    env.commit(std::move(c)).get();
  }
  home->user_id = login->user_id;
  home->device_id = login->device_id;
  const MatrixIdentity identity = matrix_identity(key, server_name);
  if (new_device) delete_stale_devices(*home, identity);

  auto machine =
      E2eeMachine::open(env, key, login->user_id, login->device_id,
                        {.now_ms = config.now_ms, .tables_prefix = home->ns.tables_prefix()});
  if (!machine)
    return fail(node_error(NodeErrorKind::store, "E2EE account in " + config.data_dir.string() +
                                                     ": " +
                                                     std::string(to_string(machine.error()))));
  if (auto sent = send_requests_now(*home, *machine); !sent) return fail(sent.error());

  // The displayname proves the user id to anyone (PROTOCOL §2).
  auto named =
      home->client
          ->call(transport::calls::set_displayname(home->user_id, identity.displayname.to_hex()))
          .get();
  if (!named)
    return fail(node_error(
        NodeErrorKind::login,
        "setting the displayname at " + candidate.server.url + ": " + describe(named.error())));
  std::optional<std::string> capabilities;
  {
    std::lock_guard lock(mutex);
    capabilities = capabilities_url;
  }
  // Best effort, like presence: a server may refuse profile changes (Synapse's
  // enable_set_avatar_url), and the node works without them.
  if (capabilities) {
    if (auto published = publish_capabilities(*home, *capabilities); !published)
      log(LogLevel::warning, "homes", "capabilities_not_published",
          {{"server", home->server.server_name}, {"why", published.error().message}});
  }
  (void)set_presence(*home, "online").get();  // best effort: reachability is a hint

  std::vector<std::string> topics;
  std::string since;
  {
    auto txn = env.read();
    since = tables.meta.get(txn, home->ns.meta_key(transport::kMetaNextBatch)).value_or("");
    const std::string prefix = store::join_key({"subscription"});
    tables.meta.for_each(txn, as_bytes(prefix), [&](const std::string& k, const std::string&) {
      if (k.size() > prefix.size())
        topics.push_back(k.substr(prefix.size(), k.size() - prefix.size() - 1));
      return true;
    });
  }
  transport::NodeWorkerContext context{
      config,
      key,
      env,
      tables,
      home->ns,
      *home->client,
      *home_set,
      rules,
      counters,
      [this](NodeEvent e) { emit(std::move(e)); },
      [this](LogLevel level, const char* component, const char* event, json fields) {
        log(level, component, event, std::move(fields));
      },
      config.now_ms,
      runner ? runner->steady_ms : transport::steady_ms};
  home->worker = std::make_unique<transport::NodeWorker>(std::move(context), std::move(*machine),
                                                         std::move(since));
  home_set->attach(server_name, home->worker.get(), home->rtt_ms);
  if (runner) {
    home->worker->start_driven();
  } else {
    home->worker->start();
  }
  for (const auto& topic : topics) home->worker->subscribe(topic, [](auto) {});
  return home;
}

// Adds a started home to the ones in use, with every message of the outbox. Under one lock
// with send(), so that a message is either in the outbox read here or handed to this home.
void Node::Impl::adopt(std::unique_ptr<Home> home) {
  std::lock_guard lock(mutex);
  home->worker->add_to_outbox(transport::unsettled_outbox(env, tables));
  for (const auto& partner : watched) home->worker->watch(partner);
  auto at = std::find_if(homes.begin(), homes.end(),
                         [&](const auto& h) { return h->rtt_ms > home->rtt_ms; });
  homes.insert(at, std::move(home));
  user_id = homes.front()->user_id;
  device_id = homes.front()->device_id;
}

Result<Unit, NodeError> Node::Impl::start() {
  if (!runner) io = std::make_unique<transport::HttpIo>();
  home_set = std::make_unique<transport::HomeSet>(
      [this](NodeEvent e) { emit(std::move(e)); },
      [this] {
        std::lock_guard lock(mutex);  // so that the monitor cannot miss it between check and wait
        monitor_wake.notify_all();
      },
      config.policy);
  {
    auto txn = env.read();
    primary_server = tables.meta.get(txn, transport::kMetaPrimaryServer).value_or("");
    // A store from before homeservers were several: its plain names are the first one's.
    if (primary_server.empty() && tables.meta.get(txn, transport::kMetaDeviceId))
      primary_server = config.homeservers.front().server_name;
  }

  // What the application has not consumed yet is reported again, once.
  std::vector<NodeEvent> again;
  std::size_t pending = 0;
  {
    auto txn = env.read();
    tables.inbox.for_each(txn, {}, [&](const std::string&, const json& record) {
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
      again.push_back(std::move(m));
      return true;
    });
    const std::size_t unconsumed = again.size();
    tables.outbox.for_each(txn, {}, [&](const std::string& nonce, const json& record) {
      auto to = Address::parse(record.value("to", ""));
      const std::string outcome = record.value("settled", "");
      if (!to) return true;
      if (outcome.empty()) {
        ++pending;
        // Counts toward its recipient's cap, even above it (a lowered setting).
        (void)counters.reserve_outbox(*to, 1, std::numeric_limits<std::size_t>::max());
        return true;
      }
      // Settled before the last stop, but the application may not have seen it.
      NodeEvent e;
      e.type = outcome == "delivered" ? NodeEventType::delivered : NodeEventType::failed;
      e.id = nonce;
      e.peer = *to;
      e.ts = record.value("envelope", json::object()).value("ts", 0LL);
      again.push_back(std::move(e));
      return true;
    });
    counters.update([&](NodeStats& s) {
      s.inbox = unconsumed;
      s.outbox = pending;
    });
  }
  if (config.on_event) {
    dispatcher = std::thread([this] {
      while (auto e = events.pop(std::chrono::hours(24))) {
        config.on_event(*e);
        if (config.on_event_consumes) consumed(*e);
      }
    });
  }
  for (auto& e : again) emit(std::move(e));

  ranking = rank_homeservers();
  std::string refusals;
  for (const auto& candidate : ranking) {
    if (homes.size() >= config.homes) break;
    auto home = start_home(candidate);
    if (!home) {
      refusals += (refusals.empty() ? "" : "; ") + home.error().message;
      continue;
    }
    adopt(std::move(*home));
  }
  if (homes.empty()) return fail(node_error(NodeErrorKind::login, refusals));
  if (!runner) monitor = std::thread([this] { watch_homes(); });
  return Unit{};
}

// Failover: a home whose /sync has failed for failover_after is replaced by the fastest
// homeserver not in use that accepts the login; without one, it keeps retrying.
void Node::Impl::watch_homes() {
  std::unique_lock lock(mutex);
  while (!stopped) {
    // Idle until a home's /sync fails (HomeSet wakes us), then every kWatchEvery while one does.
    monitor_wake.wait_for(lock, home_set->any_failing() ? kWatchEvery : std::chrono::seconds(60));
    if (stopped) return;
    lock.unlock();
    check_homes();
    lock.lock();
  }
}

void Node::Impl::check_homes() {
  const std::int64_t now = steady();
  for (const auto& server : home_set->failing_since(now - config.failover_after.count())) {
    if (next_replace_try[server] > now) continue;
    if (!replace_home(server)) next_replace_try[server] = now + config.failover_after.count();
  }
}

void Node::Impl::run_due() {
  std::vector<transport::NodeWorker*> all;
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    all = workers();
  }
  const std::int64_t now = steady();
  for (auto* w : all)
    if (w->next_wake() <= now) w->run_due();
  if (home_set->any_failing() && now >= next_failover_check) {
    next_failover_check = now + kWatchEvery.count();
    check_homes();
  }
}

std::int64_t Node::Impl::next_wake() {
  std::int64_t at = std::numeric_limits<std::int64_t>::max();
  std::lock_guard lock(mutex);
  if (stopped) return at;
  for (auto* w : workers()) at = std::min(at, w->next_wake());
  if (home_set->any_failing()) at = std::min(at, next_failover_check);
  return at;
}

bool Node::Impl::replace_home(const std::string& failing) {
  std::vector<Candidate> spares;
  {
    std::lock_guard lock(mutex);
    for (const auto& c : ranking) {
      const bool in_use = std::any_of(homes.begin(), homes.end(), [&](const auto& h) {
        return h->server.server_name == c.server.server_name;
      });
      if (!in_use) spares.push_back(c);
    }
  }
  for (const auto& candidate : spares) {
    auto home = start_home(candidate);
    if (!home) continue;
    std::unique_ptr<Home> old;
    {
      std::lock_guard lock(mutex);
      if (stopped) {
        retired.push_back(std::move(*home));  // stop() stops it with the others
        return true;
      }
      auto it = std::find_if(homes.begin(), homes.end(),
                             [&](const auto& h) { return h->server.server_name == failing; });
      if (it != homes.end()) {
        old = std::move(*it);
        homes.erase(it);
      }
      // The failed homeserver goes last: it may come back, and be chosen again after the rest.
      auto r = std::find_if(ranking.begin(), ranking.end(),
                            [&](const auto& c) { return c.server.server_name == failing; });
      if (r != ranking.end()) {
        Candidate moved = *r;
        ranking.erase(r);
        ranking.push_back(moved);
      }
    }
    adopt(std::move(*home));
    if (old) {
      old->worker->stop();
      home_set->detach(failing);
      std::lock_guard lock(mutex);
      retired.push_back(std::move(old));
    }
    counters.update([](NodeStats& s) { ++s.failovers; });
    log(LogLevel::warning, "homes", "failover",
        {{"from", failing}, {"to", candidate.server.server_name}});
    return true;
  }
  return false;
}

std::vector<transport::NodeWorker*> Node::Impl::workers() const {
  std::vector<transport::NodeWorker*> all;
  for (const auto& h : homes) all.push_back(h->worker.get());
  return all;
}

}  // namespace mrt
