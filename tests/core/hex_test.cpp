#include <gtest/gtest.h>

#include <mrt/bytes.hpp>

namespace mrt {
namespace {

TEST(Hex, EncodesLowercase) {
  EXPECT_EQ(to_0x_hex(Bytes{0x00, 0xab, 0xff}), "0x00abff");
}

TEST(Hex, DecodesPrefixedLowercase) {
  auto b = parse_hex("0x00abff", HexPrefix::required);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (Bytes{0x00, 0xab, 0xff}));
}

TEST(Hex, EmptyIsZeroBytes) {
  auto b = parse_hex("0x", HexPrefix::required);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->empty());
}

TEST(Hex, RefusesUppercaseWhereLowercaseIsRequired) {
  EXPECT_EQ(parse_hex("0xAB", HexPrefix::required).error(), HexError::uppercase);
}

TEST(Hex, AcceptsUppercaseWhenAsked) {
  EXPECT_EQ(*parse_hex("AB", HexPrefix::forbidden, HexCase::any), (Bytes{0xab}));
}

TEST(Hex, RefusesMissingPrefix) {
  EXPECT_EQ(parse_hex("abcd", HexPrefix::required).error(), HexError::missing_prefix);
  EXPECT_EQ(parse_hex("0Xab", HexPrefix::required).error(), HexError::missing_prefix);
}

TEST(Hex, RefusesPrefixWhereForbidden) {
  EXPECT_EQ(parse_hex("0xab", HexPrefix::forbidden).error(), HexError::unexpected_prefix);
  EXPECT_EQ(parse_hex("0Xab", HexPrefix::forbidden).error(), HexError::unexpected_prefix);
}

TEST(Hex, RefusesOddLength) {
  EXPECT_EQ(parse_hex("0xabc", HexPrefix::required).error(), HexError::odd_length);
}

TEST(Hex, RefusesNonHexCharacters) {
  EXPECT_EQ(parse_hex("0xag", HexPrefix::required).error(), HexError::not_hex);
  EXPECT_EQ(parse_hex("0x a", HexPrefix::required).error(), HexError::not_hex);
}

}  // namespace
}  // namespace mrt
