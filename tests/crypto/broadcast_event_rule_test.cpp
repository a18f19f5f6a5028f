#include <gtest/gtest.h>

#include <mrt/broadcast_event_rule.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/topics.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kTs = 1732528800000;
constexpr const char* kTopic = "raiden_1_monitoring";

class BroadcastEventRuleTest : public ::testing::Test {
 protected:
  PrivateKey alice = PrivateKey::generate();
  PrivateKey bob = PrivateKey::generate();
  std::string alice_id = matrix_user_id(alice.address(), "hs.example");

  json envelope(const PrivateKey& key, std::string body = "bp") {
    return Envelope::broadcast(key, kTopic, std::move(body), kTs).to_json();
  }
  static json batch(const std::vector<json>& envelopes) { return {{"envelopes", envelopes}}; }
  std::optional<BroadcastEventRefusal> judge(const json& content,
                                             const std::string& topic = kTopic) {
    return refuse_broadcast_event(content, topic, alice_id);
  }
};

TEST_F(BroadcastEventRuleTest, ABatchOfTheSendersOwnEnvelopesPasses) {
  EXPECT_FALSE(judge(batch({envelope(alice), envelope(alice, "second")})));
}

TEST_F(BroadcastEventRuleTest, AnOldEnvelopePassesBecauseAgeIsTheReceiversRule) {
  const json old = Envelope::broadcast(alice, kTopic, "bp", 1000).to_json();
  EXPECT_FALSE(judge(batch({old})));
}

TEST_F(BroadcastEventRuleTest, ContentThatIsNotExactlyABatchIsRefused) {
  for (const json& content :
       {json::array(), json{{"envelopes", json::array()}}, json{{"envelopes", "x"}},
        json{{"other", json::array({envelope(alice)})}},
        json{{"envelopes", json::array({envelope(alice)})}, {"padding", "junk"}}}) {
    auto refused = judge(content);
    ASSERT_TRUE(refused) << content.dump();
    EXPECT_EQ(refused->error, BroadcastEventError::not_a_batch) << content.dump();
  }
}

TEST_F(BroadcastEventRuleTest, AnotherAddresssEnvelopeIsRefusedAsNotTheSender) {
  auto refused = judge(batch({envelope(alice), envelope(bob)}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error, BroadcastEventError::not_the_sender);
  EXPECT_EQ(refused->index, 1u);
  EXPECT_NE(refused->message().find("envelope 1"), std::string::npos) << refused->message();
}

TEST_F(BroadcastEventRuleTest, ASenderWhoseLocalpartIsNoAddressCanSendNoEnvelope) {
  auto refused = refuse_broadcast_event(batch({envelope(alice)}), kTopic, "@alice:hs.example");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error, BroadcastEventError::not_the_sender);
}

TEST_F(BroadcastEventRuleTest, ATamperedEnvelopeIsRefusedAsBadSignature) {
  json forged = envelope(alice);
  forged["body"] = "a false balance proof";
  auto refused = judge(batch({forged}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error, BroadcastEventError::bad_envelope);
  EXPECT_EQ(refused->reason, RejectReason::bad_signature);
}

TEST_F(BroadcastEventRuleTest, AMalformedEnvelopeIsRefusedBeforeItsSenderIsCompared) {
  json broken = envelope(bob);
  broken.erase("nonce");
  auto refused = judge(batch({broken}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, RejectReason::malformed);
}

TEST_F(BroadcastEventRuleTest, AnEnvelopeForAnotherRoomIsRefused) {
  auto other_topic = judge(batch({envelope(alice)}), "raiden_1_path_finding");
  ASSERT_TRUE(other_topic);
  EXPECT_EQ(other_topic->reason, RejectReason::wrong_topic);
  const json unicast = Envelope::message(alice, bob.address(), "hi", kTs).to_json();
  auto refused = judge(batch({unicast}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, RejectReason::wrong_recipient);
}

TEST_F(BroadcastEventRuleTest, InAnEventsRoomOnlyTheOperatorPublishes) {
  const std::string topic = events_topic(1, bob.address());
  const json alices = Envelope::broadcast(alice, topic, "a false event", kTs).to_json();
  auto refused = refuse_broadcast_event(batch({alices}), topic, alice_id);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error, BroadcastEventError::not_the_operator);
  const json bobs = Envelope::broadcast(bob, topic, "ChannelOpened", kTs).to_json();
  EXPECT_FALSE(
      refuse_broadcast_event(batch({bobs}), topic, matrix_user_id(bob.address(), "hs.example")));
}

TEST_F(BroadcastEventRuleTest, ReasonsHaveStableNames) {
  EXPECT_EQ(to_string(BroadcastEventError::not_a_batch), "not_a_batch");
  EXPECT_EQ(to_string(BroadcastEventError::bad_envelope), "bad_envelope");
  EXPECT_EQ(to_string(BroadcastEventError::not_the_sender), "not_the_sender");
  EXPECT_EQ(to_string(BroadcastEventError::not_the_operator), "not_the_operator");
}

}  // namespace
}  // namespace mrt
