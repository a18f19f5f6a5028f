// core/token_bucket.hpp (internal, shared with the layers above and the dev homeserver): the one
// token bucket of mrt. The node's budget of accepted envelopes per sender (PROTOCOL §4 rule 8),
// its verification gate per Matrix user and the dev homeserver's rate limits all use it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
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
      tokens = available(rate, now_ms);
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

  // The tokens there would be at `now_ms` (nothing is taken).
  double available(const TokenRate& rate, std::int64_t now_ms) const {
    if (now_ms <= at_ms) return tokens;
    return std::min(rate.burst,
                    tokens + static_cast<double>(now_ms - at_ms) * rate.per_second / 1000.0);
  }
};

// One bucket per key, for keys a peer chooses (addresses, user ids): a bucket that has refilled
// to its burst is the same as none, so such buckets are dropped whenever the map has doubled
// since the last sweep. The map then holds at most about the keys seen within one refill time
// (burst / rate), twice over, however many keys come and go.
template <class Key>
class TokenBuckets {
 public:
  explicit TokenBuckets(TokenRate rate) : rate_(rate) {}

  // Takes one token from `key`'s bucket (a new key starts full): false when it has none.
  bool take(const Key& key, std::int64_t now_ms) {
    if (buckets_.size() >= sweep_at_) sweep(now_ms);
    auto it = buckets_.try_emplace(key, TokenBucket::full(rate_, now_ms)).first;
    return !it->second.take(rate_, now_ms);
  }
  // Whether `key`'s bucket has a token now (nothing is taken).
  bool has_token(const Key& key, std::int64_t now_ms) const {
    auto it = buckets_.find(key);
    return it == buckets_.end() || it->second.available(rate_, now_ms) >= 1;
  }
  std::size_t size() const { return buckets_.size(); }

 private:
  static constexpr std::size_t kFirstSweep = 1024;
  void sweep(std::int64_t now_ms) {
    std::erase_if(buckets_, [&](const auto& kv) {
      return kv.second.available(rate_, now_ms) >= rate_.burst;
    });
    sweep_at_ = std::max(kFirstSweep, 2 * buckets_.size());
  }

  TokenRate rate_;
  std::map<Key, TokenBucket> buckets_;
  std::size_t sweep_at_ = kFirstSweep;
};

}  // namespace mrt
