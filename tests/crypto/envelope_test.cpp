#include <gtest/gtest.h>

#include <mrt/canonical_json.hpp>
#include <mrt/envelope.hpp>

namespace mrt {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kNow = 1732528800000;

class EnvelopeTest : public ::testing::Test {
 protected:
  PrivateKey alice = PrivateKey::generate();
  PrivateKey bob = PrivateKey::generate();
  Arrival at_bob{.receiver = bob.address()};

  RejectReason rejection(const json& j, const Arrival& where, std::int64_t now = kNow) {
    auto r = validate_envelope(j, where, now);
    EXPECT_FALSE(r) << j.dump();
    return r ? RejectReason{} : r.error();
  }
  // Re-signs `j` with `key` after a change, so that only the change is judged.
  json resign(json j, const PrivateKey& key) {
    j.erase("sig");
    j["sig"] = personal_sign(key, as_bytes(canonical_json(j).value())).to_hex();
    return j;
  }
};

TEST_F(EnvelopeTest, AMessageToBobIsAccepted) {
  const Envelope e = Envelope::message(alice, bob.address(), "hello", kNow);
  auto got = validate_envelope(e.to_json(), at_bob, kNow);
  ASSERT_TRUE(got) << to_string(got.error());
  EXPECT_EQ(got->sender, alice.address());
  EXPECT_EQ(got->body, "hello");
  EXPECT_EQ(got->nonce.size(), 32u);
}

TEST_F(EnvelopeTest, ABroadcastIsAcceptedInItsRoom) {
  const Envelope e = Envelope::broadcast(alice, "raiden_1_monitoring", "bp", kNow);
  EXPECT_TRUE(validate_envelope(e.to_json(), {.room_topic = "raiden_1_monitoring"}, kNow));
  EXPECT_EQ(rejection(e.to_json(), {.room_topic = "raiden_1_path_finding"}),
            RejectReason::wrong_topic);
  EXPECT_EQ(rejection(e.to_json(), at_bob), RejectReason::wrong_topic);
}

TEST_F(EnvelopeTest, AnAckIsAccepted) {
  const Envelope e = Envelope::ack(alice, bob.address(), {std::string(32, 'a')}, kNow);
  auto got = validate_envelope(e.to_json(), at_bob, kNow);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, EnvelopeKind::ack);
}

TEST_F(EnvelopeTest, NoncesAreFresh) {
  EXPECT_NE(Envelope::message(alice, bob.address(), "", kNow).nonce,
            Envelope::message(alice, bob.address(), "", kNow).nonce);
}

TEST_F(EnvelopeTest, WireFormHasExactlyTheProtocolFields) {
  const json j = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"body", "kind", "nonce", "recipient", "sender", "sig",
                                            "ts", "v"}));
}

TEST_F(EnvelopeTest, SchemaViolationsAreMalformed) {
  const json good = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  const std::vector<std::function<void(json&)>> breaks = {
      [](json& j) { j["v"] = 2; },
      [](json& j) { j["v"] = "1"; },
      [](json& j) { j["extra"] = 1; },
      [](json& j) { j["kind"] = "note"; },
      [](json& j) { j.erase("nonce"); },
      [](json& j) { j["nonce"] = std::string(30, 'a'); },
      [](json& j) { j["nonce"] = std::string(32, 'A'); },
      [](json& j) { j["sender"] = "0x" + std::string(40, 'A'); },
      [](json& j) { j["topic"] = "raiden"; },  // both recipient and topic
      [](json& j) { j.erase("recipient"); },   // neither
      [](json& j) { j["ts"] = -1; },
      [](json& j) { j["ts"] = "1"; },
      [](json& j) { j["body"] = 1; },
      [](json& j) { j["acks"] = json::array({std::string(32, 'a')}); },
      [](json& j) { j["sig"] = "0x00"; },
  };
  for (std::size_t i = 0; i < breaks.size(); ++i) {
    json j = good;
    breaks[i](j);
    EXPECT_EQ(rejection(j, at_bob), RejectReason::malformed) << i;
  }
}

