#include <mrt/attestation.hpp>
#include <mrt/e2ee_machine.hpp>
#include <mrt/matrix_signing.hpp>
#include <mrt/store/codecs.hpp>

#include "testing/machine_fixture.hpp"

namespace mrt::testing {
namespace {

constexpr const char* kRoom = "!dm:hs.test";
constexpr const char* kEnvelopes = "network.raiden.envelopes";

// Alice and two devices of one address (bob), all on one key hub.
class RoomKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Peer* p : {&alice, &bob1, &bob2}) p->flush();
  }
  ShareOutcome share(Peer& from, const std::vector<std::string>& members) {
    ShareOutcome last, total;
    for (int attempt = 0; attempt < 4; ++attempt) {
      from.flush();
      last = from.machine->share_room_key(kRoom, members);
      total.rotated = total.rotated || last.rotated;
      total.sent.insert(total.sent.end(), last.sent.begin(), last.sent.end());
      total.withheld.insert(total.withheld.end(), last.withheld.begin(), last.withheld.end());
      total.requests.insert(total.requests.end(), last.requests.begin(), last.requests.end());
      if (last.complete()) break;
    }
    from.flush();
    return total;
  }
  std::vector<std::string> everyone() const { return {alice.user(), bob1.user()}; }
  // bob's third device publishes keys with no attestation.
  void publish_unattested_bob3() {
    const auto ed = Ed25519Key::generate();
    json keys = {{"algorithms", {kOlmAlgorithm, kMegolmAlgorithm}},
                 {"device_id", "BOB3"},
                 {"keys",
                  {{"curve25519:BOB3", base64_unpadded(Ed25519Key::generate().public_key())},
                   {"ed25519:BOB3", base64_unpadded(ed.public_key())}}},
                 {"user_id", bob1.user()}};
    hub.device_keys[bob1.user()]["BOB3"] = sign_json(keys, bob1.user(), "ed25519:BOB3", ed).value();
  }
  json send(Peer& from, const json& content, const std::string& event_id) {
    auto encrypted = from.machine->encrypt_room_event(kRoom, kEnvelopes, content);
    EXPECT_TRUE(encrypted) << to_string(encrypted.error());
    return room_event(kRoom, from.user(), encrypted ? *encrypted : json(), event_id);
  }

  KeyHub hub;
  Clock clock;
  Peer alice{"ALICE", hub, clock};
  Peer bob1{"BOB1", hub, clock};
  Peer bob2{"BOB2", hub, clock, &bob1.key()};
};

TEST_F(RoomKeys, EveryAttestedDeviceOfTheMembersDecryptsWithTheSendersAddress) {
  const auto outcome = share(alice, everyone());
  EXPECT_EQ(outcome.sent.size(), 2u);
  EXPECT_EQ(bob1.sync().room_keys_received, 1u);
  EXPECT_EQ(bob2.sync().room_keys_received, 1u);
  const json event = send(alice, {{"n", 1}}, "$1");
  for (Peer* bob : {&bob1, &bob2}) {
    auto decrypted = bob->machine->decrypt_room_event(event);
    ASSERT_TRUE(decrypted) << to_string(decrypted.error());
    EXPECT_EQ(decrypted->type, kEnvelopes);
    EXPECT_EQ(decrypted->content, json({{"n", 1}}));
    EXPECT_EQ(decrypted->sender, alice.user());
    EXPECT_EQ(decrypted->sender_device, "ALICE");
    EXPECT_EQ(decrypted->trust, DeviceTrust::attested);
    EXPECT_EQ(decrypted->address, alice.key().address());
  }
}

TEST_F(RoomKeys, TheSenderReadsItsOwnEvents) {
  share(alice, everyone());
  auto own = alice.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1"));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->address, alice.key().address());
}

