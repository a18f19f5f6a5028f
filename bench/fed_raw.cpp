// The raw homeserver path of the federation benchmark (fed_bench.hpp): a plain Matrix user on
// the project's MatrixClient, with its own /sync loop.
#include <stdexcept>

#include "fed_bench.hpp"

namespace mrt::bench::fed {

namespace {

// The node's /sync filter (transport/node_worker_state.hpp), so that both paths ask the server
// for the same thing.
constexpr const char* kSyncFilter =
    R"({"room":{"timeline":{"limit":200},"state":{"lazy_load_members":true}}})";
constexpr std::int64_t kLongPollMs = 30000;

const json& field(const json& j, const char* name) {
  static const json kNull;
  auto it = j.find(name);
  return it == j.end() ? kNull : *it;
}

}  // namespace

json padded_content(const std::string& marker, std::size_t bytes) {
  json content = {{"n", marker}, {"pad", ""}};
  const std::size_t bare = content.dump().size();
  if (bytes > bare) content["pad"] = std::string(bytes - bare, 'x');
  return content;
}

RawUser::RawUser(const Server& server, std::string label)
    : label_(std::move(label)),
      key_(PrivateKey::generate()),
      server_name_(server.name),
      io_(std::make_unique<transport::HttpIo>()),
      client_(std::make_unique<transport::MatrixClient>(
          *io_, transport::MatrixClientOptions{.base_url = server.url})) {
  auto login = client_->login_ethereum(key_, server.name).get();
  if (!login)
    throw std::runtime_error("raw user " + label_ + ": login on " + server.url + ": " +
                             transport::describe(login.error()));
  user_id_ = login->user_id;
  device_id_ = login->device_id;
}

RawUser::~RawUser() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  io_->shutdown();  // the long-poll ends with `cancelled`
  if (thread_.joinable()) thread_.join();
  client_.reset();
}

void RawUser::start_sync() {
  auto first = client_->sync("", 0, kSyncFilter).get();
  if (!first)
    throw std::runtime_error("raw user " + label_ +
                             ": initial sync: " + transport::describe(first.error()));
  take(*first, Clock::now());
  thread_ = std::thread([this] { loop(); });
}

void RawUser::loop() {
  for (;;) {
    auto r = client_->sync(since_, kLongPollMs, kSyncFilter).get();
    const auto at = Clock::now();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (!r) {
      {
        std::lock_guard lock(mutex_);
        ++sync_errors_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    take(*r, at);
  }
}

void RawUser::take(const json& body, Clock::time_point at) {
  std::map<std::string, Clock::time_point> found;
  auto marked = [&](const char* prefix, const json& event) {
    const json& n = field(field(event, "content"), "n");
    if (n.is_string() && field(event, "sender") != user_id_)
      found.emplace(prefix + n.get<std::string>(), at);
  };
  for (const auto& e : field(field(body, "to_device"), "events")) marked("td:", e);
  const json& rooms = field(body, "rooms");
  if (const json& invite = field(rooms, "invite"); invite.is_object()) {
    for (const auto& [room_id, _] : invite.items()) found.emplace("invite:" + room_id, at);
  }
  if (const json& join = field(rooms, "join"); join.is_object()) {
    for (const auto& [room_id, room] : join.items()) {
      auto member = [&](const json& e) {
        if (field(e, "type") == "m.room.member" &&
            field(field(e, "content"), "membership") == "join" &&
            field(e, "state_key").is_string() && field(e, "state_key") != user_id_)
          found.emplace("join:" + room_id + " " + field(e, "state_key").get<std::string>(), at);
      };
      for (const auto& e : field(field(room, "state"), "events")) member(e);
      for (const auto& e : field(field(room, "timeline"), "events")) {
        member(e);
        marked("rm:", e);
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    ++syncs_;
    if (const json& next = field(body, "next_batch"); next.is_string()) since_ = next;
    for (auto& [key, t] : found) seen_.emplace(key, t);  // the first sighting counts
  }
  changed_.notify_all();
}

std::uint64_t RawUser::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

Clock::time_point RawUser::wait(const std::string& key, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_until(lock, deadline, [&] { return seen_.count(key) > 0; }))
    throw std::runtime_error("raw user " + label_ + " did not see " + key + " in time (" +
                             std::to_string(syncs_) + " syncs, " + std::to_string(sync_errors_) +
                             " failed)");
  return seen_.at(key);
}

}  // namespace mrt::bench::fed
