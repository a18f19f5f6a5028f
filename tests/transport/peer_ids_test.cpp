// PeerIds (PROTOCOL §8): which user ids of an address are looked up when, and which count.
#include "peer_ids.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include <mrt/matrix_identity.hpp>

namespace mrt::transport {
namespace {

const PrivateKey& peer_key() {
  static const PrivateKey key = PrivateKey::generate();
  return key;
}

class PeerIdsTest : public ::testing::Test {
 protected:
  PeerIds ids{{"hs1", "hs2"}, {.retry_initial_ms = 1000, .retry_max_ms = 8000, .ttl_ms = 60'000}};
  Address peer = peer_key().address();
  std::string on(const std::string& server) { return matrix_user_id(peer, server); }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_F(PeerIdsTest, WithNothingKnownEveryKnownServerIsAskedOnce) {
  const auto due = ids.due(peer, 0);
  EXPECT_EQ(due, (std::vector<std::string>{on("hs1"), on("hs2")}));
  EXPECT_TRUE(ids.due(peer, 0).empty()) << "in flight: not asked twice";
}

TEST_F(PeerIdsTest, ASuppliedOrMetIdIsAskedBeforeTheKnownServers) {
  ASSERT_TRUE(ids.add_candidate(peer, on("elsewhere")));
  EXPECT_EQ(ids.due(peer, 0), std::vector<std::string>{on("elsewhere")});
  ids.failed(on("elsewhere"), 0);
  // It did not prove out: now the known servers.
  EXPECT_EQ(ids.due(peer, 1), (std::vector<std::string>{on("hs1"), on("hs2")}));
}

TEST_F(PeerIdsTest, OnlyAProvenIdCounts) {
  (void)ids.due(peer, 0);
  ids.failed(on("hs1"), 0);
  EXPECT_TRUE(ids.ids(peer).empty());
  EXPECT_TRUE(ids.proven(on("hs2"), peer, 0));
  EXPECT_EQ(ids.ids(peer), std::set<std::string>{on("hs2")});
  EXPECT_TRUE(ids.validated(on("hs2"), peer));
  EXPECT_FALSE(ids.validated(on("hs1"), peer));
}

TEST_F(PeerIdsTest, AFailedLookUpBacksOffExponentiallyUpToTheCap) {
  const std::string id = on("hs1");
  ASSERT_TRUE(ids.start(id, 0));
  std::int64_t now = 0;
  for (std::int64_t expected : {1000, 2000, 4000, 8000, 8000}) {
    ids.failed(id, now);
    EXPECT_FALSE(ids.start(id, now + expected - 1)) << expected;
    ASSERT_TRUE(ids.start(id, now + expected)) << expected;
    now += expected;
  }
}

TEST_F(PeerIdsTest, ARefusedIdIsDroppedAndCheckedAgainLater) {
  ASSERT_TRUE(ids.start(on("hs1"), 0));
  ids.proven(on("hs1"), peer, 0);
  ASSERT_TRUE(ids.start(on("hs1"), 60'000)) << "the ttl passed";
  EXPECT_TRUE(ids.refused(on("hs1"), 60'000));
  EXPECT_TRUE(ids.ids(peer).empty());
  EXPECT_TRUE(ids.refused(on("hs1")));
  EXPECT_FALSE(ids.start(on("hs1"), 60'500));
  EXPECT_TRUE(ids.start(on("hs1"), 61'000));
}

TEST_F(PeerIdsTest, AValidatedIdIsNotAskedAgainBeforeItsTtl) {
  (void)ids.due(peer, 0);
  ids.proven(on("hs1"), peer, 0);
  ids.failed(on("hs2"), 0);
  EXPECT_TRUE(ids.due(peer, 59'999).empty());
  EXPECT_EQ(ids.due(peer, 60'000), std::vector<std::string>{on("hs1")});
}

TEST_F(PeerIdsTest, ARecheckAsksEveryKnownServerAgainEvenWithAValidatedId) {
  (void)ids.due(peer, 0);
  ids.proven(on("hs1"), peer, 0);
  ids.failed(on("hs2"), 0);
  EXPECT_TRUE(ids.due(peer, 10).empty());
  ids.recheck(peer);
  const auto due = ids.due(peer, 10);
  EXPECT_TRUE(has(due, on("hs1")));
  EXPECT_TRUE(has(due, on("hs2"))) << "the peer may have moved there";
  EXPECT_EQ(ids.ids(peer), std::set<std::string>{on("hs1")}) << "still used meanwhile";
}

TEST_F(PeerIdsTest, ACandidateMustBeAnIdOfTheAddress) {
  EXPECT_FALSE(ids.add_candidate(peer, matrix_user_id(PrivateKey::generate().address(), "hs1")));
  EXPECT_FALSE(ids.add_candidate(peer, "@alice:hs1"));
  EXPECT_FALSE(ids.add_candidate(peer, "not a user id"));
}

TEST_F(PeerIdsTest, CandidatesPerAddressAreCapped) {
  for (std::size_t i = 0; i < PeerIds::kMaxCandidates; ++i)
    ASSERT_TRUE(ids.add_candidate(peer, on("s" + std::to_string(i))));
  EXPECT_FALSE(ids.add_candidate(peer, on("one-too-many")));
  EXPECT_TRUE(ids.add_candidate(peer, on("s0"))) << "one it has already";
}

TEST_F(PeerIdsTest, ARestoredIdWithoutItsTimeIsUsedAndCheckedAgain) {
  ids.restore(on("hs1"), peer, std::nullopt);
  EXPECT_EQ(ids.ids(peer), std::set<std::string>{on("hs1")});
  EXPECT_EQ(ids.due(peer, 5), std::vector<std::string>{on("hs1")});
}

TEST_F(PeerIdsTest, AnAbandonedLookUpCanStartAgainAtOnce) {
  ASSERT_TRUE(ids.start(on("hs1"), 0));
  ids.abandoned(on("hs1"));
  EXPECT_FALSE(ids.in_flight(on("hs1")));
  EXPECT_TRUE(ids.start(on("hs1"), 0));
}

}  // namespace
}  // namespace mrt::transport