TEST_F(RoomKeys, AnotherDeviceOfTheSameAddressSharesWithTheOthers) {
  const auto outcome = share(bob1, everyone());
  EXPECT_EQ(outcome.sent.size(), 2u);  // alice and bob2, not bob1 itself
  EXPECT_EQ(alice.sync().room_keys_received, 1u);
  EXPECT_EQ(bob2.sync().room_keys_received, 1u);
  const json event = send(bob1, {{"n", 1}}, "$1");
  auto decrypted = alice.machine->decrypt_room_event(event);
  ASSERT_TRUE(decrypted);
  EXPECT_EQ(decrypted->address, bob1.key().address());
  EXPECT_EQ(decrypted->sender_device, "BOB1");
}

TEST_F(RoomKeys, TheSameIndexUnderAnotherEventIdIsAReplay) {
  share(alice, everyone());
  bob1.sync();
  json event = send(alice, {{"n", 1}}, "$1");
  ASSERT_TRUE(bob1.machine->decrypt_room_event(event));
  EXPECT_TRUE(bob1.machine->decrypt_room_event(event));  // the same event again is fine
  event["event_id"] = "$2";
  auto replay = bob1.machine->decrypt_room_event(event);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error(), RoomEventError::replayed);
  bob1.restart();
  replay = bob1.machine->decrypt_room_event(event);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error(), RoomEventError::replayed);
}

TEST_F(RoomKeys, ARestartMidConversationContinuesTheSameSession) {
  share(alice, everyone());
  bob1.sync();
  const auto first = bob1.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1"));
  alice.restart();
  bob1.restart();
  EXPECT_FALSE(share(alice, everyone()).rotated);
  const auto second = bob1.machine->decrypt_room_event(send(alice, {{"n", 2}}, "$2"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->session_id, first->session_id);
  EXPECT_EQ(second->message_index, first->message_index + 1);
}

TEST_F(RoomKeys, TheSessionRotatesAfterTheRoomsMessageCount) {
  alice.machine->set_room_encryption(
      kRoom, {{"algorithm", kMegolmAlgorithm}, {"rotation_period_msgs", 2}});
  share(alice, everyone());
  send(alice, {{"n", 1}}, "$1");
  send(alice, {{"n", 2}}, "$2");
  auto third = alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", 3}});
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), EncryptError::session_expired);
  EXPECT_TRUE(share(alice, everyone()).rotated);
  bob1.sync();
  const auto decrypted = bob1.machine->decrypt_room_event(send(alice, {{"n", 3}}, "$3"));
  ASSERT_TRUE(decrypted);
  EXPECT_EQ(decrypted->message_index, 0u);
}

TEST_F(RoomKeys, TheSessionRotatesAfterTheRoomsPeriodWithAFloorOfOneHour) {
  alice.machine->set_room_encryption(
      kRoom, {{"algorithm", kMegolmAlgorithm}, {"rotation_period_ms", 1000}});
  share(alice, everyone());
  clock.now += kMinRotationPeriodMs - 1;
  EXPECT_TRUE(alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", 1}}));
  clock.now += 1;
  auto late = alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", 2}});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), EncryptError::session_expired);
  EXPECT_TRUE(share(alice, everyone()).rotated);
}

TEST_F(RoomKeys, TheDefaultRotationIsAHundredMessages) {
  share(alice, everyone());
  for (std::uint64_t i = 0; i < kDefaultRotationPeriodMsgs; ++i) {
    ASSERT_TRUE(alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", i}}));
  }
  EXPECT_FALSE(alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", 100}}));
}

TEST_F(RoomKeys, AMemberWhoLeftGetsNoKeyAndCannotReadWhatFollows) {
  Peer carol{"CAROL", hub, clock};
  carol.flush();
  share(alice, {alice.user(), bob1.user(), carol.user()});
  EXPECT_EQ(carol.sync().room_keys_received, 1u);
  const auto after = share(alice, everyone());
  EXPECT_TRUE(after.rotated);
  EXPECT_EQ(after.sent.size(), 2u);
  EXPECT_EQ(carol.sync().room_keys_received, 0u);
  auto denied = carol.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1"));
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error(), RoomEventError::unknown_session);
}

TEST_F(RoomKeys, AKeyTheFilterDoesNotExpectIsRefusedAndNotKept) {
  std::vector<std::pair<std::string, Address>> asked;
  bob1.machine->set_room_key_filter([&](const std::string& room, const Address& sender) {
    asked.emplace_back(room, sender);
    return false;
  });
  share(alice, everyone());
  const SyncOutcome outcome = bob1.sync();
  EXPECT_EQ(outcome.room_keys_received, 0u);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::room_key_refused);
  EXPECT_EQ(asked, (std::vector<std::pair<std::string, Address>>{{kRoom, alice.key().address()}}))
      << "asked with the room and the sending device's attested address";
  auto denied = bob1.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1"));
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error(), RoomEventError::unknown_session);
}

