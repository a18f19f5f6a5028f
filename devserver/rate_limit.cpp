#include "rate_limit.hpp"

#include <charconv>
#include <cmath>

namespace mrt::devserver {

std::string_view to_string(Action a) {
  switch (a) {
    case Action::send:
      return "send";
    case Action::to_device:
      return "to_device";
    case Action::invite:
      return "invite";
    case Action::create_room:
      return "create_room";
    case Action::login:
      return "login";
  }
  return "?";
}

namespace {

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::optional<std::string> RateLimits::parse(std::string_view spec) {
  std::size_t start = 0;
  while (start < spec.size()) {
    std::size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view item = spec.substr(start, end - start);
    start = end + 1;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return "expected NAME=RATE[/BURST], got '" + std::string(item) + "'";
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    std::optional<Action> action;
    for (Action a : kAllActions) {
      if (to_string(a) == name) action = a;
    }
    if (!action) return "unknown rate limit '" + std::string(name) + "'";
    const std::size_t slash = value.find('/');
    auto rate = parse_number(value.substr(0, slash));
    std::optional<double> burst = 1.0;
    if (slash != std::string_view::npos) burst = parse_number(value.substr(slash + 1));
    if (!rate || !burst || *burst < 1) return "bad rate limit value '" + std::string(value) + "'";
    buckets[*action] = {*rate, *burst};
  }
  return std::nullopt;
}

std::optional<std::int64_t> RateLimiter::take(const std::string& key, Action action,
                                              Clock::time_point now) {
  const Bucket bucket = limits_.buckets[action];
  if (bucket.per_second <= 0) return std::nullopt;
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return state_.try_emplace({key, action}, TokenBucket::full(bucket, now_ms))
      .first->second.take(bucket, now_ms);
}

}  // namespace mrt::devserver
