#include <sstream>

#include <gtest/gtest.h>

#include <mrt/eth.hpp>

namespace mrt {
namespace {

TEST(PrivateKey, KeyOneHasTheWellKnownAddress) {
  auto key =
      PrivateKey::from_hex("0000000000000000000000000000000000000000000000000000000000000001");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->address().to_checksummed(), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
}

TEST(PrivateKey, RefusesZero) {
  EXPECT_EQ(PrivateKey::from_bytes(Bytes(32, 0)).error(), KeyError::out_of_range);
}

TEST(PrivateKey, RefusesTheGroupOrder) {
  EXPECT_EQ(
      PrivateKey::from_hex("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
          .error(),
      KeyError::out_of_range);
}

TEST(PrivateKey, RefusesWrongLength) {
  EXPECT_EQ(PrivateKey::from_bytes(Bytes(31, 1)).error(), KeyError::wrong_length);
}

TEST(PrivateKey, RefusesBadHex) {
  EXPECT_EQ(PrivateKey::from_hex("0xzz").error(), KeyError::bad_hex);
}

TEST(PrivateKey, GeneratesDistinctKeys) {
  EXPECT_NE(PrivateKey::generate().address(), PrivateKey::generate().address());
}

TEST(PrivateKey, MovedFromKeyIsWiped) {
  PrivateKey a = PrivateKey::generate();
  PrivateKey b = std::move(a);
  const ByteView old = a.secret();  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_TRUE(std::all_of(old.begin(), old.end(), [](std::uint8_t x) { return x == 0; }));
  EXPECT_FALSE(std::all_of(b.secret().begin(), b.secret().end(), [](auto x) { return x == 0; }));
}

TEST(PrivateKey, CloneHasTheSameKey) {
  PrivateKey a = PrivateKey::generate();
  EXPECT_EQ(a.clone().address(), a.address());
}

TEST(PrivateKey, PrintsAddressButNotTheSecret) {
  auto key =
      PrivateKey::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  ASSERT_TRUE(key);
  std::ostringstream os;
  os << *key;
  EXPECT_EQ(os.str(), "PrivateKey(0x2c7536e3605d9c16a7a3d7b1898e529396a65c23, <redacted>)");
}

}  // namespace
}  // namespace mrt
