#include "testing/driven_node.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>

#include "testing/caller_wait.hpp"
#include "transport/outbox_records.hpp"

namespace mrt::testing {

namespace calls = transport::calls;

DrivenNode::DrivenNode(HomeserverHub& hub, std::filesystem::path dir, std::string server_name,
                       const PrivateKey& key, NodeConfig config)
    : hub_(hub),
      dir_(std::move(dir)),
      server_name_(std::move(server_name)),
      key_(key.clone()),
      address_(key_.address()),
      config_(std::move(config)) {
  VirtualClock& clock = hub_.clock();
  config_.server_name = server_name_;
  if (config_.known_servers.empty()) config_.known_servers = {server_name_};
  if (config_.broadcast_server.empty()) config_.broadcast_server = server_name_;
  config_.now_ms = [&clock] { return clock.wall_ms; };
  config_.durability = store::Durability::off;

  env_.emplace(std::move(store::Env::open({.dir = dir_,
                                           .tables = transport::NodeTables::specs({server_name_}),
                                           .durability = store::Durability::off},
                                          store_key_for(key_))
                             .value()));
  tables_.emplace(*env_);
  caller_ = hub_.caller(server_name_);

  // The same device as before a restart.
  auto device_id = tables_->meta.get(env_->read(), transport::kMetaDeviceId);
  const transport::LoginInfo login = login_and_wait(*caller_, key_, server_name_, device_id);
  user_id_ = login.user_id;
  if (!device_id) {
    store::Changes c;
    c.put(tables_->meta, transport::kMetaDeviceId, login.device_id);
    env_->commit_now(std::move(c));
  }
  const transport::HomeNamespace ns{server_name_, true};
  auto machine = E2eeMachine::open(*env_, key_, user_id_, login.device_id,
                                   {.now_ms = config_.now_ms, .tables_prefix = ns.tables_prefix()});
  if (!machine)
    throw std::runtime_error("E2EE account: " + std::string(to_string(machine.error())));
  send_machine_requests(*caller_, *machine);
  const MatrixIdentity identity = matrix_identity(key_, server_name_);
  if (!call_and_wait(*caller_, calls::set_displayname(user_id_, identity.displayname.to_hex())))
    throw std::runtime_error("displayname refused");
  (void)call_and_wait(*caller_, calls::set_presence(user_id_, "online"));

  const auto emit = [this](NodeEvent e) { events_.push_back(std::move(e)); };
  homes_ = std::make_unique<transport::HomeSet>(
      emit, [] {}, config_.policy.rate_per_second, config_.policy.burst);
  transport::NodeWorkerContext context{config_,
                                       key_,
                                       *env_,
                                       *tables_,
                                       ns,
                                       *caller_,
                                       *homes_,
                                       counters_,
                                       emit,
                                       [](LogLevel, const char*, const char*, nlohmann::json) {},
                                       config_.now_ms,
                                       [&clock] { return clock.steady_ms; }};
  const std::string since =
      tables_->meta.get(env_->read(), ns.meta_key(transport::kMetaNextBatch)).value_or("");
  worker_ = std::make_unique<transport::NodeWorker>(std::move(context), std::move(*machine), since);
  homes_->attach(server_name_, worker_.get(), 0);
  worker_->start_driven();
  worker_->add_to_outbox(transport::unsettled_outbox(*env_, *tables_));
}

DrivenNode::~DrivenNode() {
  worker_->stop();
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
  const std::string nonce = entries->front().nonce;
  worker_->add_to_outbox(std::move(*entries));
  return nonce;
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
