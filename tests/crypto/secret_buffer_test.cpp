#include <sstream>

#include <gtest/gtest.h>

#include <mrt/bytes.hpp>
#include <mrt/eth.hpp>

namespace mrt {
namespace {

TEST(SecretBuffer, PrintsRedacted) {
  SecretBuffer s(as_bytes("hunter2"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "<redacted>");
}

TEST(SecretBuffer, MoveLeavesTheSourceEmpty) {
  SecretBuffer a(as_bytes("secret"));
  SecretBuffer b = std::move(a);
  EXPECT_EQ(b.size(), 6u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): checking the moved-from state
}

TEST(PrivateKey, PrintsAddressButNotTheSecret) {
  auto key =
      PrivateKey::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  ASSERT_TRUE(key);
  std::ostringstream os;
  os << *key;
  EXPECT_EQ(os.str(), "PrivateKey(0x2c7536e3605d9c16a7a3d7b1898e529396a65c23, <redacted>)");
}

TEST(Wipe, ClearsAString) {
  std::string s = "password";
  wipe(s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace mrt
