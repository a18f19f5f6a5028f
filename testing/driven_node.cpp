#include "testing/driven_node.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include <mrt/e2ee_machine.hpp>
#include <mrt/envelope.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>

#include "testing/caller_wait.hpp"
#include "transport/outbox_records.hpp"

namespace mrt::testing {

namespace calls = transport::calls;

DrivenNode::DrivenNode(HomeserverHub& hub, std::filesystem::path dir,
                       std::vector<std::string> servers, const PrivateKey& key, NodeConfig config)
    : hub_(hub),
      dir_(std::move(dir)),
      key_(key.clone()),
      address_(key_.address()),
      config_(std::move(config)) {
  if (servers.empty()) throw std::invalid_argument("a driven node needs a homeserver");
  VirtualClock& clock = hub_.clock();
  config_.server_name = servers.front();
  if (config_.known_servers.empty()) config_.known_servers = servers;
  if (config_.broadcast_server.empty()) config_.broadcast_server = config_.known_servers.front();
  config_.now_ms = [&clock] { return clock.wall_ms; };
  config_.durability = store::Durability::off;

  env_.emplace(std::move(store::Env::open({.dir = dir_,
                                           .tables = transport::NodeTables::specs(servers),
                                           .durability = store::Durability::off},
                                          store_key_for(key_))
                             .value()));
  tables_.emplace(*env_);
  const auto emit = [this](NodeEvent e) { events_.push_back(std::move(e)); };
  home_set_ = std::make_unique<transport::HomeSet>(
      emit, [] {}, config_.policy.rate_per_second, config_.policy.burst);
  for (std::size_t i = 0; i < servers.size(); ++i) {
    homes_.push_back(start_home(servers[i], i == 0));
    // The configured order is the speed order: the first home carries first transmissions.
    home_set_->attach(servers[i], homes_.back()->worker.get(), static_cast<std::int64_t>(i));
  }
  for (auto& home : homes_) {
    home->worker->start_driven();
    home->worker->add_to_outbox(transport::unsettled_outbox(*env_, *tables_));
  }
}

// One home as Node::Impl::start_home makes it, without its thread: the same device as before a
// restart, its keys and displayname published before the worker runs.
std::unique_ptr<DrivenNode::Home> DrivenNode::start_home(const std::string& server_name,
                                                         bool primary) {
  VirtualClock& clock = hub_.clock();
  auto home = std::make_unique<Home>();
  home->ns = {server_name, primary};
  home->caller = hub_.caller(server_name);
  const std::string device_key = home->ns.meta_key(transport::kMetaDeviceId);
  const auto device_id = tables_->meta.get(env_->read(), device_key);
  const transport::LoginInfo login = login_and_wait(*home->caller, key_, server_name, device_id);
  home->user_id = login.user_id;
  if (!device_id) {
    store::Changes c;
    c.put(tables_->meta, device_key, login.device_id);
    env_->commit_now(std::move(c));
  }
  auto machine =
      E2eeMachine::open(*env_, key_, home->user_id, login.device_id,
                        {.now_ms = config_.now_ms, .tables_prefix = home->ns.tables_prefix()});
  if (!machine)
    throw std::runtime_error("E2EE account: " + std::string(to_string(machine.error())));
  send_machine_requests(*home->caller, *machine);
  const MatrixIdentity identity = matrix_identity(key_, server_name);
  if (!call_and_wait(*home->caller,
                     calls::set_displayname(home->user_id, identity.displayname.to_hex())))
    throw std::runtime_error("displayname refused at " + server_name);
  (void)call_and_wait(*home->caller, calls::set_presence(home->user_id, "online"));

  transport::NodeWorkerContext context{
      config_,
      key_,
      *env_,
      *tables_,
      home->ns,
      *home->caller,
      *home_set_,
      counters_,
      [this](NodeEvent e) { events_.push_back(std::move(e)); },
      [](LogLevel, const char*, const char*, const nlohmann::json&) {},
      config_.now_ms,
      [&clock] { return clock.steady_ms; }};
  const std::string since =
      tables_->meta.get(env_->read(), home->ns.meta_key(transport::kMetaNextBatch)).value_or("");
  home->worker =
      std::make_unique<transport::NodeWorker>(std::move(context), std::move(*machine), since);
  return home;
}

DrivenNode::~DrivenNode() {
  for (auto& home : homes_) home->worker->stop();
}

std::string DrivenNode::send(const Address& to, std::string body) {
  store::Changes changes;
  auto entries = transport::sign_into_outbox(key_, to, {std::move(body)}, hub_.clock().wall_ms,
                                             config_.limits, *tables_, changes);
  if (!entries) throw std::invalid_argument(entries.error().message);
  env_->commit_now(std::move(changes));
  counters_.reserve_outbox(to, 1, config_.policy.max_outbox_per_recipient);
  counters_.update([](NodeStats& s) {
    ++s.sent;
    ++s.outbox;
  });
  // Every home holds the whole outbox; HomeSet decides which one transmits (and resends).
  for (auto& home : homes_) home->worker->add_to_outbox(*entries);
  return entries->front().nonce;
}

void DrivenNode::add_user_ids(const Address& address, const std::vector<std::string>& user_ids) {
  for (auto& home : homes_) home->worker->add_user_ids(address, user_ids);
}

void DrivenNode::subscribe(const std::string& topic) {
  for (auto& home : homes_) {
    const bool first = home == homes_.front();
    home->worker->subscribe(topic, [this, topic, first](RoomAnswer r) {
      if (first) rooms_.insert_or_assign(topic, std::move(r));
    });
  }
}

std::optional<DrivenNode::RoomAnswer> DrivenNode::room_of(const std::string& topic) const {
  const auto it = rooms_.find(topic);
  if (it == rooms_.end()) return std::nullopt;
  return it->second;
}

std::string DrivenNode::broadcast(const std::string& topic, std::string body) {
  const Envelope e = Envelope::broadcast(key_, topic, std::move(body), hub_.clock().wall_ms);
  homes_.front()->worker->broadcast(topic, e.to_json(), [this, nonce = e.nonce](RoomAnswer r) {
    published_.insert_or_assign(nonce, std::move(r));
  });
  return e.nonce;
}

std::optional<DrivenNode::RoomAnswer> DrivenNode::published(const std::string& nonce) const {
  const auto it = published_.find(nonce);
  if (it == published_.end()) return std::nullopt;
  return it->second;
}

std::int64_t DrivenNode::next_wake() const {
  std::int64_t at = INT64_MAX;
  for (const auto& home : homes_) at = std::min(at, home->worker->next_wake());
  return at;
}

void DrivenNode::run_due() {
  ++steps_;
  for (auto& home : homes_)
    if (home->worker->next_wake() <= hub_.clock().steady_ms) home->worker->run_due();
}

namespace {

std::map<std::string, nlohmann::json> records_of(const store::Env& env,
                                                 const transport::JsonTable& table) {
  std::map<std::string, nlohmann::json> records;
  table.for_each(env.read(), {}, [&](const std::string& key, const nlohmann::json& r) {
    records[key] = r;
    return true;
  });
  return records;
}

}  // namespace

std::map<std::string, nlohmann::json> DrivenNode::inbox() const {
  return records_of(*env_, tables_->inbox);
}

std::map<std::string, nlohmann::json> DrivenNode::outbox() const {
  return records_of(*env_, tables_->outbox);
}

std::size_t DrivenNode::count(NodeEventType type) const {
  return static_cast<std::size_t>(std::count_if(
      events_.begin(), events_.end(), [&](const NodeEvent& e) { return e.type == type; }));
}

bool run_until(HomeserverHub& hub, const std::vector<DrivenNode*>& nodes,
               const std::function<bool()>& done, std::int64_t limit_ms) {
  VirtualClock& clock = hub.clock();
  const std::int64_t end = clock.steady_ms + limit_ms;
  for (;;) {
    // Everything due now, until nothing moves (answers post tasks, tasks make calls); `done`
    // is asked after every step, so that a test can stop (or crash a node) at any one.
    if (done()) return true;
    for (bool moved = true; moved;) {
      moved = hub.pump();
      for (DrivenNode* node : nodes) {
        if (node->next_wake() > clock.steady_ms) continue;
        node->run_due();
        if (done()) return true;
        moved = true;
      }
    }
    std::int64_t next = hub.next_deadline();
    for (DrivenNode* node : nodes) next = std::min(next, node->next_wake());
    if (next > end) {
      clock.advance(end - clock.steady_ms);
      return done();
    }
    clock.advance(std::max<std::int64_t>(1, next - clock.steady_ms));
  }
}

}  // namespace mrt::testing
