// IntakeRules: PROTOCOL §4 rules 6-8 in order, the first failed rule naming the rejection.
#include "intake_rules.hpp"

#include <gtest/gtest.h>

namespace mrt::transport {
namespace {

const PrivateKey kAlice = PrivateKey::generate();
const Address kMe = PrivateKey::generate().address();
const Envelope kMessage = Envelope::message(kAlice, kMe, "hello", 1'764'000'000'000);
const EnvelopeSource kAttested{.carrier = Carrier::to_device, .device = kAlice.address()};
const EnvelopeSource kRoom{.topic = "raiden_1_pfs"};

bool budget_left() {
  return true;
}
bool budget_spent() {
  return false;
}

TEST(IntakeRules, AnAttestedEnvelopeWithinBudgetIsAccepted) {
  const Policy policy;
  EXPECT_EQ(IntakeRules(policy).judge(kMessage, kAttested, false, budget_left), std::nullopt);
}

TEST(IntakeRules, ASeenNonceIsAReplayBeforeAnyOtherRule) {
  Policy policy;
  policy.allowlist = std::set<Address>{};
  EXPECT_EQ(IntakeRules(policy).judge(kMessage, {.carrier = Carrier::room}, true, budget_spent),
            RejectReason::replay);
}

TEST(IntakeRules, OnAUnicastCarrierTheSendingDeviceMustBeAttestedForTheSender) {
  const Policy policy;
  const IntakeRules rules(policy);
  EXPECT_EQ(rules.judge(kMessage, {.carrier = Carrier::to_device}, false, budget_left),
            RejectReason::unattested_device)
      << "no attested device";
  const EnvelopeSource relayed{.carrier = Carrier::room,
                               .device = PrivateKey::generate().address()};
  EXPECT_EQ(rules.judge(kMessage, relayed, false, budget_left), RejectReason::unattested_device)
      << "a device attested for another address";
}

TEST(IntakeRules, ABroadcastRoomNeedsNoAttestedDevice) {
  const Policy policy;
  const Envelope broadcast = Envelope::broadcast(kAlice, "raiden_1_pfs", "x", 1'764'000'000'000);
  EXPECT_EQ(IntakeRules(policy).judge(broadcast, kRoom, false, budget_left), std::nullopt);
}

TEST(IntakeRules, AUnicastSenderOutsideTheAllowlistIsNotAllowed) {
  Policy policy;
  policy.allowlist = std::set<Address>{PrivateKey::generate().address()};
  EXPECT_EQ(IntakeRules(policy).judge(kMessage, kAttested, false, budget_left),
            RejectReason::not_allowed);
  policy.allowlist->insert(kAlice.address());
  EXPECT_EQ(IntakeRules(policy).judge(kMessage, kAttested, false, budget_left), std::nullopt);
}

TEST(IntakeRules, ATopicsPublishersBindOnlyItsRoom) {
  Policy policy;
  policy.publishers["raiden_1_pfs"] = {PrivateKey::generate().address()};
  const IntakeRules rules(policy);
  EXPECT_FALSE(rules.allowed(kAlice.address(), kRoom));
  EXPECT_TRUE(rules.allowed(kAlice.address(), {.topic = "raiden_1_ms"})) << "a topic not listed";
  EXPECT_TRUE(rules.allowed(kAlice.address(), kAttested)) << "unicast: the node's allowlist";
}

TEST(IntakeRules, ASpentBudgetIsRateLimited) {
  const Policy policy;
  EXPECT_EQ(IntakeRules(policy).judge(kMessage, kAttested, false, budget_spent),
            RejectReason::rate_limited);
}

TEST(IntakeRules, AnEnvelopeRejectedByAnEarlierRuleTakesNothingFromTheBudget) {
  Policy policy;
  policy.allowlist = std::set<Address>{};
  const IntakeRules rules(policy);
  int taken = 0;
  const auto take = [&] { return ++taken > 0; };
  rules.judge(kMessage, kAttested, true, take);
  rules.judge(kMessage, {.carrier = Carrier::to_device}, false, take);
  rules.judge(kMessage, kAttested, false, take);
  EXPECT_EQ(taken, 0);
}

}  // namespace
}  // namespace mrt::transport
