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

}  // namespace
}  // namespace mrt
