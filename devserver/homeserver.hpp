// The dev homeserver without its sockets: `handle` takes one request and answers it, or, for a
// long-polling /sync with nothing to report, says what to wait for. The HTTP layer
// (http_server.hpp) commits each reply's writes before answering and wakes waiting syncs once
// they are durable; the fuzz target drives the same object with no socket at all.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <mrt/result.hpp>
#include <mrt/store/changes.hpp>
#include <mrt/store/env.hpp>

#include "api.hpp"
#include "rate_limit.hpp"

namespace mrt::devserver {

struct Config {
  std::string server_name = "localhost";
  std::filesystem::path data_dir;
  bool open_registration = false;
  RateLimits rate_limits;
  // Full: a reply is sent only once its writes survive a crash. Off: tests and fuzzing only.
  store::Durability durability = store::Durability::full;
  // Longest /sync long-poll honoured; longer timeouts are cut to this.
  std::int64_t max_sync_timeout_ms = 60'000;
  // Further server names this same state answers for, chosen by a request's Host: a federation
  // in one process (the test hub's), without federation's lag or partial replication. A user,
  // alias or room is created under the name its request addressed; a user logs in only there.
  std::vector<std::string> also_serves;
  // PROTOCOL §6 as a homeserver rule (mrt/broadcast_event_rule.hpp): a network.raiden.envelopes
  // event in a room whose canonical alias names a broadcast topic is refused (403) unless each
  // of its envelopes passes. Off by default, so that node tests can send a room forged envelopes.
  bool broadcast_rules = false;
};

struct Reply {
  Response response;
  std::shared_ptr<store::Changes> changes;  // null: nothing to persist
  std::uint64_t position = 0;               // the stream position once `changes` are durable
  std::set<std::string> wake;               // users whose waiting syncs to wake then
  // False for writes the client need not wait for (a sync's to-device clean-up).
  bool answer_after_commit = true;
};

// A /sync that found nothing new: wait until `deadline` or a wake-up of `user`, then resume.
struct SyncWait {
  std::string user;
  std::string device;
  std::string query;  // the request's query, parsed again on resume
  std::chrono::steady_clock::time_point deadline;
};

using Outcome = std::variant<Reply, SyncWait>;

class Homeserver {
 public:
  static Result<std::unique_ptr<Homeserver>, std::string> open(Config config);
  ~Homeserver();

  // Never throws: every failure is a Matrix error response.
  Outcome handle(const Request& request) noexcept;
  // After a wake-up or the deadline. `last_try`: answer even when there is nothing new.
  Outcome resume_sync(const SyncWait& wait, bool last_try) noexcept;
  // A reply's changes are durable: syncs may now report what they wrote.
  void mark_durable(std::uint64_t position);

  store::Env& env();
  const Config& config() const;

 private:
  struct Impl;
  explicit Homeserver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt::devserver
