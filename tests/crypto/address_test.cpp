#include <gtest/gtest.h>

#include <mrt/eth.hpp>

namespace mrt {
namespace {

// EIP-55's own examples.
constexpr const char* kChecksummed[] = {
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

TEST(Address, PrintsEip55Checksum) {
  for (const char* text : kChecksummed) {
    auto a = Address::parse_checksummed(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->to_checksummed(), text);
  }
}

TEST(Address, WireFormIsLowercase) {
  auto a = Address::parse_checksummed(kChecksummed[0]);
  EXPECT_EQ(a->to_hex(), "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
}

TEST(Address, ParseAcceptsOnlyLowercase) {
  EXPECT_TRUE(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
  EXPECT_EQ(Address::parse(kChecksummed[0]).error(), AddressError::not_lowercase);
}

TEST(Address, ParseRefusesWrongLengthAndPrefix) {
  EXPECT_EQ(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").error(),
            AddressError::malformed);
  EXPECT_EQ(Address::parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00").error(),
            AddressError::malformed);
}

TEST(Address, ChecksummedParseRefusesABrokenChecksum) {
  EXPECT_EQ(Address::parse_checksummed("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").error(),
            AddressError::bad_checksum);
}

TEST(Address, ChecksummedParseAcceptsUniformCase) {
  EXPECT_TRUE(Address::parse_checksummed("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
  EXPECT_TRUE(Address::parse_checksummed("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED"));
}

TEST(Address, FromPublicKeyNeedsAnUncompressedKey) {
  Bytes compressed(33, 0x02);
  EXPECT_THROW(Address::from_public_key(compressed), std::invalid_argument);
}

}  // namespace
}  // namespace mrt
