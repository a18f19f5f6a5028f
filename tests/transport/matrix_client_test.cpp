// transport/'s Matrix client (HttpIo + MatrixClient) over real HTTP against `mrt serve` child
// processes on 127.0.0.1, and its pure response parser.
#include "matrix_client.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <filesystem>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>
#include <mrt/store/env.hpp>

#include "http_io.hpp"
#include "matrix_response.hpp"
#include "testing/server_process.hpp"

namespace mrt::transport {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using mrt::testing::ServerProcess;

// Deadline for anything the server should do at once: only reached when the client hangs.
constexpr auto kPatience = 10s;

template <class T>
T wait(std::future<T>& f) {
  if (f.wait_for(kPatience) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within " << kPatience.count() << " s";
    std::abort();  // a hung client would otherwise hang the whole test binary
  }
  return f.get();
}
template <class T>
T wait(std::future<T>&& f) {
  return wait(f);
}

std::filesystem::path temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mrt-transport-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

const std::vector<std::string> kNoLimits = {"--rate-limits",
                                            "send=0,to_device=0,invite=0,create_room=0,login=0"};

// Quick retries, so that the failure tests stay fast.
MatrixClientOptions fast(const std::string& base_url) {
  MatrixClientOptions o;
  o.base_url = base_url;
  o.max_attempts = 3;
  o.backoff_base = 20ms;
  o.backoff_cap = 100ms;
  return o;
}

std::string port_of(const std::string& base_url) {
  return base_url.substr(base_url.rfind(':') + 1);
}

// ---------------------------------------------------------------------------------------------
// parse_matrix_response: no server.

TEST(MatrixResponseTest, SuccessIsTheJsonObjectFloatsIncluded) {
  auto r = parse_matrix_response(200, {}, R"({"a":1.5,"b":[true]})");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["a"], 1.5);
}

TEST(MatrixResponseTest, SuccessThatIsNotAnObjectIsABadResponse) {
  for (std::string_view body : {"", "[]", "\"x\"", "{", "{\"a\":1}x", "\xff"}) {
    auto r = parse_matrix_response(200, {}, body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().kind, MatrixErrorKind::bad_response) << body;
  }
}

TEST(MatrixResponseTest, AnArrayIsASuccessOnlyWhereTheCallExpectsOne) {
  auto state = parse_matrix_response(200, {}, R"([{"type":"m.room.create"}])", true);
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->is_array());
  for (std::string_view body : {"{}", "\"x\"", "[", "1"}) {
    auto r = parse_matrix_response(200, {}, body, true);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().kind, MatrixErrorKind::bad_response) << body;
  }
}

TEST(MatrixResponseTest, NestingBeyondTheLimitIsABadResponseAndBracketsInStringsDoNotCount) {
  const std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  auto r = parse_matrix_response(200, {}, deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::bad_response);
  EXPECT_TRUE(parse_matrix_response(200, {}, "{\"a\":\"" + std::string(200, '[') + "\"}"));
}

TEST(MatrixResponseTest, ErrorsKeepStatusErrcodeAndText) {
  auto r = parse_matrix_response(403, {}, R"({"errcode":"M_FORBIDDEN","error":"no"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::http);
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(describe(r.error()), "http 403 M_FORBIDDEN: no");
  auto odd = parse_matrix_response(502, {}, R"({"errcode":5})");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().errcode, "");
  EXPECT_EQ(odd.error().error, "HTTP 502");
  EXPECT_FALSE(parse_matrix_response(0, {}, "{}"));
  EXPECT_EQ(parse_matrix_response(0, {}, "{}").error().kind, MatrixErrorKind::bad_response);
}

TEST(MatrixResponseTest, RetryAfterFromTheBodyElseTheHeader) {
  auto body = parse_matrix_response(429, {{"retry-after", "9"}},
                                    R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500.2})");
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().retry_after_ms, 1501);
  auto header = parse_matrix_response(429, {{"retry-after", "2"}}, "not json");
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error().retry_after_ms, 2000);
  EXPECT_EQ(parse_matrix_response(429, {{"retry-after", "99999999999999999999"}}, "")
                .error()
                .retry_after_ms,
            kMaxRetryAfterMs);
  EXPECT_FALSE(parse_matrix_response(429, {{"retry-after", "-1"}}, R"({"retry_after_ms":-5})")
                   .error()
                   .retry_after_ms);
  EXPECT_FALSE(parse_matrix_response(403, {{"retry-after", "2"}}, "{}").error().retry_after_ms);
}

