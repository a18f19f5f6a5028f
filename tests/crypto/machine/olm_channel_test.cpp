#include <mrt/attestation.hpp>
#include <mrt/canonical_json.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/matrix_signing.hpp>
#include <mrt/olm.hpp>
#include <mrt/store/codecs.hpp>

#include "testing/machine_fixture.hpp"

namespace mrt::testing {
namespace {

class OlmChannel : public AliceAndBob {
 protected:
  SyncOutcome deliver(const json& event) {
    hub.inbox[bob.user()]["BOB"].push_back(event);
    return bob.sync();
  }
  static std::string& body_of(json& event, const std::string& curve) {
    return event["content"]["ciphertext"][curve]["body"].get_ref<std::string&>();
  }
};

TEST_F(OlmChannel, FirstContactDeliversThePlaintextWithTheSendersAddress) {
  const auto outcome = send_to_device(alice, bob, kEnvelopes, kHello);
  ASSERT_EQ(outcome.events.size(), 1u);
  const auto& event = outcome.events[0];
  EXPECT_EQ(event.type, kEnvelopes);
  EXPECT_EQ(event.content, kHello);
  EXPECT_EQ(event.sender, alice.user());
  EXPECT_EQ(event.sender_device, "ALICE");
  EXPECT_EQ(event.trust, DeviceTrust::attested);
  EXPECT_EQ(event.address, alice.key().address());
}

TEST_F(OlmChannel, AnEncryptionNamesTheRequestItQueued) {
  ShareOutcome outcome;
  for (int attempt = 0; attempt < 4 && (attempt == 0 || !outcome.complete()); ++attempt) {
    alice.flush();
    outcome = alice.machine->encrypt_to_device(bob.user(), kEnvelopes, kHello);
    EXPECT_TRUE(outcome.complete() || outcome.requests.empty()) << "nothing sent while waiting";
  }
  ASSERT_EQ(outcome.requests.size(), 1u);
  const auto requests = alice.machine->outgoing_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].id, outcome.requests[0]);
  EXPECT_EQ(requests[0].type, RequestType::to_device);
}

TEST_F(OlmChannel, TheFirstMessageSpendsOneOneTimeKey) {
  send_to_device(alice, bob, kEnvelopes, kHello);
  EXPECT_EQ(hub.otks[bob.user()]["BOB"].size(), kOneTimeKeyTarget - 1);
  bob.flush();  // bob's sync reported 49: it tops up
  EXPECT_EQ(hub.otks[bob.user()]["BOB"].size(), kOneTimeKeyTarget);
}

TEST_F(OlmChannel, TheReplyUsesTheSessionTheFirstMessageMade) {
  send_to_device(alice, bob, kEnvelopes, kHello);
  const auto alice_keys = hub.otks[alice.user()]["ALICE"].size();
  const auto outcome = send_to_device(bob, alice, kEnvelopes, {{"reply", 1}});
  ASSERT_EQ(outcome.events.size(), 1u);
  EXPECT_EQ(outcome.events[0].content, json({{"reply", 1}}));
  EXPECT_EQ(hub.otks[alice.user()]["ALICE"].size(), alice_keys);  // no claim
}

TEST_F(OlmChannel, AReplayedOlmMessageIsRejected) {
  const json event = intercept();
  ASSERT_EQ(deliver(event).events.size(), 1u);
  const auto again = deliver(event);
  EXPECT_TRUE(again.events.empty());
  ASSERT_EQ(again.rejected.size(), 1u);
  EXPECT_EQ(again.rejected[0].reason, ToDeviceError::replayed);
}

TEST_F(OlmChannel, AReplayedPreKeyMessageOnTheFallbackKeyIsRejected) {
  hub.otks[bob.user()]["BOB"].clear();  // the claim gets the fallback key
  const json event = intercept();
  ASSERT_EQ(deliver(event).events.size(), 1u);
  const auto again = deliver(event);
  ASSERT_EQ(again.rejected.size(), 1u);
  EXPECT_EQ(again.rejected[0].reason, ToDeviceError::replayed);
}

