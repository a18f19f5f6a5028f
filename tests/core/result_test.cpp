#include <gtest/gtest.h>

#include <mrt/result.hpp>

namespace mrt {
namespace {

enum class Why { nope = 1 };

TEST(Result, HoldsAValue) {
  Result<int, Why> r = 7;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
}

TEST(Result, HoldsAnError) {
  Result<int, Why> r = fail(Why::nope);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Why::nope);
}

TEST(Result, ReadingTheValueOfAnErrorThrows) {
  Result<int, Why> r = fail(Why::nope);
  EXPECT_THROW((void)r.value(), BadResultAccess);
}

TEST(Result, ReadingTheErrorOfAValueThrows) {
  Result<int, Why> r = 1;
  EXPECT_THROW((void)r.error(), std::logic_error);
}

TEST(Result, ValueAndErrorOfTheSameTypeStayApart) {
  Result<int, int> value = 3;
  Result<int, int> error = fail(3);
  EXPECT_TRUE(value.ok());
  EXPECT_FALSE(error.ok());
}

}  // namespace
}  // namespace mrt