TEST_F(EnvelopeTest, AckRulesAreSchema) {
  json j = Envelope::ack(alice, bob.address(), {std::string(32, 'a')}, kNow).to_json();
  j["acks"] = json::array({std::string(32, 'a'), std::string(32, 'a')});
  EXPECT_EQ(rejection(j, at_bob), RejectReason::malformed);
  j["acks"] = json::array();
  EXPECT_EQ(rejection(j, at_bob), RejectReason::malformed);
  std::vector<std::string> many;
  for (int i = 0; i < 257; ++i) many.push_back(to_hex(Bytes(16, static_cast<std::uint8_t>(i))));
  j["acks"] = many;
  EXPECT_EQ(rejection(j, at_bob), RejectReason::malformed);
  EXPECT_THROW(Envelope::ack(alice, bob.address(), many, kNow), std::invalid_argument);
}

TEST_F(EnvelopeTest, OversizedIsTooLargeEvenWithABadSignature) {
  json j =
      Envelope::message(alice, bob.address(), std::string(kMaxEnvelopeBytes, 'x'), kNow).to_json();
  EXPECT_EQ(rejection(j, at_bob), RejectReason::too_large);
}

TEST_F(EnvelopeTest, TheSizeLimitCanBeLowered) {
  const json j = Envelope::message(alice, bob.address(), std::string(2000, 'x'), kNow).to_json();
  EXPECT_FALSE(validate_envelope(j, at_bob, kNow, {.max_bytes = 1000}));
  EXPECT_TRUE(validate_envelope(j, at_bob, kNow, {.max_bytes = 4000}));
}

TEST_F(EnvelopeTest, AnyChangeBreaksTheSignature) {
  json j = Envelope::message(alice, bob.address(), "pay 1", kNow).to_json();
  j["body"] = "pay 100";
  EXPECT_EQ(rejection(j, at_bob), RejectReason::bad_signature);
}

TEST_F(EnvelopeTest, AnotherSignerIsABadSignature) {
  json j = resign(Envelope::message(alice, bob.address(), "x", kNow).to_json(), bob);
  EXPECT_EQ(rejection(j, at_bob), RejectReason::bad_signature);
}

TEST_F(EnvelopeTest, RedirectingToAnotherRecipientIsRefused) {
  const json j = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  const PrivateKey carol = PrivateKey::generate();
  EXPECT_EQ(rejection(j, {.receiver = carol.address()}), RejectReason::wrong_recipient);
  EXPECT_EQ(rejection(j, {.receiver = bob.address(), .room_topic = "raiden_1_monitoring"}),
            RejectReason::wrong_recipient);
}

TEST_F(EnvelopeTest, AgeLimitsAreInclusive) {
  const json j = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  EXPECT_TRUE(validate_envelope(j, at_bob, kNow + kDefaultMaxAgeMs));
  EXPECT_EQ(rejection(j, at_bob, kNow + kDefaultMaxAgeMs + 1), RejectReason::expired);
  EXPECT_TRUE(validate_envelope(j, at_bob, kNow - kMaxClockSkewMs));
  EXPECT_EQ(rejection(j, at_bob, kNow - kMaxClockSkewMs - 1), RejectReason::expired);
}

TEST_F(EnvelopeTest, RulesApplyInOrder) {
  json j = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  j["body"] = "changed";  // bad signature, and expired, and for another recipient
  EXPECT_EQ(rejection(j, {.receiver = alice.address()}, kNow + 10 * kDefaultMaxAgeMs),
            RejectReason::bad_signature);
  j = Envelope::message(alice, bob.address(), "x", kNow).to_json();
  EXPECT_EQ(rejection(j, {.receiver = alice.address()}, kNow + 10 * kDefaultMaxAgeMs),
            RejectReason::wrong_recipient);
}

TEST_F(EnvelopeTest, BadTopicsCanNotBeBuilt) {
  EXPECT_THROW(Envelope::broadcast(alice, "Raiden", "x", kNow), std::invalid_argument);
  EXPECT_THROW(Envelope::broadcast(alice, std::string(201, 'a'), "x", kNow), std::invalid_argument);
}

}  // namespace
}  // namespace mrt
