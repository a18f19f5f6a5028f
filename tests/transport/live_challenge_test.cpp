// The live challenge's messages and checks (transport/live_challenge.hpp): an answer counts only
// from the target, for this challenger and this nonce, signed by the target's address.
#include "live_challenge.hpp"

#include <gtest/gtest.h>

#include <mrt/matrix_identity.hpp>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

struct Party {
  PrivateKey key = PrivateKey::generate();
  std::string user_id = matrix_user_id(key.address(), "hs.test");
};

class LiveChallenge : public ::testing::Test {
 protected:
  Party alice, bob, eve;
  std::string nonce = new_challenge_nonce();
  json challenge = challenge_content(nonce, alice.user_id, bob.user_id);
};

TEST_F(LiveChallenge, TheTargetsAnswerProvesItsAddress) {
  auto answer = answer_challenge(challenge, alice.user_id, bob.user_id, bob.key);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answered_nonce(*answer), nonce);
  EXPECT_EQ(check_answer(*answer, bob.user_id, nonce, alice.user_id, bob.user_id).value(),
            bob.key.address());
}

TEST_F(LiveChallenge, AnAnswerFromAnotherSenderIsRefused) {
  auto answer = answer_challenge(challenge, alice.user_id, bob.user_id, bob.key).value();
  EXPECT_EQ(check_answer(answer, eve.user_id, nonce, alice.user_id, bob.user_id).error(),
            ChallengeError::wrong_sender);
}

TEST_F(LiveChallenge, AnAnswerSignedByAnotherKeyIsRefused) {
  // Eve holds a user id that claims Bob's address, but not Bob's key.
  const std::string fake = matrix_user_id(bob.key.address(), "rogue.test");
  json to_fake = challenge_content(nonce, alice.user_id, fake);
  auto answer = answer_challenge(to_fake, alice.user_id, fake, eve.key).value();
  EXPECT_EQ(check_answer(answer, fake, nonce, alice.user_id, fake).error(),
            ChallengeError::bad_signature);
}

// Eve, challenged by Alice for an id claiming Bob's address, passes the challenge on to Bob as
// her own: Bob's answer names Eve as challenger, and Alice rebuilds the text with herself.
TEST_F(LiveChallenge, ARelayedAnswerIsRefused) {
  json relayed = challenge_content(nonce, eve.user_id, bob.user_id);
  auto answer = answer_challenge(relayed, eve.user_id, bob.user_id, bob.key).value();
  EXPECT_EQ(check_answer(answer, bob.user_id, nonce, alice.user_id, bob.user_id).error(),
            ChallengeError::bad_signature);
}

TEST_F(LiveChallenge, AnAnswerToAnotherNonceIsRefused) {
  auto answer = answer_challenge(challenge, alice.user_id, bob.user_id, bob.key).value();
  EXPECT_EQ(
      check_answer(answer, bob.user_id, new_challenge_nonce(), alice.user_id, bob.user_id).error(),
      ChallengeError::bad_signature);
}

TEST_F(LiveChallenge, AChallengeIsAnsweredOnlyForOurIdAndToItsSender) {
  EXPECT_EQ(answer_challenge(challenge, alice.user_id, eve.user_id, eve.key).error(),
            ChallengeError::not_for_us);
  EXPECT_EQ(answer_challenge(challenge, eve.user_id, bob.user_id, bob.key).error(),
            ChallengeError::not_for_us)
      << "the answer would go to the sender, not the challenger named";
}

TEST_F(LiveChallenge, MalformedChallengesAndAnswersAreRefused) {
  for (const json& bad : {json(5), json::object(), json{{"challenge", "12"}},
                          challenge_content("zz", alice.user_id, bob.user_id),
                          challenge_content(nonce, "alice", bob.user_id)}) {
    EXPECT_EQ(answer_challenge(bad, alice.user_id, bob.user_id, bob.key).error(),
              ChallengeError::malformed)
        << bad.dump();
    EXPECT_EQ(check_answer(bad, bob.user_id, nonce, alice.user_id, bob.user_id).error(),
              ChallengeError::malformed)
        << bad.dump();
  }
  EXPECT_FALSE(answered_nonce(json{{"challenge", 5}}));
}

}  // namespace
}  // namespace mrt::transport
