// `mrt serve --broadcast-rules`: PROTOCOL §6 enforced by the homeserver, so that a forged
// envelope never reaches the other members of a broadcast room.
#include <mrt/envelope.hpp>

#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;

class BroadcastRulesTest : public DevserverTest {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> args = kNoLimits;
    args.push_back("--broadcast-rules");
    start_server(args);
  }

  // A public broadcast room of a fresh topic, created by `creator` and joined by `others`.
  std::string broadcast_room(const TestUser& creator, std::initializer_list<TestUser> others) {
    topic = "raiden_1_rules_" + creator.address.substr(2, 8);
    const std::string room =
        create_room(creator, {{"preset", "public_chat"}, {"room_alias_name", topic}});
    for (const TestUser& u : others) EXPECT_EQ(join(u, room).status, 200);
    return room;
  }
  HttpResult publish(const TestUser& u, const std::string& room, const Json& content) {
    return http.put(api("/rooms/" + url_encode(room) + "/send/network.raiden.envelopes/" +
                        std::to_string(++txn)),
                    content, u.token);
  }
  Json envelope(const PrivateKey& key, const std::string& body) {
    return Envelope::broadcast(key, topic, body, now()).to_json();
  }
  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // The bodies of the envelope events `u` is given in `room`.
  std::vector<std::string> bodies_seen(const TestUser& u, const std::string& room) {
    std::vector<std::string> out;
    const Json s = sync(u);
    for (const Json& e : s["rooms"]["join"][room]["timeline"]["events"]) {
      if (e["type"] != "network.raiden.envelopes") continue;
      for (const Json& env : e["content"]["envelopes"]) out.push_back(env.value("body", "?"));
    }
    return out;
  }

  PrivateKey alice_key = PrivateKey::generate(), mallory_key = PrivateKey::generate();
  TestUser alice = login_as(alice_key), mallory = login_as(mallory_key), bob = login_new();
  std::string topic;
  int txn = 0;
};

TEST_F(BroadcastRulesTest, ASignersOwnEnvelopesReachTheMembers) {
  const std::string room = broadcast_room(alice, {bob});
  auto r = publish(alice, room, {{"envelopes", {envelope(alice_key, "capacity update")}}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(bodies_seen(bob, room), std::vector<std::string>{"capacity update"});
}

TEST_F(BroadcastRulesTest, AnotherAddresssEnvelopeRepublishedIsRefusedAndNeverSeen) {
  const std::string room = broadcast_room(alice, {bob, mallory});
  const Json alices = envelope(alice_key, "alice's fee update");
  auto r = publish(mallory, room, {{"envelopes", {alices}}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
  EXPECT_NE(r.body.find("not signed by the address of the event's sender"), std::string::npos)
      << r.body;
  EXPECT_TRUE(bodies_seen(bob, room).empty());
}

TEST_F(BroadcastRulesTest, AForgedEnvelopeIsRefusedAndNeverSeen) {
  const std::string room = broadcast_room(alice, {bob, mallory});
  Json forged = envelope(mallory_key, "true");
  forged["body"] = "a false balance proof";
  auto r = publish(mallory, room, {{"envelopes", {forged}}});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("bad_signature"), std::string::npos) << r.body;
  EXPECT_TRUE(bodies_seen(bob, room).empty());
}

TEST_F(BroadcastRulesTest, ContentThatIsNoBatchIsRefused) {
  const std::string room = broadcast_room(alice, {});
  EXPECT_EQ(publish(alice, room, {{"envelopes", Json::array()}}).status, 403);
  EXPECT_EQ(publish(alice, room,
                    {{"envelopes", {envelope(alice_key, "x")}}, {"padding", std::string(100, 'x')}})
                .status,
            403);
}

TEST_F(BroadcastRulesTest, RoomsWithoutATopicAliasAreNotJudged) {
  const std::string room = create_room(alice, {{"preset", "public_chat"}});
  EXPECT_EQ(join(bob, room).status, 200);
  EXPECT_EQ(publish(alice, room, {{"envelopes", Json::array()}}).status, 200);
}

TEST_F(BroadcastRulesTest, OtherEventTypesInABroadcastRoomAreNotJudged) {
  const std::string room = broadcast_room(alice, {});
  EXPECT_EQ(send_text(alice, room, "t1", "hello").status, 200);
}

}  // namespace
}  // namespace mrt::testing