TEST_F(RoomKeys, AKeyTheFilterExpectsIsKept) {
  bob1.machine->set_room_key_filter([](const std::string&, const Address&) { return true; });
  share(alice, everyone());
  EXPECT_EQ(bob1.sync().room_keys_received, 1u);
  EXPECT_TRUE(bob1.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1")));
}

TEST_F(RoomKeys, IndexRecordsOlderThanTheWindowArePrunedAndTheRestStillCatchReplays) {
  const auto index = bob1.env().table<store::StringKey, store::StringValue>("e2ee_megolm_index");
  share(alice, everyone());
  bob1.sync();
  const json first = send(alice, {{"n", 1}}, "$1");
  ASSERT_TRUE(bob1.machine->decrypt_room_event(first));
  clock.now += 10;
  const json second = send(alice, {{"n", 2}}, "$2");
  ASSERT_TRUE(bob1.machine->decrypt_room_event(second));
  store::Changes step;
  bob1.machine->prune_replay_records(clock.now - 5, step);
  bob1.env().commit_now(std::move(step));
  EXPECT_EQ(index.count(bob1.env().read()), 1u) << "the first is past the window";
  json copy = second;
  copy["event_id"] = "$copy";
  auto replay = bob1.machine->decrypt_room_event(copy);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error(), RoomEventError::replayed);
  EXPECT_TRUE(bob1.machine->decrypt_room_event(second)) << "the same event again is no replay";
}

TEST_F(RoomKeys, ANewDeviceGetsTheCurrentKeyWithoutARotation) {
  hub.device_keys[bob1.user()].erase("BOB2");  // bob2 is not yet published
  share(alice, everyone());
  hub.device_keys[bob1.user()]["BOB2"] = bob2.machine->device_keys();  // …now it is
  alice.sync({bob1.user()});
  const auto outcome = share(alice, everyone());
  EXPECT_FALSE(outcome.rotated);
  EXPECT_EQ(outcome.sent, (std::vector<DeviceRef>{{bob1.user(), "BOB2"}}));
  bob2.sync();
  EXPECT_TRUE(bob2.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1")));
}

TEST_F(RoomKeys, ADeletedDeviceRotatesTheSession) {
  share(alice, everyone());
  hub.device_keys[bob1.user()].erase("BOB2");
  alice.sync({bob1.user()});
  EXPECT_TRUE(share(alice, everyone()).rotated);
}

TEST_F(RoomKeys, ADeviceThatIsNotAttestedIsToldTheKeyIsWithheld) {
  publish_unattested_bob3();
  const auto outcome = share(alice, everyone());
  EXPECT_EQ(outcome.sent.size(), 2u);
  ASSERT_EQ(outcome.withheld, (std::vector<DeviceRef>{{bob1.user(), "BOB3"}}));
  const auto& notices = hub.inbox[bob1.user()]["BOB3"];
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0]["type"], "m.room_key.withheld");
  EXPECT_EQ(notices[0]["content"]["code"], "m.unverified");
  EXPECT_EQ(notices[0]["content"]["room_id"], kRoom);
  EXPECT_FALSE(notices[0]["content"].contains("session_key"));
}

