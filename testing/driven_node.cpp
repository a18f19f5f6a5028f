#include "testing/driven_node.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include <mrt/envelope.hpp>

namespace mrt::testing {

DrivenNode::DrivenNode(HomeserverHub& hub, std::filesystem::path dir,
                       const std::vector<std::string>& servers, const PrivateKey& key,
                       NodeConfig config, DrivenOptions options)
    : hub_(hub) {
  if (servers.empty()) throw std::invalid_argument("a driven node needs a homeserver");
  VirtualClock& clock = hub_.clock();
  config.homeserver.clear();
  config.server_name.clear();
  config.homeservers.clear();
  // Never dialled: the runner's callers answer in process.
  for (const auto& name : servers) config.homeservers.push_back({"http://" + name, name});
  config.homes = options.homes == 0 ? servers.size() : options.homes;
  if (config.known_servers.empty()) config.known_servers = servers;
  config.data_dir = std::move(dir);
  config.durability = store::Durability::off;
  config.now_ms = [&clock] { return clock.wall_ms; };
  NodeRunner runner{[&hub](const Homeserver& h) { return hub.caller(h.server_name); },
                    [&clock] { return clock.steady_ms; }, std::move(options.before_group_commit)};
  auto opened = NodeInternals::open(std::move(config), key, std::move(runner));
  if (!opened) throw std::runtime_error("node: " + opened.error().message);
  node_.emplace(std::move(*opened));
  impl_ = &NodeInternals::impl(*node_);
  if (auto started = node_->start(); !started)
    throw std::runtime_error("node start: " + started.error().message);
  take_events();
}

DrivenNode::~DrivenNode() {
  impl_->halt();
}

std::string DrivenNode::send(const Address& to, std::string body) {
  auto id = node_->send(to, std::move(body));
  if (!id) throw std::invalid_argument("send: " + id.error().message);
  return *id;
}

void DrivenNode::subscribe(const std::string& topic) {
  const auto workers = impl_->workers();
  for (auto* w : workers) {
    const bool first = w == workers.front();
    w->subscribe(topic, [this, topic, first](RoomAnswer r) {
      if (first) rooms_.insert_or_assign(topic, std::move(r));
    });
  }
}

namespace {

std::optional<DrivenNode::RoomAnswer> answer_for(
    const std::map<std::string, DrivenNode::RoomAnswer>& answers, const std::string& key) {
  const auto it = answers.find(key);
  if (it == answers.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<DrivenNode::RoomAnswer> DrivenNode::room_of(const std::string& topic) const {
  return answer_for(rooms_, topic);
}

std::string DrivenNode::broadcast(const std::string& topic, std::string body) {
  const Envelope e = Envelope::broadcast(impl_->key, topic, std::move(body), hub_.clock().wall_ms);
  impl_->workers().front()->broadcast(topic, e.to_json(), [this, nonce = e.nonce](RoomAnswer r) {
    published_.insert_or_assign(nonce, std::move(r));
  });
  return e.nonce;
}

std::optional<DrivenNode::RoomAnswer> DrivenNode::published(const std::string& nonce) const {
  return answer_for(published_, nonce);
}

void DrivenNode::run_due() {
  ++steps_;
  impl_->run_due();
  take_events();
}

void DrivenNode::take_events() {
  while (auto e = impl_->events.pop(std::chrono::milliseconds(0))) events_.push_back(std::move(*e));
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
  return records_of(impl_->env, impl_->tables.inbox);
}

std::map<std::string, nlohmann::json> DrivenNode::outbox() const {
  return records_of(impl_->env, impl_->tables.outbox);
}

std::vector<std::string> DrivenNode::bodies() const {
  std::vector<std::string> bodies;
  for (const auto& e : events_)
    if (e.type == NodeEventType::message) bodies.push_back(e.body);
  return bodies;
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
