#include <gtest/gtest.h>

#include <mrt/matrix_identity.hpp>

namespace mrt {
namespace {

class MatrixIdentityTest : public ::testing::Test {
 protected:
  PrivateKey key = PrivateKey::generate();
  MatrixIdentity id = matrix_identity(key, "matrix.example.org");
};

TEST_F(MatrixIdentityTest, UserIdIsLowercaseAddressAtServer) {
  EXPECT_EQ(id.user_id, "@" + key.address().to_hex() + ":matrix.example.org");
}

TEST_F(MatrixIdentityTest, PasswordIsPersonalSignOfTheServerName) {
  EXPECT_EQ(id.password, personal_sign(key, as_bytes("matrix.example.org")));
}

TEST_F(MatrixIdentityTest, DisplaynameProvesTheUserId) {
  auto who = displayname_proves_user_id(id.user_id, id.displayname.to_hex());
  ASSERT_TRUE(who);
  EXPECT_EQ(*who, key.address());
}

TEST_F(MatrixIdentityTest, DisplaynameDoesNotProveTheSameLocalpartOnAnotherServer) {
  const std::string rogue = "@" + key.address().to_hex() + ":rogue.example.org";
  EXPECT_EQ(displayname_proves_user_id(rogue, id.displayname.to_hex()).error(),
            UserIdError::address_mismatch);
}

TEST_F(MatrixIdentityTest, DisplaynameOfAnotherKeyIsRefused) {
  const MatrixIdentity other = matrix_identity(PrivateKey::generate(), "matrix.example.org");
  EXPECT_EQ(displayname_proves_user_id(id.user_id, other.displayname.to_hex()).error(),
            UserIdError::address_mismatch);
}

TEST_F(MatrixIdentityTest, GarbageDisplaynameIsBad) {
  EXPECT_EQ(displayname_proves_user_id(id.user_id, "Alice").error(), UserIdError::bad_displayname);
}

TEST(UserId, LocalpartMustBeALowercaseAddress) {
  EXPECT_EQ(address_of_user_id("@alice:server").error(), UserIdError::localpart_not_address);
  EXPECT_EQ(address_of_user_id("@0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED:s").error(),
            UserIdError::localpart_not_address);
}

TEST(UserId, MalformedIdsAreRefused) {
  for (const char* id : {"", "@", "0xab:s", "@0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                         "@0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed:"}) {
    EXPECT_EQ(address_of_user_id(id).error(), UserIdError::malformed) << id;
  }
}

}  // namespace
}  // namespace mrt