TEST_F(RoomKeys, TheShareNamesTheRequestsItQueuedForTheKeyAndTheWithheldNotices) {
  publish_unattested_bob3();
  ShareOutcome outcome;
  std::size_t named = 0;
  for (int attempt = 0; attempt < 4 && (attempt == 0 || !outcome.complete()); ++attempt) {
    alice.flush();  // nothing queued before the call
    outcome = alice.machine->share_room_key(kRoom, everyone());
    std::set<std::string> queued;
    for (const auto& r : alice.machine->outgoing_requests())
      if (r.type == RequestType::to_device) queued.insert(r.id);
    EXPECT_EQ(std::set<std::string>(outcome.requests.begin(), outcome.requests.end()), queued);
    named += outcome.requests.size();
  }
  ASSERT_TRUE(outcome.complete());
  EXPECT_EQ(named, 2u) << "the key's request and the withheld notice's";
  alice.flush();
  EXPECT_TRUE(alice.machine->share_room_key(kRoom, everyone()).requests.empty())
      << "nothing new to share";
}

TEST_F(RoomKeys, AWithheldDeviceGetsTheCurrentKeyOnceItIsAttested) {
  // The server first serves bob2's keys with a self-signature that does not verify (the
  // attestation was altered), then the genuine ones: the same Olm keys, now attested.
  const json genuine = hub.device_keys[bob1.user()]["BOB2"];
  auto& issued_at = hub.device_keys[bob1.user()]["BOB2"]["network.raiden.attestation"]["issued_at"];
  issued_at = issued_at.get<std::int64_t>() + 1;
  ASSERT_EQ(share(alice, everyone()).withheld, (std::vector<DeviceRef>{{bob1.user(), "BOB2"}}));
  hub.device_keys[bob1.user()]["BOB2"] = genuine;
  alice.sync({bob1.user()});
  const auto outcome = share(alice, everyone());
  EXPECT_FALSE(outcome.rotated);
  EXPECT_EQ(outcome.sent, (std::vector<DeviceRef>{{bob1.user(), "BOB2"}}));
  bob2.sync();
  EXPECT_TRUE(bob2.machine->decrypt_room_event(send(alice, {{"n", 1}}, "$1")));
}

TEST_F(RoomKeys, ARoomKeySentInTheClearIsRefused) {
  share(alice, everyone());
  hub.inbox[bob1.user()]["BOB1"].clear();
  hub.inbox[bob1.user()]["BOB1"].push_back(
      {{"type", "m.room_key"},
       {"sender", alice.user()},
       {"content", {{"algorithm", kMegolmAlgorithm}, {"room_id", kRoom}}}});
  const auto outcome = bob1.sync();
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_EQ(outcome.rejected[0].reason, ToDeviceError::not_encrypted);
}

TEST_F(RoomKeys, ARoomKeyWithABrokenSessionKeyIsRefused) {
  alice.flush();
  for (int i = 0; i < 3; ++i) {
    alice.machine->encrypt_to_device(bob1.user(), "m.room_key",
                                     {{"algorithm", kMegolmAlgorithm},
                                      {"room_id", kRoom},
                                      {"session_id", "x"},
                                      {"session_key", "AAAA"}});
    alice.flush();
  }
  const auto outcome = bob1.sync();
  ASSERT_FALSE(outcome.rejected.empty());
  EXPECT_EQ(outcome.rejected.back().reason, ToDeviceError::bad_room_key);
}

TEST_F(RoomKeys, AnEventSentUnderAnotherUsersNameIsRejected) {
  share(alice, everyone());
  bob1.sync();
  json event = send(alice, {{"n", 1}}, "$1");
  event["sender"] = bob1.user();
  auto forged = bob1.machine->decrypt_room_event(event);
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error(), RoomEventError::sender_mismatch);
}

