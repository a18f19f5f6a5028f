// transport/rolling_window.hpp (internal): how many times something happened per key within
// the last window (an hour for the spam policy's caps), admitting one more only below a limit.
// Unlike a token bucket it never lets more than `limit` through in any window, which is what
// "at most N per hour" promises.
#pragma once

#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <string>

namespace mrt::transport {

class RollingWindow {
 public:
  static constexpr std::int64_t kHourMs = 3'600'000;

  explicit RollingWindow(std::int64_t window_ms) : window_ms_(window_ms) {}

  // Counts one event of `key` at `now_ms` and returns true, unless `key` already has `limit`
  // events in the window ending now (then nothing is counted).
  bool admit(const std::string& key, std::size_t limit, std::int64_t now_ms) {
    std::deque<std::int64_t>& times = times_[key];
    expire(times, now_ms);
    if (times.size() >= limit) {
      if (times.empty()) times_.erase(key);  // limit 0: keep no trace of the key
      return false;
    }
    times.push_back(now_ms);
    return true;
  }

  // Whether admit() would refuse `key` now.
  bool full(const std::string& key, std::size_t limit, std::int64_t now_ms) const {
    auto it = times_.find(key);
    if (it == times_.end()) return limit == 0;
    std::size_t in_window = 0;
    for (std::int64_t t : it->second) in_window += t > now_ms - window_ms_ ? 1 : 0;
    return in_window >= limit;
  }

  // Forgets keys with no event in the window, so that keys seen once (a sender key made up
  // per message) do not pile up.
  void prune(std::int64_t now_ms) {
    for (auto it = times_.begin(); it != times_.end();) {
      expire(it->second, now_ms);
      it = it->second.empty() ? times_.erase(it) : std::next(it);
    }
  }

  std::size_t keys() const { return times_.size(); }

 private:
  void expire(std::deque<std::int64_t>& times, std::int64_t now_ms) const {
    while (!times.empty() && times.front() <= now_ms - window_ms_) times.pop_front();
  }

  std::int64_t window_ms_;
  std::map<std::string, std::deque<std::int64_t>> times_;
};

}  // namespace mrt::transport
