// Rooms: creation, membership, power levels, state, send, messages, members, aliases.
#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
class RoomsTest : public DevserverTest {
 protected:
  std::string room_path(const std::string& room, const std::string& rest) {
    return api("/rooms/" + url_encode(room) + rest);
  }
};

TEST_F(RoomsTest, CreateRoomWritesPresetStateAliasNameAndInvites) {
  TestUser alice = login_new(), bob = login_new();
  const std::string alias_name = "raiden_" + alice.address.substr(2, 8);
  const std::string room =
      create_room(alice, {{"preset", "private_chat"},
                          {"is_direct", true},
                          {"name", "dm"},
                          {"room_alias_name", alias_name},
                          {"invite", {bob.user_id}},
                          {"initial_state",
                           {{{"type", "m.room.encryption"},
                             {"state_key", ""},
                             {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}},
                            {{"type", "network.raiden.dm"},
                             {"content", {{"addresses", {alice.address, bob.address}}}}}}}});
  auto state = [&](const std::string& type) {
    return http.get(room_path(room, "/state/" + type), alice.token);
  };
  EXPECT_EQ(state("m.room.join_rules").json["join_rule"], "invite");
  EXPECT_EQ(state("m.room.name").json["name"], "dm");
  EXPECT_EQ(state("m.room.encryption").json["algorithm"], "m.megolm.v1.aes-sha2");
  EXPECT_EQ(state("network.raiden.dm").json["addresses"][1], bob.address);
  EXPECT_EQ(state("m.room.power_levels").json["users"][alice.user_id], 100);
  EXPECT_EQ(state("m.room.create").json["creator"], alice.user_id);
  auto member =
      http.get(room_path(room, "/state/m.room.member/" + url_encode(bob.user_id)), alice.token);
  EXPECT_EQ(member.json["membership"], "invite");
  EXPECT_EQ(member.json["is_direct"], true);
  auto alias = http.get(api("/directory/room/" + url_encode("#" + alias_name + ":localhost")));
  EXPECT_EQ(alias.json["room_id"], room);
  // The same alias again is refused.
  auto again = http.post(api("/createRoom"), {{"room_alias_name", alias_name}}, alice.token);
  EXPECT_EQ(again.errcode(), "M_ROOM_IN_USE");
  // The invitee sees the invite with stripped state, joins, and is then listed.
  auto bob_sync = sync(bob);
  const Json& invite = bob_sync["rooms"]["invite"][room]["invite_state"]["events"];
  bool saw_dm = false;
  for (const auto& e : invite) saw_dm |= e["type"] == "network.raiden.dm";
  EXPECT_TRUE(saw_dm) << invite.dump();
  EXPECT_EQ(join(bob, room).status, 200);
  auto joined = http.get(room_path(room, "/joined_members"), alice.token);
  EXPECT_TRUE(joined.json["joined"].contains(bob.user_id));
  auto rooms = http.get(api("/joined_rooms"), bob.token);
  EXPECT_EQ(rooms.json["joined_rooms"], Json::array({room}));
}

TEST_F(RoomsTest, JoinRulesAreEnforced) {
  TestUser alice = login_new(), mallory = login_new(), carol = login_new();
  const std::string private_room = create_room(alice);
  auto r = join(mallory, private_room);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
  const std::string alias = "pub_" + alice.address.substr(2, 10);
  const std::string public_room =
      create_room(alice, {{"preset", "public_chat"}, {"room_alias_name", alias}});
  r = join(carol, "#" + alias + ":localhost");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["room_id"], public_room);
  EXPECT_EQ(join(carol, "#nope:localhost").errcode(), "M_NOT_FOUND");
  EXPECT_EQ(join(carol, "!nope:localhost").errcode(), "M_NOT_FOUND");
}

TEST_F(RoomsTest, SendingIntoARoomOneIsNotInIsForbidden) {
  TestUser alice = login_new(), mallory = login_new();
  const std::string room = create_room(alice);
  auto r = send_text(mallory, room, "t1", "spam");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
  // Neither may an invitee send before joining, nor anyone read.
  EXPECT_EQ(invite(alice, room, mallory).status, 200);
  EXPECT_EQ(send_text(mallory, room, "t2", "early").errcode(), "M_FORBIDDEN");
  EXPECT_EQ(http.get(room_path(room, "/messages"), mallory.token).errcode(), "M_FORBIDDEN");
  EXPECT_EQ(
      http.put(room_path(room, "/state/m.room.topic"), {{"topic", "x"}}, mallory.token).errcode(),
      "M_FORBIDDEN");
}

