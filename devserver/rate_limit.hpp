// Per-user token buckets for the actions a spammer would repeat (docs/devserver.md, "Rate
// limits"): each action has a refill rate and a burst; an empty bucket answers 429
// M_LIMIT_EXCEEDED with the time until the next token.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/token_bucket.hpp"

namespace mrt::devserver {

enum class Action { send, to_device, invite, create_room, login };
inline constexpr Action kAllActions[] = {Action::send, Action::to_device, Action::invite,
                                         Action::create_room, Action::login};
std::string_view to_string(Action a);

// per_second 0: unlimited.
using Bucket = TokenRate;

struct RateLimits {
  std::map<Action, Bucket> buckets = {
      {Action::send, {50, 500}},      {Action::to_device, {100, 1000}}, {Action::invite, {5, 50}},
      {Action::create_room, {2, 20}}, {Action::login, {1, 10}},
  };
  // "send=10/100,login=0.5/5": per second / burst; "send=0" lifts the limit.
  // Returns an error message for bad text.
  std::optional<std::string> parse(std::string_view spec);
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimits limits) : limits_(std::move(limits)) {}
  // Takes one token for (key, action); nullopt when allowed, else milliseconds to wait.
  std::optional<std::int64_t> take(const std::string& key, Action action,
                                   Clock::time_point now = Clock::now());

 private:
  RateLimits limits_;
  std::map<std::pair<std::string, Action>, TokenBucket> state_;
};

}  // namespace mrt::devserver
