// kill -9 in the middle of traffic, restart on the same data: every acknowledged event is
// there, tokens still work, and a client resumes from its old `since`.
#include <atomic>
#include <sys/wait.h>
#include <thread>

#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;

TestUser login(HttpClient& http, const PrivateKey& key) {
  auto r = http.post(api("/login"), login_body(key));
  EXPECT_EQ(r.status, 200) << r.body;
  return {r.json.value("user_id", ""), r.json.value("access_token", ""),
          r.json.value("device_id", ""), key.address().to_hex()};
}

TEST(RestartTest, KillNineMidTrafficLosesNothingAcknowledgedAndSyncResumes) {
  const auto dir = suite_dir("restart");
  auto server = std::make_unique<ServerProcess>(dir, kNoLimits);
  HttpClient http(server->base_url());
  const PrivateKey alice_key = PrivateKey::generate(), bob_key = PrivateKey::generate();
  TestUser alice = login(http, alice_key), bob = login(http, bob_key);
  const std::string room =
      http.post(api("/createRoom"), {{"preset", "public_chat"}}, alice.token).json["room_id"];
  ASSERT_EQ(http.post(api("/join/" + url_encode(room)), Json::object(), bob.token).status, 200);
  const std::string bob_since = http.get(api("/sync"), bob.token).json["next_batch"];
  Json to_device = {{"messages", {{bob.user_id, {{bob.device_id, {{"n", 1}}}}}}}};
  ASSERT_EQ(http.put(api("/sendToDevice/org.example.ping/1"), to_device, alice.token).status, 200);

  std::vector<std::string> acknowledged;
  std::atomic<int> acked{0};
  std::thread sender([&] {
    HttpClient own(server->base_url());
    for (int i = 0;; ++i) {
      auto r =
          own.put(api("/rooms/" + url_encode(room) + "/send/m.room.message/t" + std::to_string(i)),
                  {{"body", std::to_string(i)}}, alice.token);
      if (r.status != 200) return;  // the server is gone
      acknowledged.push_back(r.json["event_id"]);
      ++acked;
    }
  });
  while (acked < 40) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  server->kill_hard();
  sender.join();
  ASSERT_GE(acknowledged.size(), 40u);

  server = std::make_unique<ServerProcess>(dir, kNoLimits);
  HttpClient after(server->base_url());
  EXPECT_EQ(after.get(api("/account/whoami"), alice.token).status, 200);
  // Every acknowledged event is in the room's history.
  std::set<std::string> history;
  std::string from;
  for (;;) {
    auto r = after.get(api("/rooms/" + url_encode(room) + "/messages?dir=b&limit=100" +
                           (from.empty() ? "" : "&from=" + from)),
                       alice.token);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& e : r.json["chunk"]) history.insert(e["event_id"]);
    if (!r.json.contains("end")) break;
    from = r.json["end"];
  }
  for (const auto& id : acknowledged) EXPECT_TRUE(history.count(id)) << id << " lost";
  // Bob resumes from the since he had before the crash.
  const std::string filter = url_encode(R"({"room":{"timeline":{"limit":1000}}})");
  auto s = after.get(api("/sync?since=" + bob_since + "&filter=" + filter), bob.token);
  ASSERT_EQ(s.status, 200);
  std::set<std::string> seen;
  for (const auto& e : s.json["rooms"]["join"][room]["timeline"]["events"])
    seen.insert(e["event_id"]);
  for (const auto& id : acknowledged) EXPECT_TRUE(seen.count(id)) << id << " not synced";
  ASSERT_EQ(s.json["to_device"]["events"].size(), 1u);
  // And keeps going: a new event reaches his next long-poll.
  ASSERT_EQ(after
                .put(api("/rooms/" + url_encode(room) + "/send/m.room.message/new"),
                     {{"body", "new"}}, alice.token)
                .status,
            200);
  auto next = after.get(api("/sync?timeout=5000&since=" + s.json["next_batch"].get<std::string>()),
                        bob.token);
  const Json& events = next.json["rooms"]["join"][room]["timeline"]["events"];
  ASSERT_EQ(events.size(), 1u) << next.body;
  EXPECT_EQ(events[0]["content"]["body"], "new");
  EXPECT_TRUE(next.json["to_device"]["events"].empty());  // acknowledged by that since
  // SIGTERM stops it cleanly.
  const int status = server->terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mrt::testing
