// Login with the Ethereum auth provider, registration, whoami, logout, devices.
#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
class AuthTest : public DevserverTest {};

TEST_F(AuthTest, LoginFlowsOfferPassword) {
  auto r = http.get(api("/login"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["flows"][0]["type"], "m.login.password");
}

TEST_F(AuthTest, EthereumLoginCreatesTheAccountAndWhoamiKnowsIt) {
  const PrivateKey key = PrivateKey::generate();
  auto r = http.post(api("/login"), login_body(key));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string expected = "@" + key.address().to_hex() + ":localhost";
  EXPECT_EQ(r.json["user_id"], expected);
  auto who = http.get(api("/account/whoami"), r.json["access_token"]);
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(who.json["user_id"], expected);
  EXPECT_EQ(who.json["device_id"], r.json["device_id"]);
}

TEST_F(AuthTest, LocalpartAloneAndDeprecatedUserFieldWork) {
  const PrivateKey key = PrivateKey::generate();
  const auto id = matrix_identity(key, "localhost");
  auto r = http.post(api("/login"), {{"type", "m.login.password"},
                                     {"user", key.address().to_hex()},
                                     {"password", id.password.to_hex()}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["user_id"], id.user_id);
}

TEST_F(AuthTest, ForgedLoginsAreRefused) {
  const PrivateKey victim = PrivateKey::generate(), attacker = PrivateKey::generate();
  // The attacker's signature of the server name, claimed for the victim's address.
  Json body = login_body(attacker);
  body["identifier"]["user"] = "@" + victim.address().to_hex() + ":localhost";
  auto r = http.post(api("/login"), body);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
  // The victim's signature over another server name.
  auto other = login_body(victim, "evil.example");
  other["identifier"]["user"] = "@" + victim.address().to_hex() + ":localhost";
  r = http.post(api("/login"), other);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
  // Malformed signature, uppercase address, a user of another server.
  body = login_body(victim);
  body["password"] = "0x1234";
  EXPECT_EQ(http.post(api("/login"), body).errcode(), "M_FORBIDDEN");
  body = login_body(victim);
  std::string upper = victim.address().to_hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  body["identifier"]["user"] = "0x" + upper.substr(2);
  EXPECT_EQ(http.post(api("/login"), body).errcode(), "M_FORBIDDEN");
  body = login_body(victim);
  body["identifier"]["user"] = "@" + victim.address().to_hex() + ":other.server";
  EXPECT_EQ(http.post(api("/login"), body).errcode(), "M_FORBIDDEN");
  // None of these created the victim's account.
  TestUser someone = login_new();
  auto profile = http.get(
      api("/profile/" + url_encode("@" + victim.address().to_hex() + ":localhost")), someone.token);
  EXPECT_EQ(profile.status, 404);
}

TEST_F(AuthTest, LoginBodyOfWrongTypesIsBadJson) {
  auto r = http.post(api("/login"), {{"type", "m.login.password"}, {"user", 5}, {"password", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errcode(), "M_BAD_JSON");
  r = http.post(api("/login"), {{"type", "m.login.token"}, {"token", "x"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(AuthTest, RegistrationIsClosedWithoutOpenRegistration) {
  auto r =
      http.post(api("/register"), {{"auth", {{"type", "m.login.dummy"}}}, {"username", "bob"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errcode(), "M_FORBIDDEN");
}

TEST_F(AuthTest, MissingAndUnknownTokens) {
  auto r = http.get(api("/account/whoami"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errcode(), "M_MISSING_TOKEN");
  r = http.get(api("/account/whoami"), "mrt_not_a_token");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errcode(), "M_UNKNOWN_TOKEN");
  // The query-string form works too.
  TestUser u = login_new();
  r = http.get(api("/account/whoami?access_token=" + u.token));
  EXPECT_EQ(r.status, 200);
}

TEST_F(AuthTest, LoggingInAgainOnADeviceReplacesItsToken) {
  const PrivateKey key = PrivateKey::generate();
  Json body = login_body(key);
  body["device_id"] = "PHONE";
  auto first = http.post(api("/login"), body);
  auto second = http.post(api("/login"), body);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.json["device_id"], "PHONE");
  EXPECT_EQ(http.get(api("/account/whoami"), first.json["access_token"]).errcode(),
            "M_UNKNOWN_TOKEN");
  EXPECT_EQ(http.get(api("/account/whoami"), second.json["access_token"]).status, 200);
}

TEST_F(AuthTest, LogoutEndsTheTokenAndTheDevice) {
  const PrivateKey key = PrivateKey::generate();
  auto a = http.post(api("/login"), login_body(key));
  auto b = http.post(api("/login"), login_body(key));
  auto r = http.post(api("/logout"), Json::object(), a.json["access_token"]);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(http.get(api("/account/whoami"), a.json["access_token"]).errcode(), "M_UNKNOWN_TOKEN");
  auto devices = http.get(api("/devices"), b.json["access_token"]);
  ASSERT_EQ(devices.json["devices"].size(), 1u);
  EXPECT_EQ(devices.json["devices"][0]["device_id"], b.json["device_id"]);
  EXPECT_EQ(http.post(api("/logout/all"), Json::object(), b.json["access_token"]).status, 200);
  EXPECT_EQ(http.get(api("/devices"), b.json["access_token"]).errcode(), "M_UNKNOWN_TOKEN");
}

TEST_F(AuthTest, DevicesListGetRenameAndDeleteWithEthereumAuth) {
  const PrivateKey key = PrivateKey::generate();
  auto a = http.post(api("/login"), login_body(key));
  auto b = http.post(api("/login"), login_body(key));
  const std::string token = a.json["access_token"], other = b.json["device_id"];
  EXPECT_EQ(http.get(api("/devices"), token).json["devices"].size(), 2u);
  EXPECT_EQ(http.put(api("/devices/" + other), {{"display_name", "laptop"}}, token).status, 200);
  auto got = http.get(api("/devices/" + other), token);
  EXPECT_EQ(got.json["display_name"], "laptop");
  EXPECT_EQ(http.get(api("/devices/NOPE"), token).errcode(), "M_NOT_FOUND");
  // Deletion asks for user-interactive auth first, then takes the Ethereum password.
  auto challenge = http.request("DELETE", api("/devices/" + other), "{}", token);
  EXPECT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.json["flows"][0]["stages"][0], "m.login.password");
  Json auth = login_body(PrivateKey::generate());  // someone else's signature
  auth["session"] = challenge.json["session"];
  auth["identifier"]["user"] = "@" + key.address().to_hex() + ":localhost";
  auto refused =
      http.request("DELETE", api("/devices/" + other), Json{{"auth", auth}}.dump(), token);
  EXPECT_EQ(refused.status, 403);
  auth = login_body(key);
  auth["session"] = challenge.json["session"];
  auto deleted =
      http.request("DELETE", api("/devices/" + other), Json{{"auth", auth}}.dump(), token);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(http.get(api("/devices"), token).json["devices"].size(), 1u);
  EXPECT_EQ(http.get(api("/account/whoami"), b.json["access_token"]).errcode(), "M_UNKNOWN_TOKEN");
}

class OpenRegistrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = suite_dir("openreg");
    auto args = kNoLimits;
    args.push_back("--open-registration");
    server_ = std::make_unique<ServerProcess>(dir_, args);
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<ServerProcess> server_;
  HttpClient http{server_->base_url()};
};

TEST_F(OpenRegistrationTest, DummyRegistrationWithUiaAndReservedAddresses) {
  auto challenge = http.post(api("/register"), {{"username", "carol"}});
  EXPECT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.json["flows"][0]["stages"][0], "m.login.dummy");
  auto r =
      http.post(api("/register"), {{"username", "carol"}, {"auth", {{"type", "m.login.dummy"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["user_id"], "@carol:localhost");
  EXPECT_EQ(http.get(api("/account/whoami"), r.json["access_token"]).json["user_id"],
            "@carol:localhost");
  EXPECT_EQ(
      http.post(api("/register"), {{"username", "carol"}, {"auth", {{"type", "m.login.dummy"}}}})
          .errcode(),
      "M_USER_IN_USE");
  // Address localparts belong to the key holders.
  auto squat = http.post(api("/register"), {{"username", "0x" + std::string(40, 'a')},
                                            {"auth", {{"type", "m.login.dummy"}}}});
  EXPECT_EQ(squat.errcode(), "M_INVALID_USERNAME");
}

}  // namespace
}  // namespace mrt::testing
