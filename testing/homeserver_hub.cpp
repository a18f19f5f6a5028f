#include "testing/homeserver_hub.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

#include "devserver/homeserver.hpp"
#include "devserver/json_body.hpp"
#include "transport/matrix_response.hpp"

namespace mrt::testing {

using devserver::Outcome;
using devserver::Reply;
using devserver::SyncWait;
using transport::MatrixCall;
using transport::MatrixCaller;
using transport::MatrixResult;

// One dev homeserver's state, answering under one name or, for a federation, several.
struct HomeserverHub::State {
  std::vector<std::string> names;
  std::unique_ptr<devserver::Homeserver> hs;  // null while every name of it is down
};

struct HomeserverHub::Waiting {
  const void* caller = nullptr;  // its answer goes nowhere once the caller is gone
  std::string server_name;
  SyncWait wait;
  std::int64_t deadline = 0;  // virtual steady ms
  bool array_answer = false;
  MatrixCaller::Callback done;
};

// One device's connection: the token its login got, kept as MatrixClient keeps it.
class HubCaller final : public MatrixCaller {
 public:
  HubCaller(HomeserverHub& hub, std::string server_name)
      : hub_(hub), server_name_(std::move(server_name)) {}
  ~HubCaller() override { hub_.forget_waits(this); }
  HubCaller(const HubCaller&) = delete;
  HubCaller& operator=(const HubCaller&) = delete;

  void call(MatrixCall c, Callback done) override {
    hub_.call(this, server_name_, token_, std::move(c), std::move(done));
  }

  void login_ethereum(const PrivateKey& key, const std::string& server_name,
                      const std::optional<std::string>& device_id, LoginCallback done) override {
    call(transport::calls::login_ethereum(key, server_name, device_id),
         [this, done = std::move(done)](MatrixResult r) {
           if (!r) return done(fail(r.error()));
           token_ = (*r)["access_token"].get<std::string>();
           done(transport::LoginInfo{(*r)["user_id"].get<std::string>(),
                                     (*r)["device_id"].get<std::string>()});
         });
  }

 private:
  HomeserverHub& hub_;
  std::string server_name_;
  std::string token_;
};

namespace {

// A reply's writes, durable before it is answered (as the HTTP server does; no fsync here).
void commit(devserver::Homeserver& hs, Reply& reply) {
  if (!reply.changes) return;
  hs.env().commit_now(std::move(*reply.changes));
  hs.mark_durable(reply.position);
}

// What a client sees of a server that is down.
MatrixResult no_answer(const std::string& server_name) {
  return fail(transport::MatrixError{transport::MatrixErrorKind::network, 0, "",
                                     server_name + ": connection refused", std::nullopt, ""});
}

// `c` as the dev homeserver takes it, from a device whose access token is `token`.
devserver::Request request_of(const MatrixCall& c, const std::string& token,
                              const std::string& server_name) {
  return {c.method, c.path, c.authenticated ? "Bearer " + token : "",
          c.body ? devserver::to_wire(*c.body) : "", server_name};
}

MatrixResult answer(const devserver::Response& response, bool array_answer,
                    std::size_t max_bytes = std::numeric_limits<std::size_t>::max()) {
  const std::string wire = devserver::to_wire(response.body);
  if (wire.size() > max_bytes)  // as the HTTP client's cap would refuse it
    return fail(transport::MatrixError{transport::MatrixErrorKind::too_large, 0, "",
                                       "answer exceeds the cap", std::nullopt, ""});
  return transport::parse_matrix_response(response.status, {}, wire, array_answer);
}

// The long-poll's timeout from a /sync path's query (0 when absent).
std::int64_t sync_timeout(const std::string& path) {
  const auto at = path.find("timeout=");
  if (at == std::string::npos) return 0;
  return std::stoll(path.substr(at + 8));
}

}  // namespace

HomeserverHub::HomeserverHub(std::filesystem::path dir) : dir_(std::move(dir)) {
  clock_.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
}
HomeserverHub::~HomeserverHub() = default;

void HomeserverHub::open(State& state) const {
  devserver::Config config;
  config.server_name = state.names.front();
  config.also_serves.assign(state.names.begin() + 1, state.names.end());
  config.data_dir = dir_ / state.names.front();
  config.durability = store::Durability::off;
  config.open_registration = true;
  config.rate_limits.buckets.clear();
  auto opened = devserver::Homeserver::open(std::move(config));
  if (!opened)
    throw std::runtime_error("homeserver " + state.names.front() + ": " + opened.error());
  state.hs = std::move(*opened);
}

void HomeserverHub::add_server(const std::string& server_name) {
  add_federation({server_name});
}

void HomeserverHub::add_federation(const std::vector<std::string>& server_names) {
  auto state = std::make_unique<State>(State{server_names, nullptr});
  open(*state);
  for (const auto& name : server_names) {
    if (!servers_.emplace(name, Server{state.get(), true}).second)
      throw std::invalid_argument("homeserver " + name + " added twice");
  }
  states_.push_back(std::move(state));
}

void HomeserverHub::take_down(const std::string& server_name) {
  Server& server = servers_.at(server_name);
  server.up = false;
  const auto& names = server.state->names;
  if (std::none_of(names.begin(), names.end(), [&](const auto& n) { return servers_.at(n).up; }))
    server.state->hs.reset();
  // Its long-polls break now, even if it is back before the next pump.
  std::vector<Waiting> cut;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->server_name != server_name) {
      ++it;
      continue;
    }
    cut.push_back(std::move(*it));
    it = waiting_.erase(it);
  }
  for (auto& w : cut) w.done(no_answer(server_name));
}