TEST_F(RoomKeys, AnEventCopiedIntoAnotherRoomFindsNoSession) {
  share(alice, everyone());
  bob1.sync();
  json event = send(alice, {{"n", 1}}, "$1");
  event["room_id"] = "!other:hs.test";
  auto moved = bob1.machine->decrypt_room_event(event);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error(), RoomEventError::unknown_session);
}

TEST_F(RoomKeys, MalformedRoomEventsAreRefusedWithAReason) {
  share(alice, everyone());
  bob1.sync();
  const json event = send(alice, {{"n", 1}}, "$1");
  auto reason = [&](const std::function<void(json&)>& change) {
    json copy = event;
    change(copy);
    auto result = bob1.machine->decrypt_room_event(copy);
    EXPECT_FALSE(result);
    return result ? RoomEventError{} : result.error();
  };
  auto ciphertext = [](json& e) -> std::string& {
    return e["content"]["ciphertext"].get_ref<std::string&>();
  };
  EXPECT_EQ(reason([&](json& e) { ciphertext(e) += "!"; }), RoomEventError::bad_ciphertext);
  EXPECT_EQ(reason([&](json& e) { ciphertext(e).resize(30); }), RoomEventError::bad_ciphertext);
  EXPECT_EQ(reason([&](json& e) { ciphertext(e).assign(70000, 'A'); }),
            RoomEventError::bad_ciphertext);
  EXPECT_EQ(reason([&](json& e) {
              auto& c = ciphertext(e);
              c[c.size() / 2] = c[c.size() / 2] == 'A' ? 'B' : 'A';
            }),
            RoomEventError::bad_ciphertext);
  EXPECT_EQ(reason([&](json& e) { e["content"]["algorithm"] = kOlmAlgorithm; }),
            RoomEventError::unsupported_algorithm);
  EXPECT_EQ(reason([&](json& e) { e["content"]["session_id"] = "nope"; }),
            RoomEventError::unknown_session);
  EXPECT_EQ(reason([&](json& e) { e.erase("event_id"); }), RoomEventError::malformed_event);
  EXPECT_EQ(reason([&](json& e) { e["content"]["session_id"] = std::string("a\0b", 3); }),
            RoomEventError::malformed_event);
  EXPECT_EQ(reason([&](json& e) { e["content"] = json::array(); }),
            RoomEventError::malformed_event);
  EXPECT_EQ(reason([&](json& e) { e["type"] = "m.room.message"; }),
            RoomEventError::malformed_event);
  EXPECT_TRUE(bob1.machine->decrypt_room_event(event));
}

TEST_F(RoomKeys, ExportedKeysDecryptOnAnotherDeviceOfTheSameAddress) {
  share(alice, everyone());
  bob1.sync();
  const json event = send(alice, {{"n", 1}}, "$1");
  const std::string file = bob1.machine->export_room_keys(as_bytes("pass"), 1000);
  Peer bob3{"BOB3", hub, clock, &bob1.key()};
  auto imported = bob3.machine->import_room_keys(file, as_bytes("pass"));
  ASSERT_TRUE(imported);
  EXPECT_EQ(*imported, 1u);
  bob3.machine->update_tracked_users({alice.user()});
  bob3.flush();
  auto decrypted = bob3.machine->decrypt_room_event(event);
  ASSERT_TRUE(decrypted);
  EXPECT_EQ(decrypted->address, alice.key().address());
  auto wrong = bob3.machine->import_room_keys(file, as_bytes("other"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), KeyImportError::wrong_passphrase);
}

TEST_F(RoomKeys, EncryptingBeforeSharingIsRefused) {
  auto refused = alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"n", 1}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), EncryptError::no_room_key);
}

TEST_F(RoomKeys, ContentWithoutACanonicalFormIsRefused) {
  share(alice, everyone());
  auto refused = alice.machine->encrypt_room_event(kRoom, kEnvelopes, {{"x", 1.5}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), EncryptError::not_canonical);
}

}  // namespace
}  // namespace mrt::testing
