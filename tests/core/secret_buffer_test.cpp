#include <sstream>

#include <gtest/gtest.h>

#include <mrt/bytes.hpp>

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

TEST(Wipe, ClearsAString) {
  std::string s = "password";
  wipe(s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace mrt
