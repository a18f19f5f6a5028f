#include <gtest/gtest.h>

#include <mrt/eth.hpp>

namespace mrt {
namespace {

// secp256k1 group order n, big-endian.
constexpr std::array<std::uint8_t, 32> kOrder = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

// n - s, the other (high) S of the same signature.
void negate_s(Signature& sig) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kOrder[i] - sig.bytes[32 + i] - borrow;
    borrow = d < 0;
    sig.bytes[32 + i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  sig.bytes[64] = sig.bytes[64] == 27 ? 28 : 27;
}

class PersonalSign : public ::testing::Test {
 protected:
  PrivateKey key = PrivateKey::generate();
  Bytes message = {'h', 'e', 'l', 'l', 'o'};
  Signature sig = personal_sign(key, message);
};

TEST_F(PersonalSign, RecoversTheSigner) {
  EXPECT_EQ(*ecrecover(message, sig), key.address());
}

TEST_F(PersonalSign, IsDeterministic) {
  EXPECT_EQ(personal_sign(key, message), sig);
}

TEST_F(PersonalSign, VIs27Or28) {
  EXPECT_TRUE(sig.bytes[64] == 27 || sig.bytes[64] == 28);
}

TEST_F(PersonalSign, HexIs0xAnd130LowercaseDigits) {
  const std::string hex = sig.to_hex();
  EXPECT_EQ(hex.size(), 132u);
  EXPECT_EQ(*Signature::parse(hex), sig);
}

TEST_F(PersonalSign, RecoverAcceptsV0And1) {
  sig.bytes[64] = static_cast<std::uint8_t>(sig.bytes[64] - 27);
  EXPECT_EQ(*ecrecover(message, sig), key.address());
}

TEST_F(PersonalSign, RecoverRefusesOtherV) {
  for (int v : {2, 26, 29, 255}) {
    sig.bytes[64] = static_cast<std::uint8_t>(v);
    EXPECT_EQ(ecrecover(message, sig).error(), SignatureError::bad_v) << v;
  }
}

TEST_F(PersonalSign, RecoverRefusesHighS) {
  negate_s(sig);
  EXPECT_EQ(ecrecover(message, sig).error(), SignatureError::high_s);
}

TEST_F(PersonalSign, RecoverRefusesZeroROrS) {
  Signature zero_r = sig, zero_s = sig;
  std::fill_n(zero_r.bytes.begin(), 32, 0);
  std::fill_n(zero_s.bytes.begin() + 32, 32, 0);
  EXPECT_EQ(ecrecover(message, zero_r).error(), SignatureError::r_or_s_out_of_range);
  EXPECT_EQ(ecrecover(message, zero_s).error(), SignatureError::r_or_s_out_of_range);
}

TEST_F(PersonalSign, RecoverRefusesROrSAtTheOrder) {
  Signature r_is_n = sig;
  std::copy(kOrder.begin(), kOrder.end(), r_is_n.bytes.begin());
  EXPECT_EQ(ecrecover(message, r_is_n).error(), SignatureError::r_or_s_out_of_range);
}

TEST_F(PersonalSign, RecoverRefusesAnRWithNoCurvePoint) {
  // x = 5: 5^3 + 7 = 132 is not a square mod p, so no point has this x.
  std::fill_n(sig.bytes.begin(), 32, 0);
  sig.bytes[31] = 5;
  EXPECT_EQ(ecrecover(message, sig).error(), SignatureError::no_key);
}

TEST_F(PersonalSign, OtherMessageRecoversAnotherAddress) {
  auto other = ecrecover(as_bytes("hellp"), sig);
  ASSERT_TRUE(other);  // a valid signature over other data recovers some key: not an error
  EXPECT_NE(*other, key.address());
}

TEST_F(PersonalSign, MalformedTextIsMalformedNotBad) {
  std::string hex = sig.to_hex();
  std::string upper = hex;
  upper[10] = 'A';
  if (hex[10] == 'a') upper[10] = 'B';
  EXPECT_EQ(ecrecover(message, hex.substr(2)).error(), SignatureError::malformed);
  EXPECT_EQ(ecrecover(message, "0X" + hex.substr(2)).error(), SignatureError::malformed);
  EXPECT_EQ(ecrecover(message, upper).error(), SignatureError::malformed);
  EXPECT_EQ(ecrecover(message, hex.substr(0, 130)).error(), SignatureError::malformed);
  EXPECT_EQ(ecrecover(message, hex + "00").error(), SignatureError::malformed);
}

TEST(PersonalMessageHash, PrefixesDecimalLength) {
  // keccak256("\x19Ethereum Signed Message:\n5hello"), as every EIP-191 implementation gives it.
  EXPECT_EQ(to_0x_hex(personal_message_hash(as_bytes("hello"))),
            "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
}

}  // namespace
}  // namespace mrt
