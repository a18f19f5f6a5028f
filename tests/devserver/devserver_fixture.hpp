// A `mrt serve` per test suite, users that log in with fresh Ethereum keys, and shorthands for
// the client-server API paths. Suites use distinct users, so they can share one server.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>

#include "http_client.hpp"
#include "testing/server_process.hpp"

namespace mrt::testing {

inline std::string api(const std::string& path) {
  return "/_matrix/client/v3" + path;
}

struct TestUser {
  std::string user_id;
  std::string token;
  std::string device_id;
  std::string address;
};

inline nlohmann::json login_body(const PrivateKey& key, const std::string& server = "localhost") {
  const MatrixIdentity id = matrix_identity(key, server);
  return {{"type", "m.login.password"},
          {"identifier", {{"type", "m.id.user"}, {"user", id.user_id}}},
          {"password", id.password.to_hex()}};
}

inline std::filesystem::path suite_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mrt-devserver-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// No limits for the functional suites (rate_limit_test.cpp has its own server).
inline const std::vector<std::string> kNoLimits = {
    "--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"};

class DevserverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { start_server(kNoLimits); }
  // A suite whose server takes other arguments hides SetUpTestSuite with a call of this.
  static void start_server(const std::vector<std::string>& args) {
    const auto* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
    dir_ = suite_dir(suite ? suite->name() : "suite");
    server_ = std::make_unique<ServerProcess>(dir_, args);
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  TestUser login_new() { return login_as(PrivateKey::generate()); }
  TestUser login_as(const PrivateKey& key) {
    auto r = http.post(api("/login"), login_body(key));
    EXPECT_EQ(r.status, 200) << r.body;
    return {r.json.value("user_id", ""), r.json.value("access_token", ""),
            r.json.value("device_id", ""), key.address().to_hex()};
  }

  std::string create_room(const TestUser& u,
                          const nlohmann::json& body = nlohmann::json::object()) {
    auto r = http.post(api("/createRoom"), body, u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.value("room_id", "");
  }

  HttpResult send_text(const TestUser& u, const std::string& room, const std::string& txn,
                       const std::string& text) {
    return http.put(api("/rooms/" + url_encode(room) + "/send/m.room.message/" + txn),
                    {{"msgtype", "m.text"}, {"body", text}}, u.token);
  }

  HttpResult join(const TestUser& u, const std::string& room) {
    return http.post(api("/join/" + url_encode(room)), nlohmann::json::object(), u.token);
  }

  HttpResult invite(const TestUser& by, const std::string& room, const TestUser& who) {
    return http.post(api("/rooms/" + url_encode(room) + "/invite"), {{"user_id", who.user_id}},
                     by.token);
  }

  nlohmann::json sync(const TestUser& u, const std::string& since = "", int timeout_ms = 0,
                      const std::string& extra = "") {
    std::string q = "/sync?timeout=" + std::to_string(timeout_ms);
    if (!since.empty()) q += "&since=" + since;
    auto r = http.get(api(q + extra), u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json;
  }

  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<ServerProcess> server_;
  HttpClient http{server_->base_url()};
};

}  // namespace mrt::testing
