// Presence: an address's reachability from the presence of its validated user ids.
#include "presence.hpp"

#include <gtest/gtest.h>

#include <mrt/matrix_identity.hpp>

namespace mrt::transport {
namespace {

const Address kBob = PrivateKey::generate().address();
const std::string kBobHere = matrix_user_id(kBob, "a.test");
const std::string kBobThere = matrix_user_id(kBob, "b.test");

bool any(const std::string&) {
  return true;
}

TEST(Presence, AnAddressWithNoPresenceIsUnknown) {
  Presence presence;
  EXPECT_EQ(presence.recompute(kBob, any), Reachability::unknown);
  EXPECT_EQ(presence.last(kBob), Reachability::unknown);
}

TEST(Presence, OneOnlineIdMakesTheAddressReachable) {
  Presence presence;
  presence.set(kBobHere, "offline");
  presence.set(kBobThere, "online");
  EXPECT_EQ(presence.recompute(kBob, any), Reachability::reachable);
  EXPECT_EQ(presence.last(kBob), Reachability::reachable);
}

TEST(Presence, OfflineOrUnavailableIdsMakeItUnreachable) {
  Presence presence;
  presence.set(kBobHere, "unavailable");
  EXPECT_EQ(presence.recompute(kBob, any), Reachability::unreachable);
  presence.set(kBobHere, "offline");
  EXPECT_EQ(presence.recompute(kBob, any), Reachability::unreachable);
}

TEST(Presence, AnIdThatIsNotValidatedDoesNotCount) {
  Presence presence;
  presence.set(kBobThere, "online");
  const auto only_here = [](const std::string& id) { return id == kBobHere; };
  EXPECT_EQ(presence.recompute(kBob, only_here), Reachability::unknown);
}

TEST(Presence, TheLatestPresenceOfAnIdReplacesTheEarlier) {
  Presence presence;
  presence.set(kBobHere, "online");
  presence.set(kBobHere, "offline");
  EXPECT_EQ(presence.recompute(kBob, any), Reachability::unreachable);
}

TEST(Presence, AnIdThatIsNotAnAddressIsNotKept) {
  Presence presence;
  EXPECT_FALSE(presence.set("@alice:a.test", "online"));
  EXPECT_FALSE(presence.knows("@alice:a.test"));
  EXPECT_EQ(presence.set(kBobHere, "online"), kBob);
  EXPECT_TRUE(presence.knows(kBobHere));
  EXPECT_FALSE(presence.knows(kBobThere));
}

}  // namespace
}  // namespace mrt::transport