TEST(MatrixCallsTest, PathSegmentsAreEncodedAndTransactionIdsAreFresh) {
  auto c = calls::send_room_event("!r:localhost", "m.room.message", "t/1", json::object());
  EXPECT_EQ(c.method, "PUT");
  EXPECT_EQ(c.path, "/_matrix/client/v3/rooms/%21r%3Alocalhost/send/m.room.message/t%2F1");
  EXPECT_EQ(calls::sync("s 1", 500, "{}").path,
            "/_matrix/client/v3/sync?timeout=500&since=s%201&filter=%7B%7D");
  EXPECT_FALSE(calls::create_room(json::object()).idempotent);
  EXPECT_NE(new_transaction_id(), new_transaction_id());
}

TEST(MatrixCallsTest, MachineRequestsGoToTheirEndpoints) {
  const json body = {{"k", 1}};
  const auto claim = calls::machine_request({"c1", RequestType::keys_claim, body, ""});
  EXPECT_EQ(claim.method, "POST");
  EXPECT_EQ(claim.path, "/_matrix/client/v3/keys/claim");
  EXPECT_FALSE(claim.idempotent) << "a lost answer would waste one-time keys";
  const auto query = calls::machine_request({"q1", RequestType::keys_query, body, ""});
  EXPECT_EQ(query.path, "/_matrix/client/v3/keys/query");
  EXPECT_TRUE(query.idempotent);
  EXPECT_EQ(calls::machine_request({"u1", RequestType::keys_upload, body, ""}).path,
            "/_matrix/client/v3/keys/upload");
  const auto to_device = calls::machine_request(
      {"txn/1", RequestType::to_device, {{"messages", json::object()}}, "m.room.encrypted"});
  EXPECT_EQ(to_device.method, "PUT");
  EXPECT_EQ(to_device.path, "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn%2F1")
      << "the transaction id is the request id";
  EXPECT_EQ(to_device.body, json({{"messages", json::object()}}));
}

// ---------------------------------------------------------------------------------------------
// Against `mrt serve`.

class MatrixClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir("suite");
    server_ = std::make_unique<ServerProcess>(dir_, kNoLimits);
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<MatrixClient> logged_in(const PrivateKey& key) {
    auto c = std::make_unique<MatrixClient>(io, fast(server_->base_url()));
    auto login = wait(c->login_ethereum(key, "localhost"));
    EXPECT_TRUE(login) << (login ? "" : describe(login.error()));
    return c;
  }

  // Syncs until `found` is true of a response or the deadline passes; returns whether it was.
  static bool sync_until(MatrixClient& c, std::string& since,
                         const std::function<bool(const json&)>& found) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = wait(c.sync(since, 5000));
      if (!r) {
        ADD_FAILURE() << describe(r.error());
        return false;
      }
      since = (*r)["next_batch"].get<std::string>();
      if (found(*r)) return true;
    }
    return false;
  }

  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<ServerProcess> server_;
  HttpIo io;
};

TEST_F(MatrixClientTest, EthereumLoginCreatesTheAccountAndTheSameDeviceIdKeepsTheDevice) {
  const PrivateKey key = PrivateKey::generate();
  MatrixClient first(io, fast(server_->base_url()));
  EXPECT_FALSE(first.logged_in());
  auto login = wait(first.login_ethereum(key, "localhost"));
  ASSERT_TRUE(login) << describe(login.error());
  EXPECT_EQ(login->user_id, matrix_user_id(key.address(), "localhost"));
  EXPECT_FALSE(login->device_id.empty());
  EXPECT_EQ(first.device_id(), login->device_id);

  MatrixClient again(io, fast(server_->base_url()));
  auto relogin = wait(again.login_ethereum(key, "localhost", login->device_id));
  ASSERT_TRUE(relogin) << describe(relogin.error());
  EXPECT_EQ(relogin->device_id, login->device_id);
  auto who = wait(again.whoami());
  ASSERT_TRUE(who) << describe(who.error());
  EXPECT_EQ((*who)["user_id"], login->user_id);
  EXPECT_EQ((*who)["device_id"], login->device_id);

  // A login without the device id is a new device.
  MatrixClient other(io, fast(server_->base_url()));
  auto fresh = wait(other.login_ethereum(key, "localhost"));
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->device_id, login->device_id);
}