// libolm accepts a pre-key message in other spellings (docs/security.md, finding 6): any
// version byte, and bit 255 of the base key flipped. On the fallback key they must not open
// the same plaintext twice.
class OlmChannelRespelled : public OlmChannel,
                            public ::testing::WithParamInterface<std::pair<std::size_t, int>> {};

TEST_P(OlmChannelRespelled, AReplayedPreKeyMessageInAnotherSpellingIsRejected) {
  hub.otks[bob.user()]["BOB"].clear();
  const json event = intercept();
  ASSERT_EQ(deliver(event).events.size(), 1u);
  json respelled = event;
  std::string& body = body_of(respelled, bob.machine->curve25519_key());
  auto bytes = parse_base64_unpadded(body).value();
  const auto [offset, mask] = GetParam();
  bytes[offset] ^= static_cast<std::uint8_t>(mask);
  body = base64_unpadded(bytes);
  const auto again = deliver(respelled);
  EXPECT_TRUE(again.events.empty());
  ASSERT_EQ(again.rejected.size(), 1u);
  EXPECT_EQ(again.rejected[0].reason, ToDeviceError::replayed);
}

// Byte 0 is the version; byte 68 ends the base key (version, then tag, length and 32 bytes for
// the one-time key and for the base key).
INSTANTIATE_TEST_SUITE_P(Spellings, OlmChannelRespelled,
                         ::testing::Values(std::pair<std::size_t, int>{0, 0x01},
                                           std::pair<std::size_t, int>{68, 0x80}));

TEST_F(OlmChannel, AReplayIsRejectedAfterARestart) {
  const json event = intercept();
  ASSERT_EQ(deliver(event).events.size(), 1u);
  bob.restart();
  const auto again = deliver(event);
  ASSERT_EQ(again.rejected.size(), 1u);
  EXPECT_EQ(again.rejected[0].reason, ToDeviceError::replayed);
}

TEST_F(OlmChannel, AModifiedPreKeyMessageDoesNotSpendTheOneTimeKey) {
  json event = intercept();
  json forged = event;
  std::string& body = body_of(forged, bob.machine->curve25519_key());
  body[body.size() - 10] = body[body.size() - 10] == 'A' ? 'B' : 'A';
  const auto refused = deliver(forged);
  ASSERT_EQ(refused.rejected.size(), 1u);
  EXPECT_EQ(refused.rejected[0].reason, ToDeviceError::no_session);
  EXPECT_EQ(deliver(event).events.size(), 1u);
}

TEST_F(OlmChannel, MalformedCiphertextsAreRefusedWithAReason) {
  const json event = intercept();
  const std::string curve = bob.machine->curve25519_key();
  auto refused = [&](const std::function<void(json&)>& change) {
    json copy = event;
    change(copy);
    const auto outcome = deliver(copy);
    EXPECT_TRUE(outcome.events.empty());
    return outcome.rejected.size() == 1 ? outcome.rejected[0].reason : ToDeviceError{};
  };
  EXPECT_EQ(refused([&](json& e) { body_of(e, curve) += "!"; }), ToDeviceError::bad_ciphertext);
  EXPECT_EQ(refused([&](json& e) { body_of(e, curve).resize(20); }), ToDeviceError::bad_ciphertext);
  EXPECT_EQ(refused([&](json& e) { body_of(e, curve).assign(70000, 'A'); }),
            ToDeviceError::bad_ciphertext);
  EXPECT_EQ(refused([&](json& e) { e["content"]["ciphertext"][curve]["type"] = 2; }),
            ToDeviceError::bad_ciphertext);
  EXPECT_EQ(refused([&](json& e) { e["content"]["ciphertext"][curve]["body"] = 5; }),
            ToDeviceError::bad_ciphertext);
  EXPECT_EQ(refused([&](json& e) { e["content"]["ciphertext"].erase(curve); }),
            ToDeviceError::not_for_this_device);
  EXPECT_EQ(refused([&](json& e) { e["content"]["algorithm"] = kMegolmAlgorithm; }),
            ToDeviceError::unsupported_algorithm);
  EXPECT_EQ(refused([&](json& e) { e["type"] = kEnvelopes; }), ToDeviceError::not_encrypted);
  EXPECT_EQ(refused([&](json& e) { e["content"] = "text"; }), ToDeviceError::malformed_event);
  EXPECT_EQ(refused([&](json& e) { e.erase("sender"); }), ToDeviceError::malformed_event);
  // None of these spent the one-time key: the original still opens.
  EXPECT_EQ(deliver(event).events.size(), 1u);
}

