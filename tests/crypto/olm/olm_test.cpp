#include <gtest/gtest.h>

#include <mrt/matrix_signing.hpp>
#include <mrt/olm.hpp>

namespace mrt {
namespace {

std::string text(const SecretBuffer& b) {
  return std::string(as_chars(b.view()));
}

class Olm : public ::testing::Test {
 protected:
  OlmAccount alice = OlmAccount::create();
  OlmAccount bob = OlmAccount::create();
  std::string alice_key = alice.identity_keys().curve25519;
  std::string bob_key = bob.identity_keys().curve25519;

  std::string bob_one_time_key() {
    bob.generate_one_time_keys(1);
    auto keys = bob.one_time_keys();
    bob.mark_keys_as_published();
    return keys.begin()->second;
  }
  OlmSession alice_to_bob() {
    return OlmSession::outbound(alice, bob_key, bob_one_time_key()).value();
  }
};

TEST_F(Olm, FirstMessageIsAPreKeyMessageThatBobDecrypts) {
  OlmSession a = alice_to_bob();
  const OlmMessage m = a.encrypt(as_bytes("hi bob"));
  EXPECT_EQ(m.type, OlmMessageType::pre_key);
  auto in = OlmSession::inbound(bob, alice_key, m);
  ASSERT_TRUE(in) << to_string(in.error());
  EXPECT_EQ(text(in->second), "hi bob");
  EXPECT_EQ(in->first.session_id(), a.session_id());
}

TEST_F(Olm, RepliesAreNormalMessagesBothWays) {
  OlmSession a = alice_to_bob();
  auto [b, first] = OlmSession::inbound(bob, alice_key, a.encrypt(as_bytes("1"))).value();
  const OlmMessage reply = b.encrypt(as_bytes("2"));
  EXPECT_EQ(reply.type, OlmMessageType::normal);
  EXPECT_EQ(text(a.decrypt(reply).value()), "2");
  EXPECT_EQ(a.encrypt(as_bytes("3")).type, OlmMessageType::normal);
}

TEST_F(Olm, TheOneTimeKeyIsSpentOnlyAfterDecryptionSucceeds) {
  OlmSession a = alice_to_bob();
  OlmMessage m = a.encrypt(as_bytes("x"));
  OlmMessage forged = m;
  Bytes raw = *parse_base64_unpadded(forged.body);
  raw[raw.size() - 1] ^= 0x01;  // the MAC
  forged.body = base64_unpadded(raw);
  EXPECT_EQ(OlmSession::inbound(bob, alice_key, forged).error(), OlmError::bad_mac);
  EXPECT_TRUE(OlmSession::inbound(bob, alice_key, m));  // the key was still there
  EXPECT_EQ(OlmSession::inbound(bob, alice_key, m).error(), OlmError::unknown_one_time_key);
}

// libolm 3.2.13's olm_create_inbound_session_from read the missing field through a null pointer
// (docs/security.md, finding 5): any sender could crash the node with one to-device event.
TEST_F(Olm, APreKeyMessageWithoutTheSendersIdentityKeyIsRefused) {
  OlmSession a = alice_to_bob();
  const OlmMessage m = a.encrypt(as_bytes("x"));
  Bytes raw = *parse_base64_unpadded(m.body);
  // libolm's layout: version, then fields 1 (one-time key), 2 (base key), 3 (identity key), each
  // a tag, a length of 32 and the key, then field 4 (the message).
  constexpr std::size_t kIdentityField = 1 + 34 + 34;
  ASSERT_GT(raw.size(), kIdentityField + 34);
  ASSERT_EQ(raw[kIdentityField], 0x1a);
  ASSERT_EQ(raw[kIdentityField + 1], 0x20);
  raw.erase(raw.begin() + kIdentityField, raw.begin() + kIdentityField + 34);
  const OlmMessage stripped{OlmMessageType::pre_key, base64_unpadded(raw)};
  EXPECT_EQ(OlmSession::inbound(bob, alice_key, stripped).error(), OlmError::bad_message_format);
  EXPECT_TRUE(OlmSession::inbound(bob, alice_key, m));  // the one-time key was not spent
}

TEST_F(Olm, APreKeyMessageFromAnotherSenderSpendsNothing) {
  OlmSession a = alice_to_bob();
  const OlmMessage m = a.encrypt(as_bytes("x"));
  const OlmAccount carol = OlmAccount::create();
  EXPECT_EQ(OlmSession::inbound(bob, carol.identity_keys().curve25519, m).error(),
            OlmError::unknown_one_time_key);
  EXPECT_TRUE(OlmSession::inbound(bob, alice_key, m));
}

TEST_F(Olm, AFallbackKeySurvivesUse) {
  bob.generate_fallback_key();
  const std::string fallback = bob.unpublished_fallback_key().begin()->second;
  bob.mark_keys_as_published();
  for (int i = 0; i < 2; ++i) {
    OlmSession a = OlmSession::outbound(alice, bob_key, fallback).value();
    EXPECT_TRUE(OlmSession::inbound(bob, alice_key, a.encrypt(as_bytes("x")))) << i;
  }
}

TEST_F(Olm, MatchesInboundRecognisesItsOwnPreKeyMessages) {
  OlmSession a = alice_to_bob();
  const OlmMessage first = a.encrypt(as_bytes("1"));
  const OlmMessage second = a.encrypt(as_bytes("2"));  // still pre-key until bob replies
  auto [b, plain] = OlmSession::inbound(bob, alice_key, first).value();
  EXPECT_TRUE(b.matches_inbound(alice_key, second));
  EXPECT_EQ(text(b.decrypt(second).value()), "2");
  OlmSession other = alice_to_bob();
  EXPECT_FALSE(b.matches_inbound(alice_key, other.encrypt(as_bytes("3"))));
}

TEST_F(Olm, ANormalMessageCanNotStartASession) {
  OlmSession a = alice_to_bob();
  OlmMessage m = a.encrypt(as_bytes("x"));
  m.type = OlmMessageType::normal;
  EXPECT_EQ(OlmSession::inbound(bob, alice_key, m).error(), OlmError::not_a_pre_key_message);
}

TEST_F(Olm, BadKeysAndGarbageAreReasons) {
  EXPECT_EQ(OlmSession::outbound(alice, "short", bob_one_time_key()).error(), OlmError::bad_key);
  EXPECT_EQ(OlmSession::outbound(alice, bob_key, bob_key + "=").error(), OlmError::bad_key);
  OlmSession a = alice_to_bob();
  EXPECT_EQ(a.decrypt({OlmMessageType::normal, "!!"}).error(), OlmError::bad_base64);
  EXPECT_EQ(a.decrypt({OlmMessageType::normal, "AAAA"}).error(), OlmError::bad_message_format);
  EXPECT_EQ(a.decrypt({OlmMessageType::normal, std::string(kMaxOlmMessage + 4, 'A')}).error(),
            OlmError::message_too_large);
  EXPECT_FALSE(OlmSession::inbound(bob, alice_key, {OlmMessageType::pre_key, "AAAA"}));
}

TEST_F(Olm, AccountSignaturesVerifyWithLibsodium) {
  const std::string sig = alice.sign(as_bytes("payload"));
  const auto key = parse_base64_unpadded(alice.identity_keys().ed25519).value();
  EXPECT_TRUE(ed25519_verify(as_bytes("payload"), *parse_base64_unpadded(sig), key));
  EXPECT_FALSE(ed25519_verify(as_bytes("payloaD"), *parse_base64_unpadded(sig), key));
}

TEST_F(Olm, OneTimeKeysArePublishedOnce) {
  alice.generate_one_time_keys(5);
  EXPECT_EQ(alice.one_time_keys().size(), 5u);
  alice.mark_keys_as_published();
  EXPECT_TRUE(alice.one_time_keys().empty());
  EXPECT_GE(alice.max_one_time_keys(), 50u);
}

TEST_F(Olm, PicklesKeepAccountsAndSessions) {
  const Bytes key(32, 3);
  OlmSession a = alice_to_bob();
  const OlmMessage m = a.encrypt(as_bytes("before"));
  auto bob2 = OlmAccount::unpickle(text(bob.pickle(key)), key).value();
  EXPECT_EQ(bob2.identity_keys().curve25519, bob_key);
  auto [b, plain] = OlmSession::inbound(bob2, alice_key, m).value();
  auto b2 = OlmSession::unpickle(text(b.pickle(key)), key).value();
  auto a2 = OlmSession::unpickle(text(a.pickle(key)), key).value();
  EXPECT_EQ(text(a2.decrypt(b2.encrypt(as_bytes("after"))).value()), "after");
  EXPECT_EQ(OlmAccount::unpickle(text(bob.pickle(key)), Bytes(32, 4)).error(),
            OlmError::bad_pickle);
}

}  // namespace
}  // namespace mrt
