// Versions, .well-known, capabilities, push rules, profile, presence, account data, the user
// directory, CORS.
#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
class MiscTest : public DevserverTest {};

TEST_F(MiscTest, VersionsWellKnownCapabilitiesPushRules) {
  auto v = http.get("/_matrix/client/versions");
  ASSERT_EQ(v.status, 200);
  EXPECT_NE(std::find(v.json["versions"].begin(), v.json["versions"].end(), "v1.11"),
            v.json["versions"].end());
  auto wk = http.get("/.well-known/matrix/client");
  EXPECT_TRUE(
      wk.json["m.homeserver"]["base_url"].get<std::string>().starts_with("http://127.0.0.1:"));
  TestUser u = login_new();
  auto caps = http.get(api("/capabilities"), u.token);
  EXPECT_EQ(caps.json["capabilities"]["m.room_versions"]["default"], "10");
  auto rules = http.get(api("/pushrules/"), u.token);
  ASSERT_EQ(rules.status, 200);
  EXPECT_EQ(rules.json["global"]["override"][0]["rule_id"], ".m.rule.master");
  EXPECT_FALSE(rules.json["global"]["underride"].empty());
  EXPECT_EQ(rules.json["global"]["content"][0]["pattern"], u.address);
}

TEST_F(MiscTest, CorsOnEveryAnswerAndPreflight) {
  auto r = http.request("OPTIONS", api("/sync"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Access-Control-Allow-Origin: *"), std::string::npos) << r.headers;
  auto e = http.get("/nowhere");
  EXPECT_NE(e.headers.find("Access-Control-Allow-Origin: *"), std::string::npos);
}

TEST_F(MiscTest, ProfileAndMemberEventsFollowDisplayname) {
  TestUser u = login_new();
  const std::string room = create_room(u);
  const std::string path = api("/profile/" + url_encode(u.user_id) + "/displayname");
  EXPECT_EQ(http.put(path, {{"displayname", "0xsig"}}, u.token).status, 200);
  EXPECT_EQ(http.get(path).json["displayname"], "0xsig");
  EXPECT_EQ(http.get(api("/profile/" + url_encode(u.user_id))).json["displayname"], "0xsig");
  auto member = http.get(
      api("/rooms/" + url_encode(room) + "/state/m.room.member/" + url_encode(u.user_id)), u.token);
  EXPECT_EQ(member.json["displayname"], "0xsig");
  TestUser other = login_new();
  EXPECT_EQ(http.put(path, {{"displayname", "hijack"}}, other.token).errcode(), "M_FORBIDDEN");
  EXPECT_EQ(http.put(api("/profile/" + url_encode(u.user_id) + "/avatar_url"),
                     {{"avatar_url", "mxc://x/y"}}, u.token)
                .status,
            200);
  EXPECT_EQ(http.get(api("/profile/" + url_encode(u.user_id) + "/avatar_url")).json["avatar_url"],
            "mxc://x/y");
  EXPECT_EQ(http.get(api("/profile/%40nobody%3Alocalhost")).errcode(), "M_NOT_FOUND");
}

TEST_F(MiscTest, PresenceGetPutAndSync) {
  TestUser u = login_new();
  const std::string since = sync(u)["next_batch"];
  const std::string path = api("/presence/" + url_encode(u.user_id) + "/status");
  EXPECT_EQ(http.put(path, {{"presence", "online"}, {"status_msg", "routing"}}, u.token).status,
            200);
  auto got = http.get(path, u.token);
  EXPECT_EQ(got.json["presence"], "online");
  EXPECT_EQ(got.json["status_msg"], "routing");
  Json s = sync(u, since, 5000);
  ASSERT_EQ(s["presence"]["events"].size(), 1u);
  EXPECT_EQ(s["presence"]["events"][0]["content"]["presence"], "online");
  EXPECT_EQ(http.put(path, {{"presence", "dancing"}}, u.token).errcode(), "M_INVALID_PARAM");
}

TEST_F(MiscTest, AccountDataGlobalAndPerRoom) {
  TestUser u = login_new();
  const std::string room = create_room(u);
  const std::string since = sync(u)["next_batch"];
  const std::string global = api("/user/" + url_encode(u.user_id) + "/account_data/m.direct");
  EXPECT_EQ(http.get(global, u.token).errcode(), "M_NOT_FOUND");
  EXPECT_EQ(http.put(global, {{"@x:localhost", {room}}}, u.token).status, 200);
  EXPECT_EQ(http.get(global, u.token).json["@x:localhost"][0], room);
  const std::string per_room = api("/user/" + url_encode(u.user_id) + "/rooms/" + url_encode(room) +
                                   "/account_data/org.example.tag");
  EXPECT_EQ(http.put(per_room, {{"v", 1}}, u.token).status, 200);
  EXPECT_EQ(http.get(per_room, u.token).json["v"], 1);
  Json s = sync(u, since, 5000);
  EXPECT_EQ(s["account_data"]["events"][0]["type"], "m.direct");
  EXPECT_EQ(s["rooms"]["join"][room]["account_data"]["events"][0]["type"], "org.example.tag");
  TestUser other = login_new();
  EXPECT_EQ(http.get(global, other.token).errcode(), "M_FORBIDDEN");
}

TEST_F(MiscTest, UserDirectoryFindsEveryUserByAddress) {
  TestUser alice = login_new(), bob = login_new();  // no shared room
  auto r = http.post(api("/user_directory/search"), {{"search_term", alice.address}}, bob.token);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["results"].size(), 1u);
  EXPECT_EQ(r.json["results"][0]["user_id"], alice.user_id);
  auto many =
      http.post(api("/user_directory/search"), {{"search_term", "0x"}, {"limit", 1}}, bob.token);
  EXPECT_EQ(many.json["results"].size(), 1u);
  EXPECT_EQ(many.json["limited"], true);
  EXPECT_EQ(http.post(api("/user_directory/search"), {{"search_term", 1}}, bob.token).errcode(),
            "M_BAD_JSON");
}

}  // namespace
}  // namespace mrt::testing