TEST_F(OlmChannel, AnIdentifierHoldingANulIsMalformed) {
  json event = intercept();
  event["sender"] = alice.user() + std::string(1, '\0');
  const auto outcome = deliver(event);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::malformed_event);
}

TEST_F(OlmChannel, AMessageClaimingAnotherSenderIsRejected) {
  json event = intercept();
  event["sender"] = bob.user();
  const auto outcome = deliver(event);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::sender_mismatch);
}

TEST_F(OlmChannel, AForwardedRoomKeyIsRefused) {
  const auto outcome = send_to_device(alice, bob, "m.forwarded_room_key", {{"room_id", "!r"}});
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::forwarded_key_refused);
}

// Matrix v1.15 names MSC4147's field `sender_device_keys`, and matrix-sdk-crypto (vodozemac)
// sends it under that name: a first message from a device bob never queried is accepted on
// the keys it encloses, as with mrt's own `org.matrix.msc4147.device_keys`.
TEST_F(OlmChannel, AFirstMessageIsAcceptedOnTheStableSenderDeviceKeys) {
  const PrivateKey carol_key = PrivateKey::generate();
  const std::string carol = matrix_user_id(carol_key.address(), "hs.test");
  const OlmAccount device = OlmAccount::create();
  const IdentityKeys ids = device.identity_keys();
  json keys = {{"algorithms", {kOlmAlgorithm, kMegolmAlgorithm}},
               {"device_id", "CAROL"},
               {"keys", {{"curve25519:CAROL", ids.curve25519}, {"ed25519:CAROL", ids.ed25519}}},
               {"user_id", carol}};
  keys = attest_device_keys(std::move(keys), carol_key, clock.now).value();
  keys["signatures"][carol]["ed25519:CAROL"] = device.sign(as_bytes(signing_payload(keys).value()));

  const std::string bob_curve = bob.machine->curve25519_key();
  const json& one_time_key = hub.otks[bob.user()]["BOB"].begin()->second;
  auto session = OlmSession::outbound(device, bob_curve, one_time_key.at("key").get<std::string>());
  ASSERT_TRUE(session);
  const json plaintext = {{"type", kEnvelopes},
                          {"content", kHello},
                          {"sender", carol},
                          {"recipient", bob.user()},
                          {"recipient_keys", {{"ed25519", bob.machine->ed25519_key()}}},
                          {"keys", {{"ed25519", ids.ed25519}}},
                          {"sender_device_keys", keys}};
  const OlmMessage message = session->encrypt(as_bytes(canonical_json(plaintext).value()));
  const auto outcome = deliver(
      {{"type", "m.room.encrypted"},
       {"sender", carol},
       {"content",
        {{"algorithm", kOlmAlgorithm},
         {"sender_key", ids.curve25519},
         {"ciphertext",
          {{bob_curve, {{"type", static_cast<int>(message.type)}, {"body", message.body}}}}}}}});
  EXPECT_TRUE(outcome.rejected.empty()) << to_string(outcome.rejected.at(0).reason);
  ASSERT_EQ(outcome.events.size(), 1u);
  EXPECT_EQ(outcome.events[0].content, kHello);
  EXPECT_EQ(outcome.events[0].sender_device, "CAROL");
  EXPECT_EQ(outcome.events[0].trust, DeviceTrust::attested);
  EXPECT_EQ(outcome.events[0].address, carol_key.address());
}

