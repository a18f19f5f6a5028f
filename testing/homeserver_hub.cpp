#include "testing/homeserver_hub.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

#include "devserver/homeserver.hpp"
#include "transport/matrix_response.hpp"

namespace mrt::testing {

using devserver::Outcome;
using devserver::Reply;
using devserver::SyncWait;
using transport::MatrixCall;
using transport::MatrixCaller;
using transport::MatrixResult;

struct HomeserverHub::Server {
  std::unique_ptr<devserver::Homeserver> hs;  // null while the server is down
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

MatrixResult answer(const devserver::Response& response, bool array_answer) {
  return transport::parse_matrix_response(response.status, {}, devserver::to_wire(response.body),
                                          array_answer);
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

std::unique_ptr<devserver::Homeserver> HomeserverHub::open_server(
    const std::string& server_name) const {
  devserver::Config config;
  config.server_name = server_name;
  config.data_dir = dir_ / server_name;
  config.durability = store::Durability::off;
  config.open_registration = true;
  config.rate_limits.buckets.clear();
  auto opened = devserver::Homeserver::open(std::move(config));
  if (!opened) throw std::runtime_error("homeserver " + server_name + ": " + opened.error());
  return std::move(*opened);
}

void HomeserverHub::add_server(const std::string& server_name) {
  servers_[server_name] = std::make_unique<Server>(Server{open_server(server_name)});
}

void HomeserverHub::take_down(const std::string& server_name) {
  servers_.at(server_name)->hs.reset();
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
  Server& server = *servers_.at(server_name);
  if (!server.hs) server.hs = open_server(server_name);
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
    if (fault.status == 200) return done(nlohmann::json::object());
    return done(answer(
        {static_cast<unsigned>(fault.status), {{"errcode", fault.errcode}, {"error", "injected"}}},
        false));
  }
  devserver::Homeserver* server = servers_.at(server_name)->hs.get();
  if (!server) return done(no_answer(server_name));
  devserver::Homeserver& hs = *server;
  devserver::Request request{c.method, c.path, c.authenticated ? "Bearer " + token : "",
                             c.body ? devserver::to_wire(*c.body) : "", server_name};
  Outcome outcome = hs.handle(request);
  if (auto* wait = std::get_if<SyncWait>(&outcome)) {
    waiting_.push_back({caller, server_name, *wait, clock_.steady_ms + sync_timeout(c.path),
                        c.array_answer, std::move(done)});
    return;
  }
  Reply& reply = std::get<Reply>(outcome);
  commit(hs, reply);
  done(answer(reply.response, c.array_answer));
}

bool HomeserverHub::pump() {
  bool answered = false;
  for (std::size_t i = 0; i < waiting_.size();) {
    Waiting& w = waiting_[i];
    devserver::Homeserver* hs = servers_.at(w.server_name)->hs.get();
    std::optional<MatrixResult> result;
    if (!hs) {
      result = no_answer(w.server_name);
    } else {
      Outcome outcome = hs->resume_sync(w.wait, clock_.steady_ms >= w.deadline);
      if (auto* reply = std::get_if<Reply>(&outcome)) {
        commit(*hs, *reply);
        result = answer(reply->response, w.array_answer);
      }
    }
    if (!result) {
      ++i;
      continue;
    }
    Waiting done = std::move(w);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    done.done(std::move(*result));
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
  return at;
}

}  // namespace mrt::testing
