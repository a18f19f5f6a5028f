// core/token_bucket.hpp (internal, shared with the layers above and the dev homeserver): the one
// token bucket of mrt. The node's budget of accepted envelopes per sender (PROTOCOL §4 rule 8)
// and the dev homeserver's rate limits both use it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace mrt {

struct TokenRate {
  double per_second = 0;  // refill; at most `burst` tokens are kept
  double burst = 1;
};

// A bucket holds no rate of its own, so that a map of many buckets (one per sender) stays small.
struct TokenBucket {
  double tokens = 0;
  std::int64_t at_ms = 0;  // when `tokens` was last brought up to date

  static TokenBucket full(const TokenRate& rate, std::int64_t now_ms) {
    return {rate.burst, now_ms};
  }

  // Takes one token at `now_ms` (any monotonic milliseconds): nullopt when there was one, else
  // the milliseconds until there will be (nothing is taken then; INT64_MAX for a rate too small
  // to refill one in that range, zero included).
  std::optional<std::int64_t> take(const TokenRate& rate, std::int64_t now_ms) {
    if (now_ms > at_ms) {
      tokens = std::min(rate.burst,
                        tokens + static_cast<double>(now_ms - at_ms) * rate.per_second / 1000.0);
      at_ms = now_ms;
    }
    if (tokens >= 1) {
      tokens -= 1;
      return std::nullopt;
    }
    const double wait_ms = std::ceil((1 - tokens) / rate.per_second * 1000);
    constexpr auto kNever = std::numeric_limits<std::int64_t>::max();
    return wait_ms < static_cast<double>(kNever) ? static_cast<std::int64_t>(wait_ms) : kNever;
  }
};

}  // namespace mrt