TEST_F(OlmChannel, OlmFromADeviceWhoseAttestationIsBrokenIsRefused) {
  // The server hands out alice's keys with the attestation stripped: the self-signature,
  // which covered it, no longer verifies.
  hub.device_keys[alice.user()]["ALICE"].erase(kAttestationField);
  bob.machine->update_tracked_users({alice.user()});
  bob.flush();
  const auto outcome = send_to_device(alice, bob, kEnvelopes, kHello);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::untrusted_device);
}

TEST_F(OlmChannel, ASessionOpenedByADeviceThatIsNotAttestedIsNotKept) {
  hub.device_keys[alice.user()]["ALICE"].erase(kAttestationField);
  bob.machine->update_tracked_users({alice.user()});
  bob.flush();
  const json event = intercept();
  ASSERT_EQ(deliver(event).rejected.size(), 1u);
  EXPECT_EQ(bob.machine->olm_session_opener(event), alice.machine->curve25519_key())
      << "no session matches the message: none was kept";
  bob.restart();
  EXPECT_EQ(bob.machine->olm_session_opener(event), alice.machine->curve25519_key())
      << "nor stored";
}

TEST_F(OlmChannel, ASessionOpenedByAnAttestedDeviceIsKept) {
  const json event = intercept();
  ASSERT_EQ(deliver(event).events.size(), 1u);
  bob.restart();
  EXPECT_EQ(bob.machine->olm_session_opener(event), std::nullopt);
}

TEST_F(OlmChannel, ReplayRecordsOlderThanTheWindowArePruned) {
  const auto seen = bob.env().table<store::BytesKey, store::U64Value>("e2ee_olm_seen");
  send_to_device(alice, bob, kEnvelopes, kHello);
  ASSERT_EQ(seen.count(bob.env().read()), 1u);
  store::Changes step;
  bob.machine->prune_replay_records(clock.now, step);
  bob.env().commit_now(std::move(step));
  EXPECT_EQ(seen.count(bob.env().read()), 1u) << "recorded now: inside the window";
  clock.now += 1;
  bob.machine->prune_replay_records(clock.now, step);
  bob.env().commit_now(std::move(step));
  EXPECT_EQ(seen.count(bob.env().read()), 0u);
}

TEST_F(OlmChannel, NothingIsSentToADeviceThatIsNotAttested) {
  hub.device_keys[bob.user()]["BOB"].erase(kAttestationField);
  alice.flush();
  for (int i = 0; i < 3; ++i) {
    alice.machine->encrypt_to_device(bob.user(), kEnvelopes, kHello);
    alice.flush();
  }
  EXPECT_TRUE(hub.inbox[bob.user()]["BOB"].empty());
}

TEST_F(OlmChannel, AWedgedSessionIsRepairedWithADummyAtMostOncePerHour) {
  bob.machine->update_tracked_users({alice.user()});
  bob.flush();
  const auto backup = bob.snapshot();  // knows alice's device, has no session yet
  send_to_device(alice, bob, kEnvelopes, kHello);
  send_to_device(bob, alice, kEnvelopes, {{"reply", 1}});  // alice now sends normal messages
  bob.restore(backup);                                     // bob lost the session

  auto lost = send_to_device(alice, bob, kEnvelopes, {{"n", 1}});
  ASSERT_EQ(lost.rejected.size(), 1u);
  EXPECT_EQ(lost.rejected[0].reason, ToDeviceError::no_session);
  bob.restart();  // the repair was recorded with the failed step: a restart does not lose it
  const int sent_before = hub.to_device_requests;
  bob.flush();  // claims alice's key, opens a new session, sends m.dummy
  EXPECT_EQ(hub.to_device_requests, sent_before + 1);
  EXPECT_TRUE(alice.sync().events.empty());  // the dummy is consumed

  const auto repaired = send_to_device(alice, bob, kEnvelopes, {{"n", 2}});
  ASSERT_EQ(repaired.events.size(), 1u);
  EXPECT_EQ(repaired.events[0].content, json({{"n", 2}}));

  // Within the hour, another message no session opens starts no second repair...
  auto undecryptable = [&] {
    json event = intercept({{"n", 3}});
    std::string& body = body_of(event, bob.machine->curve25519_key());
    body[body.size() / 2] = body[body.size() / 2] == 'A' ? 'B' : 'A';
    const auto outcome = deliver(event);
    EXPECT_EQ(outcome.rejected.size(), 1u);
  };
  undecryptable();
  const int after_first = hub.to_device_requests;
  bob.flush();
  EXPECT_EQ(hub.to_device_requests, after_first);
  // ...until the hour is over.
  clock.now += kWedgedRecoveryIntervalMs;
  undecryptable();
  const int after_second = hub.to_device_requests;
  bob.flush();
  EXPECT_EQ(hub.to_device_requests, after_second + 1);
}

