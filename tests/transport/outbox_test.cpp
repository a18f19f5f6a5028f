// Outbox: a message's resend schedule and its expiry, in virtual milliseconds.
#include "outbox.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace mrt::transport {
namespace {

constexpr std::int64_t kWall = 1'764'000'000'000;
constexpr Outbox::Timing kTiming{
    .resend_initial_ms = 2000, .resend_max_ms = 60'000, .max_age_ms = 600'000};

OutboxEntry entry(const std::string& nonce, const Address& to) {
  return {{{"nonce", nonce}}, nonce, to, kWall};
}

// The steady times at which `nonce` is resent within `until` ms, ticking every `step` ms.
std::vector<std::int64_t> resend_times(Outbox& outbox, const std::string& nonce, std::int64_t until,
                                       std::int64_t step = 100) {
  std::vector<std::int64_t> times;
  for (std::int64_t t = 0; t <= until; t += step) {
    for (const auto& r : outbox.due(t, kWall + t).resends)
      if (r.nonce == nonce) times.push_back(t);
  }
  return times;
}

const Address kBob = PrivateKey::generate().address();

TEST(Outbox, AMessageIsResentAfterTheInitialDelayThenDoublingUpToTheMaximum) {
  Outbox outbox(kTiming);
  outbox.add(entry("n1", kBob), 0);
  EXPECT_EQ(resend_times(outbox, "n1", 200'000),
            (std::vector<std::int64_t>{2000, 6000, 14'000, 30'000, 62'000, 122'000, 182'000}));
}

TEST(Outbox, EachResendCountsAnAttempt) {
  Outbox outbox(kTiming);
  outbox.add(entry("n1", kBob), 0);
  EXPECT_EQ(outbox.attempts("n1"), 1) << "the first transmission";
  const auto due = outbox.due(2000, kWall);
  ASSERT_EQ(due.resends.size(), 1u);
  EXPECT_EQ(due.resends[0].attempts, 1) << "transmissions before this one";
  EXPECT_EQ(due.resends[0].to, kBob);
  EXPECT_EQ(outbox.attempts("n1"), 2);
}

TEST(Outbox, AMessagePastItsMaxAgeExpiresInsteadOfBeingResent) {
  Outbox outbox(kTiming);
  outbox.add(entry("n1", kBob), 0);
  EXPECT_TRUE(outbox.due(0, kWall + kTiming.max_age_ms).expired.empty()) << "at max age: not yet";
  const auto due = outbox.due(700'000, kWall + kTiming.max_age_ms + 1);
  EXPECT_EQ(due.expired, std::vector<std::string>{"n1"});
  EXPECT_TRUE(due.resends.empty());
  EXPECT_FALSE(due.waiting.contains(kBob));
  EXPECT_NE(outbox.find("n1"), nullptr) << "the caller removes it once it is reported";
}

TEST(Outbox, TheRecipientsOfMessagesNotExpiredAreWaiting) {
  Outbox outbox(kTiming);
  const Address carol = PrivateKey::generate().address();
  outbox.add(entry("n1", kBob), 0);
  outbox.add(entry("n2", carol), 0);
  const auto due = outbox.due(10, kWall);
  EXPECT_TRUE(due.resends.empty()) << "nothing due yet";
  EXPECT_EQ(due.waiting, (std::set<Address>{kBob, carol}));
}

TEST(Outbox, ARemovedMessageIsNeitherResentNorExpired) {
  Outbox outbox(kTiming);
  outbox.add(entry("n1", kBob), 0);
  const auto removed = outbox.remove("n1");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->to, kBob);
  EXPECT_FALSE(outbox.remove("n1")) << "once";
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(outbox.attempts("n1"), 0);
  const auto due = outbox.due(1'000'000, kWall + 1'000'000);
  EXPECT_TRUE(due.resends.empty() && due.expired.empty());
}

TEST(Outbox, AHugeResendMaximumDoesNotOverflowTheDelay) {
  Outbox outbox(
      {.resend_initial_ms = 1000, .resend_max_ms = INT64_MAX / 2, .max_age_ms = INT64_MAX / 4});
  outbox.add(entry("n1", kBob), 0);
  std::int64_t t = 0;
  for (int i = 0; i < 40; ++i) {
    t += 1000LL << std::min(i, 20);
    ASSERT_EQ(outbox.due(t, kWall).resends.size(), 1u) << "resend " << i;
  }
}

}  // namespace
}  // namespace mrt::transport