void HomeserverHub::bring_up(const std::string& server_name) {
  Server& server = servers_.at(server_name);
  server.up = true;
  if (!server.state->hs) open(*server.state);
}

const std::string* HomeserverHub::must_ask_down_server(const std::string& server_name,
                                                       const std::string& path) const {
  const State& state = *servers_.at(server_name).state;
  if (state.names.size() == 1) return nullptr;
  // Path segments naming a user (@) or an alias (#) of another server of the federation.
  std::size_t at = 0;
  while (at < path.size()) {
    const std::size_t end = std::min(path.find('/', at), path.find('?', at));
    const auto segment = devserver::percent_decode(
        std::string_view(path).substr(at, (end == std::string::npos ? path.size() : end) - at));
    at = end == std::string::npos ? path.size() : end + 1;
    if (!segment || segment->empty() || (segment->front() != '@' && segment->front() != '#'))
      continue;
    const std::string domain = segment->substr(std::min(segment->find(':'), segment->size()));
    for (const auto& name : state.names)
      if (name != server_name && domain == ":" + name && !servers_.at(name).up) return &name;
  }
  return nullptr;
}

std::unique_ptr<MatrixCaller> HomeserverHub::caller(const std::string& server_name) {
  return std::make_unique<HubCaller>(*this, server_name);
}

void HomeserverHub::lose_next(const std::string& path_part, int count) {
  faults_.push_back({path_part, count, 200, ""});
}

void HomeserverHub::refuse_next(const std::string& path_part, int count, long status,
                                std::string errcode) {
  faults_.push_back({path_part, count, status, std::move(errcode)});
}

void HomeserverHub::delay_next(const std::string& path_part, int count, std::int64_t delay_ms) {
  faults_.push_back({path_part, count, 200, "", delay_ms});
}

std::uint64_t HomeserverHub::requests(const std::string& path_part) const {
  std::uint64_t n = 0;
  for (const auto& [path, count] : seen_paths_)
    if (path.find(path_part) != std::string::npos) n += count;
  return n;
}

void HomeserverHub::call(const void* caller, const std::string& server_name,
                         const std::string& token, MatrixCall c, MatrixCaller::Callback done) {
  const std::string path_only = c.path.substr(0, c.path.find('?'));
  ++seen_paths_[path_only];
  for (auto& fault : faults_) {
    if (fault.count == 0 || path_only.find(fault.path_part) == std::string::npos) continue;
    --fault.count;
    if (fault.delay_ms > 0)
      delayed_.push_back({server_name, token, c, clock_.steady_ms + fault.delay_ms});
    if (fault.status == 200) return done(nlohmann::json::object());
    return done(answer(
        {static_cast<unsigned>(fault.status), {{"errcode", fault.errcode}, {"error", "injected"}}},
        false));
  }
  const Server& server = servers_.at(server_name);
  if (!server.up) return done(no_answer(server_name));
  if (const std::string* down = must_ask_down_server(server_name, path_only))
    return done(
        answer({502, {{"errcode", "M_UNKNOWN"}, {"error", *down + " unreachable"}}}, false));
  devserver::Homeserver& hs = *server.state->hs;
  Outcome outcome = hs.handle(request_of(c, token, server_name));
  if (auto* wait = std::get_if<SyncWait>(&outcome)) {
    waiting_.push_back({caller, server_name, *wait, clock_.steady_ms + sync_timeout(c.path),
                        c.array_answer, std::move(done)});
    return;
  }
  Reply& reply = std::get<Reply>(outcome);
  commit(hs, reply);
  done(answer(reply.response, c.array_answer, max_answer_bytes_));
}

bool HomeserverHub::pump() {
  bool answered = false;
  for (std::size_t i = 0; i < delayed_.size();) {
    const Server& server = servers_.at(delayed_[i].server_name);
    if (delayed_[i].due > clock_.steady_ms || !server.up) {
      ++i;
      continue;
    }
    const Delayed d = std::move(delayed_[i]);
    delayed_.erase(delayed_.begin() + static_cast<std::ptrdiff_t>(i));
    devserver::Homeserver& hs = *server.state->hs;
    Outcome outcome = hs.handle(request_of(d.call, d.token, d.server_name));
    if (auto* reply = std::get_if<Reply>(&outcome)) commit(hs, *reply);
    answered = true;
  }
  for (std::size_t i = 0; i < waiting_.size();) {
    // Only servers that are up have waits (take_down answers the others' at once).
    Waiting& w = waiting_[i];
    devserver::Homeserver& hs = *servers_.at(w.server_name).state->hs;
    Outcome outcome = hs.resume_sync(w.wait, clock_.steady_ms >= w.deadline);
    auto* reply = std::get_if<Reply>(&outcome);
    if (!reply) {
      ++i;
      continue;
    }
    commit(hs, *reply);
    Waiting done = std::move(w);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    done.done(answer(reply->response, done.array_answer, max_answer_bytes_));
    answered = true;
  }
  return answered;
}

void HomeserverHub::forget_waits(const void* caller) {
  std::erase_if(waiting_, [&](const Waiting& w) { return w.caller == caller; });
}

std::int64_t HomeserverHub::next_deadline() const {
  std::int64_t at = INT64_MAX;
  for (const auto& w : waiting_) at = std::min(at, w.deadline);
  for (const auto& d : delayed_) at = std::min(at, d.due);
  return at;
}

}  // namespace mrt::testing
