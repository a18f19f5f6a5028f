// /sync: long-poll wake-ups, timeline limits, filters, sections, to-device, device lists.
#include <chrono>
#include <future>
#include <thread>

#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
class SyncTest : public DevserverTest {};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST_F(SyncTest, LongPollReturnsOnTimeoutWithNothingNew) {
  TestUser alice = login_new();
  const std::string since = sync(alice)["next_batch"];
  const auto t = Clock::now();
  Json s = sync(alice, since, 300);
  EXPECT_GE(seconds_since(t), 0.29);
  EXPECT_EQ(s["next_batch"], since);
  EXPECT_TRUE(s["rooms"]["join"].empty());
}

TEST_F(SyncTest, ANewEventWakesEveryWaitingSyncOfTheRoomAtOnce) {
  TestUser alice = login_new();
  const std::string room = create_room(alice, {{"preset", "public_chat"}});
  std::vector<TestUser> members;
  for (int i = 0; i < 8; ++i) {
    members.push_back(login_new());
    ASSERT_EQ(join(members.back(), room).status, 200);
  }
  std::vector<std::string> since;
  for (auto& m : members) since.push_back(sync(m)["next_batch"]);
  std::vector<std::future<std::pair<double, Json>>> polls;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < members.size(); ++i) {
    polls.push_back(std::async(std::launch::async, [&, i] {
      HttpClient own(server_->base_url());
      auto r = own.get(api("/sync?timeout=20000&since=" + since[i]), members[i].token);
      return std::make_pair(seconds_since(start), r.json);
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all of them are waiting
  ASSERT_EQ(send_text(alice, room, "wake", "wake up").status, 200);
  for (auto& p : polls) {
    auto [took, body] = p.get();
    EXPECT_LT(took, 5.0);  // not the 20 s timeout
    const Json& events = body["rooms"]["join"][room]["timeline"]["events"];
    ASSERT_EQ(events.size(), 1u) << body.dump();
    EXPECT_EQ(events[0]["content"]["body"], "wake up");
  }
}

TEST_F(SyncTest, TimelineLimitLimitedPrevBatchAndLazyMembers) {
  TestUser alice = login_new(), bob = login_new();
  const std::string room = create_room(alice, {{"preset", "public_chat"}});
  ASSERT_EQ(join(bob, room).status, 200);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(send_text(alice, room, "t" + std::to_string(i), "x").status, 200);
  const std::string filter =
      url_encode(R"({"room":{"timeline":{"limit":3},"state":{"lazy_load_members":true}}})");
  Json s = sync(bob, "", 0, "&filter=" + filter);
  const Json& joined = s["rooms"]["join"][room];
  EXPECT_EQ(joined["timeline"]["events"].size(), 3u);
  EXPECT_EQ(joined["timeline"]["limited"], true);
  // Lazy loading: only the members of the senders (Alice) and of the syncing user.
  std::set<std::string> members;
  for (const auto& e : joined["state"]["events"]) {
    if (e["type"] == "m.room.member") members.insert(e["state_key"]);
  }
  EXPECT_EQ(members, (std::set<std::string>{alice.user_id, bob.user_id}));
  // prev_batch continues backwards where the timeline starts.
  auto older = http.get(api("/rooms/" + url_encode(room) + "/messages?dir=b&limit=1&from=" +
                            joined["timeline"]["prev_batch"].get<std::string>()),
                        bob.token);
  ASSERT_EQ(older.json["chunk"].size(), 1u);
  EXPECT_EQ(older.json["chunk"][0]["content"]["body"], "x");
  // A stored filter works the same way.
  auto f = http.post(api("/user/" + url_encode(bob.user_id) + "/filter"),
                     Json::parse(R"({"room":{"timeline":{"limit":2}}})"), bob.token);
  ASSERT_EQ(f.status, 200);
  auto stored = http.get(
      api("/user/" + url_encode(bob.user_id) + "/filter/" + f.json["filter_id"].get<std::string>()),
      bob.token);
  EXPECT_EQ(stored.json["room"]["timeline"]["limit"], 2);
  EXPECT_EQ(http.get(api("/user/" + url_encode(alice.user_id) + "/filter/0"), bob.token).errcode(),
            "M_FORBIDDEN");
  Json s2 = sync(bob, "", 0, "&filter=" + f.json["filter_id"].get<std::string>());
  EXPECT_EQ(s2["rooms"]["join"][room]["timeline"]["events"].size(), 2u);
  EXPECT_EQ(http.get(api("/sync?filter=999"), bob.token).errcode(), "M_INVALID_PARAM");
  // full_state returns the state again on an incremental sync.
  Json full = sync(bob, s["next_batch"], 0, "&full_state=true");
  EXPECT_FALSE(full["rooms"]["join"][room]["state"]["events"].empty());
}

TEST_F(SyncTest, InviteJoinAndLeaveSections) {
  TestUser alice = login_new(), bob = login_new();
  std::string since = sync(bob)["next_batch"];
  const std::string room = create_room(alice);
  ASSERT_EQ(invite(alice, room, bob).status, 200);
  Json s = sync(bob, since, 5000);
  ASSERT_TRUE(s["rooms"]["invite"].contains(room)) << s.dump();
  since = s["next_batch"];
  ASSERT_EQ(join(bob, room).status, 200);
  s = sync(bob, since, 5000);
  ASSERT_TRUE(s["rooms"]["join"].contains(room));
  // Newly joined: the full state comes with it.
  bool create = false;
  for (const auto& e : s["rooms"]["join"][room]["state"]["events"])
    create |= e["type"] == "m.room.create";
  for (const auto& e : s["rooms"]["join"][room]["timeline"]["events"])
    create |= e["type"] == "m.room.create";
  EXPECT_TRUE(create);
  since = s["next_batch"];
  ASSERT_EQ(http.post(api("/rooms/" + url_encode(room) + "/kick"), {{"user_id", bob.user_id}},
                      alice.token)
                .status,
            200);
  s = sync(bob, since, 5000);
  ASSERT_TRUE(s["rooms"]["leave"].contains(room)) << s.dump();
  const Json& last = s["rooms"]["leave"][room]["timeline"]["events"].back();
  EXPECT_EQ(last["content"]["membership"], "leave");
}

TEST_F(SyncTest, ToDeviceIsDeliveredUntilAcknowledgedByTheNextSince) {
  TestUser alice = login_new(), bob = login_new();
  const std::string since0 = sync(bob)["next_batch"];
  Json body = {{"messages", {{bob.user_id, {{bob.device_id, {{"hello", 1}}}}}}}};
  ASSERT_EQ(http.put(api("/sendToDevice/org.example.ping/txn1"), body, alice.token).status, 200);
  // A retry of the same transaction is not a second message.
  ASSERT_EQ(http.put(api("/sendToDevice/org.example.ping/txn1"), body, alice.token).status, 200);
  Json s1 = sync(bob, since0, 5000);
  ASSERT_EQ(s1["to_device"]["events"].size(), 1u) << s1.dump();
  EXPECT_EQ(s1["to_device"]["events"][0]["sender"], alice.user_id);
  EXPECT_EQ(s1["to_device"]["events"][0]["type"], "org.example.ping");
  // Not acknowledged yet: the same since delivers it again.
  Json again = sync(bob, since0, 0);
  EXPECT_EQ(again["to_device"]["events"].size(), 1u);
  // Acknowledged by using next_batch: gone, also for a later retry of the old since.
  Json s2 = sync(bob, s1["next_batch"], 0);
  EXPECT_TRUE(s2["to_device"]["events"].empty());
  Json old = sync(bob, since0, 0);
  EXPECT_TRUE(old["to_device"]["events"].empty());
  // "*" reaches every device of the user.
  Json all = {{"messages", {{bob.user_id, {{"*", {{"x", 2}}}}}}}};
  ASSERT_EQ(http.put(api("/sendToDevice/org.example.ping/txn2"), all, alice.token).status, 200);
  EXPECT_EQ(sync(bob, s2["next_batch"], 5000)["to_device"]["events"].size(), 1u);
}

TEST_F(SyncTest, AnAnswerCarriesAtMostAHundredToDeviceMessagesAndTheRestComeNext) {
  TestUser alice = login_new(), bob = login_new();
  const std::string since0 = sync(bob)["next_batch"];
  for (int i = 0; i < 150; ++i) {
    Json body = {{"messages", {{bob.user_id, {{bob.device_id, {{"n", i}}}}}}}};
    ASSERT_EQ(
        http.put(api("/sendToDevice/org.example.ping/t" + std::to_string(i)), body, alice.token)
            .status,
        200);
  }
  Json first = sync(bob, since0, 0);
  ASSERT_EQ(first["to_device"]["events"].size(), 100u);
  EXPECT_EQ(first["to_device"]["events"][99]["content"]["n"], 99);
  Json rest = sync(bob, first["next_batch"], 0);
  ASSERT_EQ(rest["to_device"]["events"].size(), 50u);
  EXPECT_EQ(rest["to_device"]["events"][0]["content"]["n"], 100);
}

TEST_F(SyncTest, ADeviceRemembersItsLatestThousandToDeviceTransactions) {
  TestUser alice = login_new(), bob = login_new();
  const std::string since0 = sync(bob)["next_batch"];
  Json body = {{"messages", {{bob.user_id, {{bob.device_id, {{"n", 1}}}}}}}};
  auto put = [&](int txn) {
    return http
        .put(api("/sendToDevice/org.example.ping/t" + std::to_string(txn)), body, alice.token)
        .status;
  };
  for (int i = 0; i <= 1000; ++i) ASSERT_EQ(put(i), 200);
  ASSERT_EQ(put(1000), 200);  // the newest again: a retry, not delivered twice
  ASSERT_EQ(put(0), 200);     // the oldest was forgotten: delivered again
  std::size_t n = 0;
  for (std::string since = since0;;) {  // 100 per answer
    const Json s = sync(bob, since, 0);
    if (s["to_device"]["events"].empty()) break;
    n += s["to_device"]["events"].size();
    since = s["next_batch"];
  }
  EXPECT_EQ(n, 1002u);
}

TEST_F(SyncTest, DeviceListsChangedAndLeft) {
  TestUser alice = login_new(), bob = login_new();
  const std::string room = create_room(alice, {{"preset", "public_chat"}});
  std::string since = sync(alice)["next_batch"];
  ASSERT_EQ(join(bob, room).status, 200);
  Json s = sync(alice, since, 5000);
  EXPECT_NE(std::find(s["device_lists"]["changed"].begin(), s["device_lists"]["changed"].end(),
                      bob.user_id),
            s["device_lists"]["changed"].end())
      << s.dump();
  since = s["next_batch"];
  Json keys = {{"device_keys",
                {{"user_id", bob.user_id},
                 {"device_id", bob.device_id},
                 {"algorithms", {"m.olm.v1.curve25519-aes-sha2"}},
                 {"keys", {{"curve25519:" + bob.device_id, "abc"}}},
                 {"signatures", Json::object()}}}};
  ASSERT_EQ(http.post(api("/keys/upload"), keys, bob.token).status, 200);
  s = sync(alice, since, 5000);
  EXPECT_EQ(s["device_lists"]["changed"], Json::array({bob.user_id})) << s.dump();
  since = s["next_batch"];
  ASSERT_EQ(
      http.post(api("/rooms/" + url_encode(room) + "/leave"), Json::object(), bob.token).status,
      200);
  s = sync(alice, since, 5000);
  EXPECT_EQ(s["device_lists"]["left"], Json::array({bob.user_id})) << s.dump();
  auto changes =
      http.get(api("/keys/changes?from=" + since + "&to=" + s["next_batch"].get<std::string>()),
               alice.token);
  EXPECT_EQ(changes.json["left"], Json::array({bob.user_id}));
}

TEST_F(SyncTest, BadSinceTokensAreRefused) {
  TestUser alice = login_new();
  EXPECT_EQ(http.get(api("/sync?since=garbage"), alice.token).errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(http.get(api("/sync?timeout=abc"), alice.token).errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(http.get(api("/sync?filter=%7Bnot"), alice.token).errcode(), "M_NOT_JSON");
}

}  // namespace
}  // namespace mrt::testing