TEST_F(MatrixClientTest, ForgedLoginIsAForbiddenErrorValue) {
  const PrivateKey victim = PrivateKey::generate(), forger = PrivateKey::generate();
  MatrixClient client(io, fast(server_->base_url()));
  MatrixCall forged =
      calls::request("POST", "/_matrix/client/v3/login",
                     {{"type", "m.login.password"},
                      {"identifier", {{"type", "m.id.user"}, {"user", victim.address().to_hex()}}},
                      {"password", personal_sign(forger, as_bytes("localhost")).to_hex()}});
  forged.authenticated = false;
  auto r = wait(client.call(forged));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::http);
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  // A signature over another server name is refused as well, and leaves the client logged out.
  auto elsewhere = wait(client.login_ethereum(victim, "elsewhere.example"));
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().errcode, "M_FORBIDDEN");
  EXPECT_FALSE(client.logged_in());
  // Without a login, calls are refused by the server, not sent with an empty token.
  auto who = wait(client.whoami());
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().http_status, 401);
}

TEST_F(MatrixClientTest, LongPollSyncReturnsWhenAnotherClientSendsToDevice) {
  auto alice = logged_in(PrivateKey::generate());
  auto bob = logged_in(PrivateKey::generate());
  auto initial = wait(bob->sync("", 0));
  ASSERT_TRUE(initial);
  const std::string since = (*initial)["next_batch"];
  auto poll = bob->sync(since, 30000);  // in flight beside alice's send on the same I/O thread
  const json messages = {{bob->user_id(), {{bob->device_id(), {{"n", 1}}}}}};
  auto sent = wait(alice->send_to_device("org.example.ping", new_transaction_id(), messages));
  ASSERT_TRUE(sent) << describe(sent.error());
  auto r = wait(poll);
  ASSERT_TRUE(r) << describe(r.error());
  const json& events = (*r)["to_device"]["events"];
  ASSERT_EQ(events.size(), 1u) << r->dump();
  EXPECT_EQ(events[0]["type"], "org.example.ping");
  EXPECT_EQ(events[0]["sender"], alice->user_id());
  EXPECT_EQ(events[0]["content"]["n"], 1);
}

TEST_F(MatrixClientTest, LongPollSyncReturnsWhenAnotherClientSendsARoomEvent) {
  auto alice = logged_in(PrivateKey::generate());
  auto bob = logged_in(PrivateKey::generate());
  auto room = wait(alice->create_room({{"preset", "private_chat"}}));
  ASSERT_TRUE(room) << describe(room.error());
  const std::string room_id = (*room)["room_id"];
  ASSERT_TRUE(wait(alice->invite(room_id, bob->user_id())));
  auto joined = wait(bob->join(room_id));
  ASSERT_TRUE(joined) << describe(joined.error());
  auto initial = wait(bob->sync("", 0));
  ASSERT_TRUE(initial);
  std::string since = (*initial)["next_batch"];

  auto poll = bob->sync(since, 30000);
  auto sent = wait(alice->send_room_event(room_id, "m.room.message", new_transaction_id(),
                                          {{"msgtype", "m.text"}, {"body", "hello"}}));
  ASSERT_TRUE(sent) << describe(sent.error());
  auto has_hello = [&](const json& s) {
    if (!s.contains("rooms") || !s["rooms"].contains("join")) return false;
    const json& room_sync = s["rooms"]["join"].value(room_id, json::object());
    for (const auto& e : room_sync.value("timeline", json::object()).value("events", json::array()))
      if (e.value("event_id", "") == (*sent)["event_id"]) return e["content"]["body"] == "hello";
    return false;
  };
  auto first = wait(poll);
  ASSERT_TRUE(first) << describe(first.error());
  since = (*first)["next_batch"];
  EXPECT_TRUE(has_hello(*first) || sync_until(*bob, since, has_hello));
}

TEST_F(MatrixClientTest, SendToDeviceWithTheSameTransactionIdTwiceDeliversOnce) {
  auto alice = logged_in(PrivateKey::generate());
  auto bob = logged_in(PrivateKey::generate());
  auto initial = wait(bob->sync("", 0));
  ASSERT_TRUE(initial);
  const std::string since = (*initial)["next_batch"];
  const std::string txn = new_transaction_id();
  const json messages = {{bob->user_id(), {{bob->device_id(), {{"once", true}}}}}};
  ASSERT_TRUE(wait(alice->send_to_device("org.example.once", txn, messages)));
  ASSERT_TRUE(wait(alice->send_to_device("org.example.once", txn, messages)));
  ASSERT_TRUE(wait(alice->send_to_device("org.example.once", new_transaction_id(),
                                         {{bob->user_id(), {{"*", {{"once", false}}}}}})));
  auto r = wait(bob->sync(since, 0));
  ASSERT_TRUE(r);
  const json& events = (*r)["to_device"]["events"];
  ASSERT_EQ(events.size(), 2u) << r->dump();
  EXPECT_EQ(events[0]["content"]["once"], true);
  EXPECT_EQ(events[1]["content"]["once"], false);
}

