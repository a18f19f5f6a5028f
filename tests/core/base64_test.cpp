#include <gtest/gtest.h>

#include <mrt/bytes.hpp>

namespace mrt {
namespace {

TEST(Base64, RefusesBytesOutsideTheAlphabet) {
  // libsodium 1.0.18 alone decodes 0xff as '/' (found by the hex_base64 fuzz target).
  EXPECT_FALSE(parse_base64_unpadded("\xffw"));
  EXPECT_FALSE(
      parse_base64_unpadded("AQ\x80"
                            "D"));
}

TEST(Base64, RoundTripsUnpadded) {
  const Bytes data = {1, 2, 3, 4};
  EXPECT_EQ(base64_unpadded(data), "AQIDBA");
  EXPECT_EQ(*parse_base64_unpadded("AQIDBA"), data);
}

TEST(Base64, RefusesNonZeroSpareBits) {
  EXPECT_FALSE(parse_base64_unpadded("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"));
  EXPECT_TRUE(parse_base64_unpadded("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"));
}

TEST(Base64, AcceptsCompletePaddingOnly) {
  EXPECT_EQ(*parse_base64_unpadded("AQIDBA=="), (Bytes{1, 2, 3, 4}));
  EXPECT_FALSE(parse_base64_unpadded("AQIDBA="));
  EXPECT_FALSE(parse_base64_unpadded("AQIDBA==="));
}

TEST(Base64, RefusesUrlSafeAlphabetAndWhitespace) {
  EXPECT_FALSE(parse_base64_unpadded("-_8"));
  EXPECT_FALSE(parse_base64_unpadded("AQ ID"));
}

}  // namespace
}  // namespace mrt
