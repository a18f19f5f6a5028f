// The server survives bad input and answers each with a clear Matrix error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devserver_fixture.hpp"

namespace mrt::testing {
namespace {

using Json = nlohmann::json;
class BadInputTest : public DevserverTest {
 protected:
  void TearDown() override {
    // Whatever the test sent, the server still answers.
    EXPECT_EQ(http.get("/_matrix/client/versions").status, 200);
  }
  // Sends raw bytes on a fresh connection; returns what came back.
  std::string raw(const std::string& bytes) {
    const std::string& url = server_->base_url();
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return "";
    }
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
  }
};

TEST_F(BadInputTest, MalformedJsonIsNotJson) {
  TestUser u = login_new();
  for (const char* body : {"{", "not json", "{\"a\":}", "\xff\xfe", "{\"a\":\"\xc3\x28\"}"}) {
    auto r = http.request("POST", api("/createRoom"), std::string(body), u.token);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.errcode(), "M_NOT_JSON") << body;
  }
  auto deep = http.request("POST", api("/createRoom"), std::string(100000, '['), u.token);
  EXPECT_EQ(deep.errcode(), "M_NOT_JSON");
}

TEST_F(BadInputTest, JsonThatIsNotAnObjectOrHasWrongTypesIsBadJson) {
  TestUser u = login_new();
  for (const char* body : {"[]", "5", "\"s\"", "null"}) {
    EXPECT_EQ(http.request("POST", api("/createRoom"), std::string(body), u.token).errcode(),
              "M_BAD_JSON")
        << body;
  }
  EXPECT_EQ(http.post(api("/createRoom"), {{"name", 5}}, u.token).errcode(), "M_BAD_JSON");
  EXPECT_EQ(http.post(api("/createRoom"), {{"invite", "x"}}, u.token).errcode(), "M_BAD_JSON");
  EXPECT_EQ(http.post(api("/createRoom"), {{"is_direct", "yes"}}, u.token).errcode(), "M_BAD_JSON");
  EXPECT_EQ(http.post(api("/createRoom"), {{"initial_state", {5}}}, u.token).errcode(),
            "M_BAD_JSON");
  EXPECT_EQ(http.post(api("/createRoom"), {{"preset", "party"}}, u.token).errcode(),
            "M_INVALID_PARAM");
  const std::string room = create_room(u);
  EXPECT_EQ(http.post(api("/rooms/" + url_encode(room) + "/invite"), {{"user_id", Json::array()}},
                      u.token)
                .errcode(),
            "M_BAD_JSON");
  EXPECT_EQ(
      http.post(api("/rooms/" + url_encode(room) + "/invite"), Json::object(), u.token).errcode(),
      "M_MISSING_PARAM");
  EXPECT_EQ(
      http.put(api("/presence/" + url_encode(u.user_id) + "/status"), {{"presence", 1}}, u.token)
          .errcode(),
      "M_BAD_JSON");
}

TEST_F(BadInputTest, UnknownEndpointsAndMethods) {
  EXPECT_EQ(http.get("/nothing").errcode(), "M_UNRECOGNIZED");
  EXPECT_EQ(http.get("/nothing").status, 404);
  EXPECT_EQ(http.get("/_matrix/client/v3/no/such/thing").errcode(), "M_UNRECOGNIZED");
  EXPECT_EQ(http.get("/_matrix/client/v9/login").errcode(), "M_UNRECOGNIZED");
  EXPECT_EQ(http.get("/_matrix/federation/v1/version").status, 404);
  auto wrong_method = http.request("DELETE", api("/login"));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.errcode(), "M_UNRECOGNIZED");
}

TEST_F(BadInputTest, OversizedBodiesAreRefused) {
  TestUser u = login_new();
  const std::string big = "{\"x\":\"" + std::string(2 << 20, 'a') + "\"}";
  auto r = http.request("POST", api("/createRoom"), big, u.token);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.errcode(), "M_TOO_LARGE");
  // An event over the 64 KiB limit is refused too, within the body cap.
  const std::string room = create_room(u);
  auto ev = http.put(api("/rooms/" + url_encode(room) + "/send/m.room.message/big"),
                     {{"body", std::string(70000, 'b')}}, u.token);
  EXPECT_EQ(ev.status, 413);
  EXPECT_EQ(ev.errcode(), "M_TOO_LARGE");
}

TEST_F(BadInputTest, BrokenPathsQueriesAndTokens) {
  TestUser u = login_new();
  EXPECT_EQ(http.get(api("/rooms/%zz/state"), u.token).errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(http.get(api("/rooms/%ff%fe/state"), u.token).errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(http.get(api("/sync?since=%"), u.token).errcode(), "M_INVALID_PARAM");
  EXPECT_EQ(http.get(api("/rooms/!nope:localhost/messages"), u.token).errcode(), "M_NOT_FOUND");
  EXPECT_EQ(http.get(api("/joined_rooms"), "Bearer").errcode(), "M_UNKNOWN_TOKEN");
  auto r = http.request("GET", api("/joined_rooms"), std::nullopt, std::string(5000, 'x'));
  EXPECT_EQ(r.errcode(), "M_UNKNOWN_TOKEN");
}

TEST_F(BadInputTest, GarbageOnTheSocketGetsAnErrorAndTheServerLives) {
  const std::string answer = raw("\x16\x03\x01 this is not HTTP\r\n\r\n");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("M_UNRECOGNIZED"), std::string::npos) << answer;
  raw("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n");
  raw("POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a\"");
  raw(std::string(100000, 'A'));
}

}  // namespace
}  // namespace mrt::testing
