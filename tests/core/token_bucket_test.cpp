#include "core/token_bucket.hpp"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace mrt {
namespace {

constexpr TokenRate kTenPerSecondBurstTwo{10, 2};

TEST(TokenBucket, AFullBucketAllowsItsBurstThenSaysHowLongToWait) {
  TokenBucket b = TokenBucket::full(kTenPerSecondBurstTwo, 1000);
  EXPECT_FALSE(b.take(kTenPerSecondBurstTwo, 1000));
  EXPECT_FALSE(b.take(kTenPerSecondBurstTwo, 1000));
  EXPECT_EQ(b.take(kTenPerSecondBurstTwo, 1000), 100);
}

TEST(TokenBucket, RefillsAtItsRateUpToTheBurst) {
  TokenBucket b = TokenBucket::full(kTenPerSecondBurstTwo, 0);
  (void)b.take(kTenPerSecondBurstTwo, 0);
  (void)b.take(kTenPerSecondBurstTwo, 0);
  EXPECT_FALSE(b.take(kTenPerSecondBurstTwo, 100));  // one token back after 100 ms
  EXPECT_TRUE(b.take(kTenPerSecondBurstTwo, 100));
  // A long pause refills to the burst, not beyond.
  EXPECT_FALSE(b.take(kTenPerSecondBurstTwo, 60'000));
  EXPECT_FALSE(b.take(kTenPerSecondBurstTwo, 60'000));
  EXPECT_TRUE(b.take(kTenPerSecondBurstTwo, 60'000));
}

TEST(TokenBucket, ATimeBeforeTheLastTakeRefillsNothing) {
  TokenBucket b = TokenBucket::full(TokenRate{10, 1}, 5000);
  EXPECT_FALSE(b.take(TokenRate{10, 1}, 5000));
  EXPECT_TRUE(b.take(TokenRate{10, 1}, 1000));
  EXPECT_EQ(b.tokens, 0);
}

TEST(TokenBucket, AZeroRateNeverRefillsAndSaysSoWithoutOverflow) {
  const TokenRate none{0, 1};
  TokenBucket b = TokenBucket::full(none, 0);
  EXPECT_FALSE(b.take(none, 0));
  EXPECT_EQ(b.take(none, 1'000'000), std::numeric_limits<std::int64_t>::max());
}

TEST(TokenBuckets, EachKeyHasItsOwnBucket) {
  TokenBuckets<int> buckets(kTenPerSecondBurstTwo);
  EXPECT_TRUE(buckets.take(1, 0));
  EXPECT_TRUE(buckets.take(1, 0));
  EXPECT_FALSE(buckets.take(1, 0));
  EXPECT_TRUE(buckets.take(2, 0)) << "another key starts full";
  EXPECT_TRUE(buckets.take(1, 100)) << "refilled one token in 100 ms";
}

TEST(TokenBuckets, AskingForATokenTakesNone) {
  TokenBuckets<int> buckets(kTenPerSecondBurstTwo);
  EXPECT_TRUE(buckets.has_token(1, 0)) << "a key never seen has a full bucket";
  ASSERT_TRUE(buckets.take(1, 0));
  ASSERT_TRUE(buckets.take(1, 0));
  EXPECT_FALSE(buckets.has_token(1, 0));
  EXPECT_TRUE(buckets.has_token(1, 100)) << "refilled";
  EXPECT_TRUE(buckets.has_token(1, 100)) << "and still there: nothing was taken";
}

TEST(TokenBuckets, KeysThatComeOnceDoNotAccumulate) {
  TokenBuckets<int> buckets(kTenPerSecondBurstTwo);
  // A new key every millisecond for ten minutes: each bucket is full again 200 ms after its
  // only take, so the map stays near what one refill time brings.
  for (int key = 0; key < 600'000; ++key) ASSERT_TRUE(buckets.take(key, key));
  EXPECT_LE(buckets.size(), 2048u);
}

TEST(TokenBuckets, ASpentBucketSurvivesASweep) {
  TokenBuckets<int> buckets(TokenRate{0.001, 1});
  ASSERT_TRUE(buckets.take(-1, 0));
  for (int key = 0; key < 5000; ++key) buckets.take(key, 1);
  EXPECT_FALSE(buckets.take(-1, 2)) << "a sweep must not give a spender a new bucket";
}

}  // namespace
}  // namespace mrt