TEST_F(MatrixClientTest, GenericRequestCarriesKeysCallsAsTheE2eeMachineMakesThem) {
  auto alice = logged_in(PrivateKey::generate());
  auto upload = wait(alice->request("POST", "/_matrix/client/v3/keys/upload",
                                    {{"one_time_keys", {{"signed_curve25519:AAAA", "x"}}}}));
  ASSERT_TRUE(upload) << describe(upload.error());
  EXPECT_EQ((*upload)["one_time_key_counts"]["signed_curve25519"], 1);
  auto query = wait(alice->request("POST", "/_matrix/client/v3/keys/query",
                                   {{"device_keys", {{alice->user_id(), json::array()}}}}));
  ASSERT_TRUE(query) << describe(query.error());
  EXPECT_TRUE((*query)["device_keys"].is_object());
}

TEST_F(MatrixClientTest, TheE2eeMachinesOutgoingRequestsAreSentAsTheyAre) {
  const PrivateKey key = PrivateKey::generate();
  auto alice = logged_in(key);
  auto bob = logged_in(PrivateKey::generate());
  const auto dir = temp_dir("machine");
  {
    auto env = store::Env::open(
        {.dir = dir, .tables = E2eeMachine::tables(), .durability = store::Durability::off},
        store_key_for(key));
    ASSERT_TRUE(env);
    auto machine = E2eeMachine::open(*env, key, alice->user_id(), alice->device_id());
    ASSERT_TRUE(machine);
    auto requests = machine->outgoing_requests();
    ASSERT_FALSE(requests.empty());
    for (const OutgoingRequest& r : requests) {
      auto answer = wait(alice->call(calls::machine_request(r)));
      ASSERT_TRUE(answer) << to_string(r.type) << ": " << describe(answer.error());
      machine->mark_request_as_sent(r.id, *answer);
    }
    EXPECT_TRUE(machine->outgoing_requests().empty());
    // Bob finds alice's attested device keys on the server, byte for byte what the machine made.
    auto query = wait(bob->request("POST", "/_matrix/client/v3/keys/query",
                                   {{"device_keys", {{alice->user_id(), json::array()}}}}));
    ASSERT_TRUE(query) << describe(query.error());
    EXPECT_EQ(
        (*query)["device_keys"][alice->user_id()][alice->device_id()].value("keys", json::object()),
        machine->device_keys()["keys"]);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(MatrixClientTest, SequentialCallsReuseOneKeepAliveConnection) {
  auto alice = logged_in(PrivateKey::generate());
  ASSERT_TRUE(wait(alice->whoami()));
  const auto before = io.stats().connections_opened;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wait(alice->whoami()));
  EXPECT_EQ(io.stats().connections_opened, before);
}

TEST_F(MatrixClientTest, AnAnswerSlowerThanTheRequestTimeoutIsATimeoutAfterTheRetries) {
  auto alice = logged_in(PrivateKey::generate());
  auto initial = wait(alice->sync("", 0));
  ASSERT_TRUE(initial);
  MatrixCall slow = calls::sync((*initial)["next_batch"], 5000);  // the server holds it 5 s
  slow.long_poll = 0ms;
  slow.timeout = 100ms;
  auto r = wait(alice->call(slow));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::timeout) << describe(r.error());
  EXPECT_EQ(alice->stats().backoff_retries, 2u);
}

TEST_F(MatrixClientTest, BodiesBeyondTheirCapsFailWithoutCrossingThem) {
  HttpIo small({.max_request_body = 64, .max_response_body = 16});
  HttpRequest get{.url = server_->base_url() + "/_matrix/client/versions"};
  HttpResponse answer = wait(small.submit(get));
  EXPECT_EQ(answer.failure, HttpFailure::too_large) << answer.status << " " << answer.body;
  EXPECT_TRUE(answer.body.empty());
  HttpRequest put{.method = "PUT",
                  .url = server_->base_url() + "/_matrix/client/v3/sendToDevice/t/1",
                  .body = std::string(65, 'x')};
  EXPECT_EQ(wait(small.submit(put)).failure, HttpFailure::too_large);
  // Within the caps the same HttpIo works.
  HttpIo roomy;
  HttpResponse ok = wait(roomy.submit(get));
  EXPECT_EQ(ok.failure, HttpFailure::none) << ok.error;
  EXPECT_EQ(ok.status, 200);
}