// olm_session_opener: what the transport asks before handing to-device events over, to throttle
// new sessions per sender key (mrt::Policy::olm_sessions_per_device_per_hour).
TEST_F(OlmChannel, APreKeyMessageNoSessionMatchesNamesItsSenderKeyAsAnOpener) {
  const json event = intercept();
  EXPECT_EQ(bob.machine->olm_session_opener(event), alice.machine->curve25519_key());
}

TEST_F(OlmChannel, AskingWhetherAMessageOpensASessionChangesNothing) {
  const json event = intercept();
  ASSERT_TRUE(bob.machine->olm_session_opener(event));
  ASSERT_TRUE(bob.machine->olm_session_opener(event));  // asking opened no session
  // Nor spent the one-time key: the message still opens its session.
  EXPECT_EQ(deliver(event).events.size(), 1u);
}

TEST_F(OlmChannel, APreKeyMessageOfAKnownSessionOpensNothing) {
  ASSERT_EQ(deliver(intercept()).events.size(), 1u);
  // Alice has heard nothing back: her next message is a pre-key message of the same session.
  const json again = intercept({{"n", 2}});
  ASSERT_EQ(again["content"]["ciphertext"][bob.machine->curve25519_key()]["type"], 0);
  EXPECT_EQ(bob.machine->olm_session_opener(again), std::nullopt);
}

TEST_F(OlmChannel, ANormalMessageOpensNothing) {
  send_to_device(alice, bob, kEnvelopes, kHello);
  send_to_device(bob, alice, kEnvelopes, {{"reply", 1}});
  const json normal = intercept({{"n", 2}});
  ASSERT_EQ(normal["content"]["ciphertext"][bob.machine->curve25519_key()]["type"], 1);
  EXPECT_EQ(bob.machine->olm_session_opener(normal), std::nullopt);
}

TEST_F(OlmChannel, AnEventThatIsNotOlmForThisDeviceOpensNothing) {
  json event = intercept();
  json plaintext = event;
  plaintext["type"] = "m.room_key";
  json other_device = event;
  other_device["content"]["ciphertext"] = {{"someone else's key", {{"type", 0}, {"body", "x"}}}};
  EXPECT_EQ(bob.machine->olm_session_opener(plaintext), std::nullopt);
  EXPECT_EQ(bob.machine->olm_session_opener(other_device), std::nullopt);
  EXPECT_EQ(bob.machine->olm_session_opener(json("not an event")), std::nullopt);
}

// Stores written before requests were typed kept a queued to-device request's HTTP path.
TEST_F(OlmChannel, AQueuedToDeviceRequestStoredWithItsPathLoadsWithItsEventType) {
  const auto table = bob.env().table<store::StringKey, store::JsonValue>("e2ee_outgoing");
  store::Changes old;
  old.put(table, "old1",
          json{{"path", "/_matrix/client/v3/sendToDevice/m.room.encrypted/old1"},
               {"body", {{"messages", json::object()}}}});
  bob.env().commit_now(std::move(old));
  bob.restart();
  const auto requests = bob.machine->outgoing_requests();
  const auto it = std::find_if(requests.begin(), requests.end(),
                               [](const OutgoingRequest& r) { return r.id == "old1"; });
  ASSERT_NE(it, requests.end());
  EXPECT_EQ(it->type, RequestType::to_device);
  EXPECT_EQ(it->event_type, "m.room.encrypted");
  EXPECT_EQ(it->body, json({{"messages", json::object()}}));
}

}  // namespace
}  // namespace mrt::testing