TEST_F(RoomsTest, SendIsIdempotentPerTransactionId) {
  TestUser alice = login_new();
  const std::string room = create_room(alice);
  auto first = send_text(alice, room, "txn1", "once");
  auto retry = send_text(alice, room, "txn1", "once");
  auto other = send_text(alice, room, "txn2", "twice");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.json["event_id"], retry.json["event_id"]);
  auto event =
      http.get(room_path(room, "/event/" + url_encode(first.json["event_id"])), alice.token);
  EXPECT_EQ(event.json["content"]["body"], "once");
  EXPECT_EQ(http.get(room_path(room, "/event/%24nope"), alice.token).errcode(), "M_NOT_FOUND");
  EXPECT_NE(first.json["event_id"], other.json["event_id"]);
  auto messages = http.get(room_path(room, "/messages?dir=b&limit=50"), alice.token);
  int count = 0;
  for (const auto& e : messages.json["chunk"]) count += e["type"] == "m.room.message";
  EXPECT_EQ(count, 2);
  // The sender's own sync echo carries the transaction id.
  auto s = sync(alice);
  bool echoed = false;
  for (const auto& e : s["rooms"]["join"][room]["timeline"]["events"]) {
    echoed |= e["unsigned"].value("transaction_id", "") == "txn1";
  }
  EXPECT_TRUE(echoed);
}

TEST_F(RoomsTest, PowerLevelsGuardStateKickAndBan) {
  TestUser alice = login_new(), bob = login_new(), carol = login_new();
  const std::string room = create_room(alice, {{"preset", "public_chat"}});
  ASSERT_EQ(join(bob, room).status, 200);
  ASSERT_EQ(join(carol, room).status, 200);
  // Bob (level 0) may not name the room, kick, ban, or raise himself.
  EXPECT_EQ(
      http.put(room_path(room, "/state/m.room.name"), {{"name", "bob's"}}, bob.token).errcode(),
      "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/kick"), {{"user_id", carol.user_id}}, bob.token).errcode(),
            "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/ban"), {{"user_id", carol.user_id}}, bob.token).errcode(),
            "M_FORBIDDEN");
  auto pl = http.get(room_path(room, "/state/m.room.power_levels"), alice.token).json;
  Json raised = pl;
  raised["users"][bob.user_id] = 100;
  EXPECT_EQ(http.put(room_path(room, "/state/m.room.power_levels"), raised, bob.token).errcode(),
            "M_FORBIDDEN");
  // Alice gives Bob 50: he may kick Carol but not Alice, nor give out 100.
  Json fifty = pl;
  fifty["users"][bob.user_id] = 50;
  EXPECT_EQ(http.put(room_path(room, "/state/m.room.power_levels"), fifty, alice.token).status,
            200);
  EXPECT_EQ(http.post(room_path(room, "/kick"), {{"user_id", alice.user_id}}, bob.token).errcode(),
            "M_FORBIDDEN");
  fifty["users"][carol.user_id] = 100;
  EXPECT_EQ(http.put(room_path(room, "/state/m.room.power_levels"), fifty, bob.token).errcode(),
            "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/kick"), {{"user_id", carol.user_id}, {"reason", "test"}},
                      bob.token)
                .status,
            200);
  auto member =
      http.get(room_path(room, "/state/m.room.member/" + url_encode(carol.user_id)), alice.token);
  EXPECT_EQ(member.json["membership"], "leave");
  // Carol may come back (public room) until banned; then not.
  EXPECT_EQ(join(carol, room).status, 200);
  EXPECT_EQ(http.post(room_path(room, "/ban"), {{"user_id", carol.user_id}}, alice.token).status,
            200);
  EXPECT_EQ(join(carol, room).errcode(), "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/unban"), {{"user_id", carol.user_id}}, alice.token).status,
            200);
  EXPECT_EQ(join(carol, room).status, 200);
  // Power levels must be integers.
  Json bad = pl;
  bad["users"][bob.user_id] = "100";
  EXPECT_EQ(http.put(room_path(room, "/state/m.room.power_levels"), bad, alice.token).errcode(),
            "M_BAD_JSON");
  // State keys naming another user are theirs.
  EXPECT_EQ(http.put(room_path(room, "/state/org.example/" + url_encode(carol.user_id)),
                     Json::object(), alice.token)
                .errcode(),
            "M_FORBIDDEN");
}

TEST_F(RoomsTest, StateGetAndPutWithAndWithoutKeys) {
  TestUser alice = login_new();
  const std::string room = create_room(alice);
  auto put = http.put(room_path(room, "/state/m.room.topic/"), {{"topic", "t1"}}, alice.token);
  ASSERT_EQ(put.status, 200);
  EXPECT_TRUE(put.json["event_id"].get<std::string>().starts_with("$"));
  EXPECT_EQ(http.get(room_path(room, "/state/m.room.topic"), alice.token).json["topic"], "t1");
  EXPECT_EQ(
      http.put(room_path(room, "/state/org.example.thing/key1"), {{"v", 1}}, alice.token).status,
      200);
  EXPECT_EQ(http.get(room_path(room, "/state/org.example.thing/key1"), alice.token).json["v"], 1);
  EXPECT_EQ(http.get(room_path(room, "/state/org.example.thing/key2"), alice.token).errcode(),
            "M_NOT_FOUND");
  auto all = http.get(room_path(room, "/state"), alice.token);
  ASSERT_TRUE(all.json.is_array());
  bool topic = false;
  for (const auto& e : all.json) topic |= e["type"] == "m.room.topic";
  EXPECT_TRUE(topic);
  EXPECT_EQ(
      http.put(room_path(room, "/state/m.room.create"), Json::object(), alice.token).errcode(),
      "M_FORBIDDEN");
}

