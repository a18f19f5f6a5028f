// RollingWindow, the counter behind the spam policy's hourly caps: at most `limit` events per
// key in any window, no matter how they bunch up.
#include "rolling_window.hpp"

#include <gtest/gtest.h>

namespace mrt::transport {
namespace {

TEST(RollingWindow, AdmitsUpToTheLimitWithinTheWindow) {
  RollingWindow w(1000);
  EXPECT_TRUE(w.admit("k", 2, 0));
  EXPECT_TRUE(w.admit("k", 2, 10));
  EXPECT_FALSE(w.admit("k", 2, 999));
}

TEST(RollingWindow, AdmitsAgainOnceTheOldestEventLeftTheWindow) {
  RollingWindow w(1000);
  ASSERT_TRUE(w.admit("k", 2, 0));
  ASSERT_TRUE(w.admit("k", 2, 500));
  EXPECT_FALSE(w.admit("k", 2, 999));
  EXPECT_TRUE(w.admit("k", 2, 1000));   // the event at 0 is out
  EXPECT_FALSE(w.admit("k", 2, 1400));  // 500 and 1000 are in
}

TEST(RollingWindow, RefusalsAreNotCounted) {
  RollingWindow w(1000);
  ASSERT_TRUE(w.admit("k", 1, 0));
  for (int t = 1; t < 1000; t += 100) ASSERT_FALSE(w.admit("k", 1, t));
  EXPECT_TRUE(w.admit("k", 1, 1000));
}

TEST(RollingWindow, KeysAreCountedApart) {
  RollingWindow w(1000);
  ASSERT_TRUE(w.admit("a", 1, 0));
  EXPECT_FALSE(w.admit("a", 1, 1));
  EXPECT_TRUE(w.admit("b", 1, 1));
}

TEST(RollingWindow, FullSaysWhatAdmitWouldDoWithoutCounting) {
  RollingWindow w(1000);
  EXPECT_FALSE(w.full("k", 1, 0));
  EXPECT_FALSE(w.full("k", 1, 0));  // asking twice counts nothing
  ASSERT_TRUE(w.admit("k", 1, 0));
  EXPECT_TRUE(w.full("k", 1, 500));
  EXPECT_FALSE(w.full("k", 1, 1000));
  EXPECT_TRUE(w.full("other", 0, 0));  // a limit of 0 admits nothing
}

TEST(RollingWindow, PruneForgetsKeysWithNothingInTheWindow) {
  RollingWindow w(1000);
  ASSERT_TRUE(w.admit("old", 5, 0));
  ASSERT_TRUE(w.admit("new", 5, 900));
  ASSERT_FALSE(w.admit("none", 0, 900));  // a refused key leaves no trace
  EXPECT_EQ(w.keys(), 2u);
  w.prune(1500);
  EXPECT_EQ(w.keys(), 1u);
}

}  // namespace
}  // namespace mrt::transport