TEST_F(MatrixClientTest, ShutdownWithRequestsInFlightCancelsThem) {
  auto alice = logged_in(PrivateKey::generate());
  auto initial = wait(alice->sync("", 0));
  ASSERT_TRUE(initial);
  std::vector<std::future<MatrixResult>> polls;
  for (int i = 0; i < 3; ++i) polls.push_back(alice->sync((*initial)["next_batch"], 30000));
  io.shutdown();
  for (auto& p : polls) {
    auto r = wait(p);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, MatrixErrorKind::cancelled);
  }
  auto late = wait(alice->whoami());  // after shutdown: completed at once
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, MatrixErrorKind::cancelled);
}

// ---------------------------------------------------------------------------------------------
// Servers of their own: rate limits, a crash and restart, a closed port.

TEST(MatrixClientRateLimitTest, TooManyRequestsAreWaitedOutAndSucceed) {
  const auto dir = temp_dir("ratelimit");
  ServerProcess server(dir,
                       {"--rate-limits", "send=0,to_device=10/1,invite=0,create_room=0,login=0"});
  HttpIo io;
  MatrixClient alice(io, fast(server.base_url())), bob(io, fast(server.base_url()));
  ASSERT_TRUE(wait(alice.login_ethereum(PrivateKey::generate(), "localhost")));
  ASSERT_TRUE(wait(bob.login_ethereum(PrivateKey::generate(), "localhost")));
  auto initial = wait(bob.sync("", 0));
  ASSERT_TRUE(initial);
  std::vector<std::future<MatrixResult>> sends;
  for (int i = 0; i < 4; ++i) {
    sends.push_back(alice.send_to_device("org.example.n", new_transaction_id(),
                                         {{bob.user_id(), {{bob.device_id(), {{"n", i}}}}}}));
  }
  for (auto& s : sends) {
    auto r = wait(s);
    EXPECT_TRUE(r) << describe(r.error());
  }
  EXPECT_GE(alice.stats().rate_limited_waits, 3u);  // a burst of 1: the other three waited
  auto r = wait(bob.sync((*initial)["next_batch"], 0));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["to_device"]["events"].size(), 4u) << r->dump();  // each exactly once
  io.shutdown();
  std::filesystem::remove_all(dir);
}

TEST(MatrixClientRestartTest, ServerKilledMidRequestIsANetworkErrorAndARestartOnThePortWorks) {
  const auto dir = temp_dir("restart");
  auto server = std::make_unique<ServerProcess>(dir, kNoLimits);
  const std::string base = server->base_url();
  HttpIo io;
  MatrixClient alice(io, fast(base));
  ASSERT_TRUE(wait(alice.login_ethereum(PrivateKey::generate(), "localhost")));
  auto initial = wait(alice.sync("", 0));
  ASSERT_TRUE(initial);
  auto poll = alice.sync((*initial)["next_batch"], 30000);
  std::this_thread::sleep_for(50ms);  // let the long-poll reach the server
  server->kill_hard();
  auto r = wait(poll);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::network) << describe(r.error());
  EXPECT_GE(alice.stats().backoff_retries, 2u);  // max_attempts 3: two retries, both refused

  server = std::make_unique<ServerProcess>(
      dir, std::vector<std::string>{"--listen", "127.0.0.1:" + port_of(base), "--rate-limits",
                                    "send=0,to_device=0,invite=0,create_room=0,login=0"});
  ASSERT_EQ(server->base_url(), base);
  auto who = wait(alice.whoami());  // the token survived the server's restart
  ASSERT_TRUE(who) << describe(who.error());
  EXPECT_EQ((*who)["user_id"], alice.user_id());
  io.shutdown();
  server.reset();
  std::filesystem::remove_all(dir);
}

TEST(MatrixClientClosedPortTest, AClosedPortIsANetworkErrorAfterTheRetries) {
  // A port that was free a moment ago: bind, read the port, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  HttpIo io;
  MatrixClient client(io, fast("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))));
  // createRoom is never repeated after a lost answer, but a refused connection is retried.
  auto r = wait(client.create_room(json::object()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, MatrixErrorKind::network);
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_FALSE(r.error().error.empty());
  EXPECT_EQ(client.stats().backoff_retries, 2u);
}

}  // namespace
}  // namespace mrt::transport