TEST_F(RoomsTest, MessagesPaginateBothWays) {
  TestUser alice = login_new();
  const std::string room = create_room(alice);
  for (int i = 0; i < 25; ++i)
    ASSERT_EQ(send_text(alice, room, "m" + std::to_string(i), std::to_string(i)).status, 200);
  std::vector<std::string> backwards;
  std::string from;
  for (int page = 0; page < 10; ++page) {
    auto r = http.get(
        room_path(room, "/messages?dir=b&limit=10" + (from.empty() ? "" : "&from=" + from)),
        alice.token);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& e : r.json["chunk"]) {
      if (e["type"] == "m.room.message") backwards.push_back(e["content"]["body"]);
    }
    if (!r.json.contains("end")) break;
    from = r.json["end"];
  }
  ASSERT_EQ(backwards.size(), 25u);
  EXPECT_EQ(backwards.front(), "24");
  EXPECT_EQ(backwards.back(), "0");
  auto forward = http.get(room_path(room, "/messages?dir=f&limit=5&from=s0"), alice.token);
  ASSERT_EQ(forward.json["chunk"].size(), 5u);
  EXPECT_EQ(forward.json["chunk"][0]["type"], "m.room.create");
  EXPECT_TRUE(forward.json.contains("end"));
  EXPECT_EQ(http.get(room_path(room, "/messages?from=bogus"), alice.token).errcode(),
            "M_INVALID_PARAM");
  EXPECT_EQ(http.get(room_path(room, "/messages?dir=x"), alice.token).errcode(), "M_INVALID_PARAM");
  auto lazy = http.get(room_path(room, "/messages?dir=b&limit=3&filter=" +
                                           url_encode(R"({"lazy_load_members":true})")),
                       alice.token);
  ASSERT_EQ(lazy.json["state"].size(), 1u);
  EXPECT_EQ(lazy.json["state"][0]["state_key"], alice.user_id);
}

TEST_F(RoomsTest, MembersLeaveAndForget) {
  TestUser alice = login_new(), bob = login_new();
  const std::string room = create_room(alice);
  ASSERT_EQ(invite(alice, room, bob).status, 200);
  auto members = http.get(room_path(room, "/members"), alice.token);
  EXPECT_EQ(members.json["chunk"].size(), 2u);
  auto invited = http.get(room_path(room, "/members?membership=invite"), alice.token);
  ASSERT_EQ(invited.json["chunk"].size(), 1u);
  EXPECT_EQ(invited.json["chunk"][0]["state_key"], bob.user_id);
  // Bob rejects the invite by leaving; Alice leaves; a former member reads up to the leave.
  EXPECT_EQ(http.post(room_path(room, "/leave"), Json::object(), bob.token).status, 200);
  ASSERT_EQ(send_text(alice, room, "before", "before").status, 200);
  EXPECT_EQ(http.post(room_path(room, "/forget"), Json::object(), alice.token).errcode(),
            "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/leave"), Json::object(), alice.token).status, 200);
  auto history = http.get(room_path(room, "/messages?dir=b&limit=50"), alice.token);
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(history.json["chunk"][0]["type"], "m.room.member");
  EXPECT_EQ(send_text(alice, room, "after", "after").errcode(), "M_FORBIDDEN");
  EXPECT_EQ(http.post(room_path(room, "/forget"), Json::object(), alice.token).status, 200);
  EXPECT_TRUE(http.get(api("/joined_rooms"), alice.token).json["joined_rooms"].empty());
}

TEST_F(RoomsTest, AliasesPutGetDelete) {
  TestUser alice = login_new(), bob = login_new();
  const std::string room = create_room(alice);
  const std::string alias = "#a" + alice.address.substr(2, 10) + ":localhost";
  EXPECT_EQ(http.put(api("/directory/room/" + url_encode(alias)), {{"room_id", room}}, bob.token)
                .errcode(),
            "M_FORBIDDEN");
  EXPECT_EQ(http.put(api("/directory/room/" + url_encode(alias)), {{"room_id", room}}, alice.token)
                .status,
            200);
  EXPECT_EQ(http.put(api("/directory/room/" + url_encode(alias)), {{"room_id", room}}, alice.token)
                .status,
            409);
  EXPECT_EQ(http.get(api("/directory/room/" + url_encode(alias))).json["room_id"], room);
  EXPECT_EQ(
      http.request("DELETE", api("/directory/room/" + url_encode(alias)), std::nullopt, alice.token)
          .status,
      200);
  EXPECT_EQ(http.get(api("/directory/room/" + url_encode(alias))).errcode(), "M_NOT_FOUND");
}

}  // namespace
}  // namespace mrt::testing
