// Per-user token buckets answer 429 M_LIMIT_EXCEEDED with retry_after_ms, as configured.
#include <thread>

#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;

class RateLimitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = suite_dir("ratelimit");
    server_ = std::make_unique<ServerProcess>(
        dir_, std::vector<std::string>{
                  "--rate-limits", "send=1/3,to_device=1/1,invite=1/1,create_room=1/2,login=1/2"});
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  TestUser login(const PrivateKey& key) {
    auto r = http.post(api("/login"), login_body(key));
    EXPECT_EQ(r.status, 200) << r.body;
    return {r.json.value("user_id", ""), r.json.value("access_token", ""),
            r.json.value("device_id", ""), key.address().to_hex()};
  }
  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<ServerProcess> server_;
  HttpClient http{server_->base_url()};
};

TEST_F(RateLimitTest, SendsBeyondTheBurstAreLimitedPerUserThenRefill) {
  TestUser alice = login(PrivateKey::generate()), bob = login(PrivateKey::generate());
  auto room = http.post(api("/createRoom"), {{"preset", "public_chat"}}, alice.token)
                  .json["room_id"]
                  .get<std::string>();
  ASSERT_EQ(http.post(api("/join/" + url_encode(room)), Json::object(), bob.token).status, 200);
  auto send = [&](const TestUser& u, const std::string& txn) {
    return http.put(api("/rooms/" + url_encode(room) + "/send/m.room.message/" + txn),
                    {{"body", "x"}}, u.token);
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(send(alice, "a" + std::to_string(i)).status, 200);
  auto limited = send(alice, "a3");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.errcode(), "M_LIMIT_EXCEEDED");
  EXPECT_GT(limited.json["retry_after_ms"].get<int>(), 0);
  EXPECT_LE(limited.json["retry_after_ms"].get<int>(), 1000);
  // A retry of an accepted transaction is not a new send; Bob has his own bucket.
  EXPECT_EQ(send(alice, "a0").status, 200);
  EXPECT_EQ(send(bob, "b0").status, 200);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(limited.json["retry_after_ms"].get<int>() + 20));
  EXPECT_EQ(send(alice, "a4").status, 200);
}

TEST_F(RateLimitTest, LoginsCreateRoomInvitesAndToDeviceAreLimited) {
  const PrivateKey key = PrivateKey::generate();
  TestUser u = login(key);
  login(key);
  auto third = http.post(api("/login"), login_body(key));
  EXPECT_EQ(third.errcode(), "M_LIMIT_EXCEEDED");
  EXPECT_EQ(http.post(api("/createRoom"), Json::object(), u.token).status, 200);
  auto room =
      http.post(api("/createRoom"), Json::object(), u.token).json["room_id"].get<std::string>();
  EXPECT_EQ(http.post(api("/createRoom"), Json::object(), u.token).errcode(), "M_LIMIT_EXCEEDED");
  EXPECT_EQ(http.post(api("/rooms/" + url_encode(room) + "/invite"), {{"user_id", "@a:localhost"}},
                      u.token)
                .status,
            200);
  EXPECT_EQ(http.post(api("/rooms/" + url_encode(room) + "/invite"), {{"user_id", "@b:localhost"}},
                      u.token)
                .errcode(),
            "M_LIMIT_EXCEEDED");
  Json msg = {{"messages", {{u.user_id, {{u.device_id, {{"a", 1}}}}}}}};
  EXPECT_EQ(http.put(api("/sendToDevice/x/1"), msg, u.token).status, 200);
  EXPECT_EQ(http.put(api("/sendToDevice/x/2"), msg, u.token).errcode(), "M_LIMIT_EXCEEDED");
}

}  // namespace
}  // namespace mrt::testing
