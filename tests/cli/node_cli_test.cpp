// `mrt node`, `mrt send`, `mrt listen` and `mrt demo` as users and scripts run them: child
// processes over real HTTP against `mrt serve` on 127.0.0.1 (testing/server_process.*),
// with real LMDB stores.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>
#include <mrt/eth.hpp>

#include "run_mrt.hpp"
#include "testing/node_process.hpp"
#include "testing/server_process.hpp"
#include "testing/temp_dir.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::NodeProcess;

// A key in a 0600 key file (--key-file), faster than a keystore's scrypt.
struct TestKey {
  PrivateKey key = PrivateKey::generate();
  fs::path file;
  std::string address() const { return key.address().to_hex(); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class NodeCli : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("nodecli");
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override {
    if (HasFailure()) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".stderr") {
          std::cerr << "--- " << entry.path().filename() << "\n" << read_file(entry.path());
        }
      }
    }
    server_.reset();
    fs::remove_all(dir);
  }

  const std::string& homeserver() {
    if (!server_) server_ = std::make_unique<testing::ServerProcess>(dir / "homeserver");
    return server_->base_url();
  }

  TestKey key(const std::string& name, mode_t mode = 0600) {
    TestKey k;
    k.file = dir / (name + ".key");
    testing::write_key_file(k.file, k.key, mode);
    return k;
  }

  std::vector<std::string> node_args(const std::string& command, const std::string& name,
                                     const TestKey& k, const std::string& carrier) {
    return {command,  "--key-file",          k.file.string(), "--homeserver", homeserver(),
            "--data", (dir / name).string(), "--server-name", "localhost",    "--carrier",
            carrier,  "--no-fsync"};
  }

  std::unique_ptr<NodeProcess> node(const std::string& name, const TestKey& k,
                                    const std::string& carrier = "room") {
    return std::make_unique<NodeProcess>(node_args("node", name, k, carrier),
                                         dir / (name + ".stderr"));
  }

  // The node's "started" event, checked against its key.
  void expect_started(NodeProcess& n, const TestKey& k) {
    auto started = n.wait_event("started");
    ASSERT_TRUE(started) << "no started event";
    EXPECT_EQ((*started)["address"], k.address());
    EXPECT_EQ((*started)["user_id"], "@" + k.address() + ":localhost");
    EXPECT_FALSE((*started)["device_id"].get<std::string>().empty());
  }

  static std::function<bool(const json&)> is(const std::string& event, const std::string& id) {
    return [=](const json& e) { return e.value("event", "") == event && e.value("id", "") == id; };
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

class NodePair : public NodeCli, public ::testing::WithParamInterface<const char*> {};

TEST_P(NodePair, ExchangeMessagesBothWaysWithAcks) {
  const std::string carrier = GetParam();
  const TestKey ka = key("a"), kb = key("b");
  auto a = node("a", ka, carrier);
  auto b = node("b", kb, carrier);
  expect_started(*a, ka);
  expect_started(*b, kb);
  const auto arrived_over = [&](const json& m) {
    const std::string used = m["carrier"];
    // The room carrier uses to_device until the DM room is joined by both (PROTOCOL §5).
    if (carrier == "to_device") {
      EXPECT_EQ(used, "to_device");
    }
    EXPECT_TRUE(used == "room" || used == "to_device") << used;
  };

  // a -> b, one body, with a ref echoed back.
  a->write(
      {{"op", "send"}, {"to", kb.key.address().to_checksummed()}, {"body", "hello b"}, {"ref", 1}});
  auto sent = a->wait_event("sent");
  ASSERT_TRUE(sent);
  EXPECT_EQ((*sent)["ref"], 1);
  EXPECT_EQ((*sent)["to"], kb.address());
  const std::string id = (*sent)["id"];
  auto message = b->wait_for(is("message", id));
  ASSERT_TRUE(message) << "b did not get " << id;
  EXPECT_EQ((*message)["from"], ka.address());
  EXPECT_EQ((*message)["body"], "hello b");
  EXPECT_TRUE((*message)["ts"].is_number_integer());
  arrived_over(*message);
  ASSERT_TRUE(a->wait_for(is("delivered", id))) << "a saw no delivered for " << id;

  // b -> a, three bodies in one op: three ids, arriving in order, each acked.
  b->write({{"op", "send"},
            {"to", ka.address()},
            {"bodies", {"one", "two", "three"}},
            {"ref", {{"k", "v"}}}});
  sent = b->wait_event("sent");
  ASSERT_TRUE(sent);
  EXPECT_EQ((*sent)["ref"], json({{"k", "v"}}));
  ASSERT_EQ((*sent)["ids"].size(), 3u);
  std::vector<std::string> bodies;
  for (const auto& each : (*sent)["ids"]) {
    message = a->wait_for(is("message", each.get<std::string>()));
    ASSERT_TRUE(message) << "a did not get " << each;
    EXPECT_EQ((*message)["from"], kb.address());
    arrived_over(*message);
    bodies.push_back((*message)["body"]);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"one", "two", "three"}));
  std::vector<std::string> order;  // the order a wrote them out
  for (const auto& line : a->lines()) {
    const json e = json::parse(line);
    if (e["event"] == "message" && e["from"] == kb.address()) order.push_back(e["body"]);
  }
  EXPECT_EQ(order, bodies) << "messages from one sender arrive in the order sent";
  for (const auto& each : (*sent)["ids"]) {
    EXPECT_TRUE(b->wait_for(is("delivered", each.get<std::string>())));
  }

  if (carrier == "room") {
    // Once the DM room is joined by both, messages go over it, both ways.
    for (auto [from, to, to_key] : {std::tuple{a.get(), b.get(), &kb}, {b.get(), a.get(), &ka}}) {
      bool over_room = false;
      for (int i = 0; i < 100 && !over_room; ++i) {
        from->write({{"op", "send"}, {"to", to_key->address()}, {"body", "ping"}});
        auto ping = from->wait_event("sent");
        ASSERT_TRUE(ping);
        auto got = to->wait_for(is("message", (*ping)["id"]));
        ASSERT_TRUE(got);
        over_room = (*got)["carrier"] == "room";
        ASSERT_TRUE(from->wait_for(is("delivered", (*ping)["id"])));
        if (!over_room) std::this_thread::sleep_for(100ms);
      }
      EXPECT_TRUE(over_room) << "the DM room was never used";
    }
  }

  a->write({{"op", "stats"}, {"ref", "s"}});
  auto stats = a->wait_event("stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ((*stats)["ref"], "s");
  EXPECT_EQ((*stats)["sent"], (*stats)["delivered"]);
  EXPECT_GE((*stats)["received"], 3);
  EXPECT_EQ((*stats)["outbox"], 0);
  EXPECT_EQ((*stats)["inbox"], 0) << "every message written out was consumed";
  for (const char* field :
       {"transmitted", "resent", "failed", "acks_sent", "undecryptable", "olm_sessions_throttled",
        "envelopes_gated", "invites_refused", "invites_over_limit", "syncs", "http_retries",
        "store_commits", "store_transactions"}) {
    EXPECT_TRUE((*stats)[field].is_number_unsigned()) << field;
  }
  EXPECT_EQ((*stats)["rejected"]["malformed"], 0);
  EXPECT_TRUE((*stats)["rejected"].contains("replay"));
  EXPECT_TRUE((*stats)["undecryptable_by_reason"]["to_device"].is_object());
  EXPECT_TRUE((*stats)["undecryptable_by_reason"]["room"].is_object());

  // stop op, then EOF: both end with "stopped" and exit 0.
  a->write({{"op", "stop"}});
  EXPECT_TRUE(a->wait_event("stopped"));
  EXPECT_EQ(a->wait_exit(30s), 0);
  b->close_stdin();
  EXPECT_TRUE(b->wait_event("stopped"));
  EXPECT_EQ(b->wait_exit(30s), 0);
}

INSTANTIATE_TEST_SUITE_P(Carriers, NodePair, ::testing::Values("to_device", "room"));

TEST_F(NodeCli, SubscribeBroadcastAndReachabilityOverJsonLines) {
  const TestKey ka = key("a"), kb = key("b");
  auto a = node("a", ka);
  auto b = node("b", kb);
  expect_started(*a, ka);
  expect_started(*b, kb);
  const std::string topic = "raiden_1_monitoring";
  a->write({{"op", "subscribe"}, {"topic", topic}, {"ref", 1}});
  auto subscribed = a->wait_event("subscribed");
  ASSERT_TRUE(subscribed);
  EXPECT_EQ((*subscribed)["topic"], topic);
  EXPECT_EQ((*subscribed)["ref"], 1);
  b->write({{"op", "broadcast"}, {"topic", topic}, {"body", "balance proof"}});
  auto sent = b->wait_event("sent");
  ASSERT_TRUE(sent);
  EXPECT_EQ((*sent)["topic"], topic);
  auto message = a->wait_for(is("message", (*sent)["id"]));
  ASSERT_TRUE(message);
  EXPECT_EQ((*message)["topic"], topic);
  EXPECT_EQ((*message)["from"], kb.address());
  EXPECT_EQ((*message)["body"], "balance proof");
  EXPECT_TRUE((*message)["carrier"].is_null());
  a->write({{"op", "reachability"}, {"address", kb.address()}, {"ref", 3}});
  auto reachability = a->wait_event("reachability");
  ASSERT_TRUE(reachability);
  EXPECT_EQ((*reachability)["address"], kb.address());
  EXPECT_EQ((*reachability)["state"], "reachable");
  a->write({{"op", "discover"}, {"address", kb.address()}});
  auto discovered = a->wait_event("discovered");
  ASSERT_TRUE(discovered);
  EXPECT_EQ((*discovered)["user_ids"], json::array({"@" + kb.address() + ":localhost"}));
  a->write({{"op", "subscribe"}, {"topic", "Not A Topic"}, {"ref", 2}});
  auto error = a->wait_event("error");
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["reason"], "bad_topic");
  EXPECT_EQ((*error)["ref"], 2);
}

TEST_F(NodeCli, EvidenceOpAnswersWithTheOperatorsSignedEnvelopes) {
  const TestKey ka = key("a"), kb = key("b");
  auto a = node("a", ka);
  auto b = node("b", kb);
  expect_started(*a, ka);
  expect_started(*b, kb);
  const std::string topic = "raiden_1_events_" + kb.address();
  b->write({{"op", "subscribe"}, {"topic", topic}});
  ASSERT_TRUE(b->wait_event("subscribed"));
  a->write({{"op", "subscribe"}, {"topic", topic}});
  ASSERT_TRUE(a->wait_event("subscribed"));
  b->write({{"op", "broadcast"}, {"topic", topic}, {"body", "ChannelOpened"}});
  auto sent = b->wait_event("sent");
  ASSERT_TRUE(sent);
  ASSERT_TRUE(a->wait_for(is("message", (*sent)["id"])));
  a->write({{"op", "evidence"}, {"topic", topic}, {"ref", 5}});
  auto evidence = a->wait_event("evidence");
  ASSERT_TRUE(evidence);
  EXPECT_EQ((*evidence)["ref"], 5);
  ASSERT_EQ((*evidence)["envelopes"].size(), 1u) << evidence->dump();
  const json& envelope = (*evidence)["envelopes"][0];
  EXPECT_EQ(envelope["sender"], kb.address());
  EXPECT_EQ(envelope["body"], "ChannelOpened");
  EXPECT_TRUE(envelope.contains("sig"));
  a->write({{"op", "broadcast"}, {"topic", topic}, {"body", "a false event"}});
  auto refused = a->wait_event("error");
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["reason"], "bad_topic");
  a->write({{"op", "evidence"}, {"topic", "raiden_1_monitoring"}});
  auto error = a->wait_event("error");
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["reason"], "bad_topic");
}

TEST_F(NodeCli, NodeWithTwoHomeserversHasAnAccountOnEach) {
  testing::ServerProcess second(dir / "homeserver2", {"--server-name", "hs2"});
  const TestKey k = key("a");
  auto args = node_args("node", "a", k, "to_device");
  args.insert(args.end(), {"--also-homeservers", "hs2=" + second.base_url(), "--homes", "2",
                           "--failover-after-ms", "2000"});
  NodeProcess a(args, dir / "a.stderr");
  auto started = a.wait_event("started");
  ASSERT_TRUE(started);
  std::set<std::string> users;
  for (const auto& h : (*started)["homes"]) users.insert(h["user_id"].get<std::string>());
  EXPECT_EQ(users,
            (std::set<std::string>{"@" + k.address() + ":localhost", "@" + k.address() + ":hs2"}));
  // Malformed lists and too many homes are usage errors (exit 2), before any store exists.
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--also-homeservers", second.base_url()},
           {"--also-homeservers", "hs2=" + second.base_url(), "--homes", "3"}}) {
    auto bad_args = node_args("node", "b", key("b"), "room");
    bad_args.insert(bad_args.end(), bad.begin(), bad.end());
    auto r = testing::run_mrt(bad_args, dir);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_FALSE(fs::exists(dir / "b"));
  }
}

TEST_F(NodeCli, BadLinesGetErrorEventsAndTheNodeKeepsWorking) {
  const TestKey k = key("a");
  const std::string peer = PrivateKey::generate().address().to_hex();
  auto a = node("a", k);
  expect_started(*a, k);
  struct Case {
    std::string line;
    std::string reason;
    json ref;
  };
  const std::vector<Case> cases = {
      {"not json", "bad_request", nullptr},
      {"[1,2]", "bad_request", nullptr},
      {std::string(100000, '[') + std::string(100000, ']'), "bad_request", nullptr},
      {R"({"op":"stats","ref":1.5})", "bad_request", nullptr},
      {R"({"op":"stats","op":"stop"})", "bad_request", nullptr},
      {R"({"ref":"r1"})", "bad_request", "r1"},
      {R"({"op":"fly","ref":7})", "bad_request", 7},
      {R"({"op":"send","to":"0x1234","body":"x","ref":"a"})", "bad_request", "a"},
      {R"({"op":"send","to":")" + peer + R"(","ref":"b"})", "bad_request", "b"},
      {R"({"op":"send","to":")" + peer + R"(","body":"x","bodies":["y"],"ref":"c"})", "bad_request",
       "c"},
      {R"({"op":"send","to":")" + peer + R"(","body":5,"ref":"d"})", "bad_request", "d"},
      {R"({"op":"send","to":")" + peer + R"(","bodies":[],"ref":"e"})", "bad_request", "e"},
      {R"({"op":"send","to":")" + peer + R"(","body":"x","colour":"red","ref":"f"})", "bad_request",
       "f"},
      {R"({"op":"stats","extra":1,"ref":"g"})", "bad_request", "g"},
      {R"({"op":"send","to":")" + peer + R"(","body":")" + std::string(40000, 'x') +
           R"(","ref":"h"})",
       "too_large", "h"},
  };
  for (const auto& c : cases) a->write_line(c.line);
  a->write_line("");  // blank lines are ignored
  for (const auto& c : cases) {
    auto error = a->next(10s);
    ASSERT_TRUE(error) << "no answer to " << c.line.substr(0, 80);
    EXPECT_EQ((*error)["event"], "error") << c.line.substr(0, 80);
    EXPECT_EQ((*error)["reason"], c.reason) << c.line.substr(0, 80);
    EXPECT_FALSE((*error)["message"].get<std::string>().empty());
    if (c.ref.is_null()) {
      EXPECT_FALSE(error->contains("ref"));
    } else {
      EXPECT_EQ((*error)["ref"], c.ref) << c.line.substr(0, 80);
    }
  }
  // A line over 1 MiB is dropped whole with one too_large error; the next line is read.
  a->write_line(R"({"op":"stats","ref":")" + std::string(std::size_t{1} << 20, 'x') + R"("})");
  auto long_line = a->next(10s);
  ASSERT_TRUE(long_line);
  EXPECT_EQ((*long_line)["event"], "error");
  EXPECT_EQ((*long_line)["reason"], "too_large");
  // Still working: a good send (to an address with no node: it waits in the outbox).
  a->write({{"op", "send"}, {"to", peer}, {"body", "still here"}, {"ref", "ok"}});
  auto sent = a->next(10s);
  ASSERT_TRUE(sent);
  EXPECT_EQ((*sent)["event"], "sent");
  EXPECT_EQ((*sent)["ref"], "ok");
  a->write({{"op", "stats"}});
  auto stats = a->next(10s);
  ASSERT_TRUE(stats);
  EXPECT_EQ((*stats)["event"], "stats");
  EXPECT_EQ((*stats)["sent"], 1);
  EXPECT_EQ((*stats)["outbox"], 1);
  EXPECT_FALSE(stats->contains("ref"));
  // A last line without "\n" before EOF still counts.
  a->write_line(R"({"op":"stats","ref":"last"})");
  a->close_stdin();
  auto last = a->wait_event("stats");
  ASSERT_TRUE(last);
  EXPECT_EQ((*last)["ref"], "last");
  EXPECT_TRUE(a->wait_event("stopped"));
  EXPECT_EQ(a->wait_exit(30s), 0);
}

TEST_F(NodeCli, PeerOpTakesTheUserIdsOfAnAddressAndRefusesOthers) {
  const TestKey k = key("a");
  auto a = node("a", k, "to_device");
  expect_started(*a, k);
  const PrivateKey peer = PrivateKey::generate();
  const std::string id = "@" + peer.address().to_hex() + ":elsewhere.example";
  a->write({{"op", "peer"},
            {"address", peer.address().to_checksummed()},
            {"user_ids", {id}},
            {"ref", 1}});
  auto taken = a->next(10s);
  ASSERT_TRUE(taken);
  EXPECT_EQ((*taken)["event"], "peer");
  EXPECT_EQ((*taken)["address"], peer.address().to_hex());
  EXPECT_EQ((*taken)["user_ids"], json::array({id}));
  EXPECT_EQ((*taken)["ref"], 1);
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"op", "peer"},
        {"address", peer.address().to_hex()},
        {"user_ids", {"@" + k.address() + ":x"}}},
       "bad_user_id"},
      {{{"op", "peer"}, {"address", peer.address().to_hex()}, {"user_ids", "@0x:x"}},
       "bad_request"},
      {{{"op", "peer"}, {"address", peer.address().to_hex()}, {"user_ids", {5}}}, "bad_request"},
      {{{"op", "peer"}, {"address", "0x12"}, {"user_ids", json::array()}}, "bad_request"},
      {{{"op", "peer"},
        {"address", peer.address().to_hex()},
        {"user_ids", json::array()},
        {"extra", 1}},
       "bad_request"},
  };
  for (const auto& [op, reason] : refused) {
    a->write(op);
    auto error = a->next(10s);
    ASSERT_TRUE(error) << op.dump();
    EXPECT_EQ((*error)["event"], "error") << op.dump();
    EXPECT_EQ((*error)["reason"], reason) << op.dump();
  }
  // The candidate is looked up (through the node's homeserver, which knows no such server), on
  // the node's worker thread: soon after the answer.
  std::uint64_t lookups = 0;
  for (int i = 0; i < 100 && lookups == 0; ++i) {
    a->write({{"op", "stats"}});
    auto stats = a->next(10s);
    ASSERT_TRUE(stats);
    lookups = (*stats)["id_lookups"].get<std::uint64_t>();
    if (lookups == 0) std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(lookups, 1u);
  a->write({{"op", "stop"}});
  EXPECT_EQ(a->wait_exit(30s), 0);
}

TEST_F(NodeCli, CancelWatchAndAccessListOpsAnswerAndRefuseBadFields) {
  const TestKey k = key("a");
  auto a = node("a", k, "to_device");
  expect_started(*a, k);
  const std::string absent = PrivateKey::generate().address().to_hex();  // never logs in
  a->write({{"op", "send"}, {"to", absent}, {"body", "lost"}});
  auto sent = a->wait_event("sent");
  ASSERT_TRUE(sent);
  const std::string id = (*sent)["id"];
  const auto answer = [&](const json& op) {
    a->write(op);
    auto line = a->next(10s);
    return line ? *line : json();
  };
  json cancelled = answer({{"op", "cancel"}, {"id", id}, {"ref", 1}});
  EXPECT_EQ(cancelled["event"], "cancelled");
  EXPECT_EQ(cancelled["cancelled"], true);
  EXPECT_EQ(cancelled["ref"], 1);
  EXPECT_EQ(answer({{"op", "cancel"}, {"id", id}})["cancelled"], false) << "cancelled once";

  json watching = answer({{"op", "watch"}, {"address", absent}});
  EXPECT_EQ(watching["event"], "watching");
  EXPECT_EQ(watching["address"], absent);
  json allowlist = answer({{"op", "allowlist"}, {"addresses", {absent}}});
  EXPECT_EQ(allowlist["event"], "allowlist");
  EXPECT_EQ(allowlist["addresses"], json::array({absent}));
  EXPECT_EQ(answer({{"op", "allowlist"}, {"addresses", nullptr}})["addresses"], nullptr);
  json publishers =
      answer({{"op", "publishers"}, {"topic", "raiden_1_path_finding"}, {"addresses", {absent}}});
  EXPECT_EQ(publishers["event"], "publishers");
  EXPECT_EQ(publishers["topic"], "raiden_1_path_finding");

  const std::vector<std::pair<json, std::string>> refused = {
      {{{"op", "cancel"}}, "bad_request"},
      {{{"op", "cancel"}, {"id", 5}}, "bad_request"},
      {{{"op", "watch"}, {"address", "0x12"}}, "bad_request"},
      {{{"op", "allowlist"}, {"addresses", {"0x12"}}}, "bad_request"},
      {{{"op", "allowlist"}, {"addresses", "0x12"}}, "bad_request"},
      {{{"op", "publishers"}, {"topic", "Not A Topic"}, {"addresses", nullptr}}, "bad_topic"},
      {{{"op", "publishers"}, {"addresses", nullptr}}, "bad_request"},
  };
  for (const auto& [op, reason] : refused) {
    json error = answer(op);
    EXPECT_EQ(error["event"], "error") << op.dump();
    EXPECT_EQ(error["reason"], reason) << op.dump();
  }
  a->write({{"op", "stop"}});
  EXPECT_EQ(a->wait_exit(30s), 0);
}

// Two nodes: b publishes its capabilities (--capabilities), a takes b's metadata and reads them.
TEST_F(NodeCli, MetadataCapabilitiesAndChallengeOpsAnswerAndRefuseBadFields) {
  const TestKey ka = key("a"), kb = key("b");
  auto a = node("a", ka, "to_device");
  std::vector<std::string> b_args = node_args("node", "b", kb, "to_device");
  b_args.insert(b_args.end(), {"--capabilities", R"({"Receive":true,"Mediate":false})"});
  auto b = std::make_unique<NodeProcess>(b_args, dir / "b.stderr");
  expect_started(*a, ka);
  expect_started(*b, kb);
  const auto answer = [](NodeProcess& n, const json& op) {
    n.write(op);
    auto line = n.next(20s);
    return line ? *line : json();
  };
  json metadata = answer(*b, {{"op", "metadata"}, {"ref", "m"}});
  EXPECT_EQ(metadata["event"], "metadata");
  EXPECT_EQ(metadata["ref"], "m");
  EXPECT_EQ(metadata["user_id"], "@" + kb.address() + ":localhost");
  EXPECT_EQ(metadata["capabilities"], "mxc://raiden.network/cap?Mediate=0&Receive=1");

  json peer = answer(*a, {{"op", "peer"}, {"address", kb.address()}, {"metadata", metadata}});
  EXPECT_EQ(peer["event"], "peer");
  EXPECT_EQ(peer["user_ids"], json::array({metadata["user_id"]}));
  json caps = answer(*a, {{"op", "capabilities"}, {"address", kb.address()}});
  EXPECT_EQ(caps["event"], "capabilities");
  EXPECT_EQ(caps["capabilities"], (json{{"Mediate", "0"}, {"Receive", "1"}}));
  json challenged = answer(
      *a, {{"op", "challenge"}, {"address", kb.address()}, {"user_id", metadata["user_id"]}});
  EXPECT_EQ(challenged["event"], "challenged") << challenged.dump();
  json set = answer(*b, {{"op", "set_capabilities"}, {"capabilities", {{"Mediate", true}}}});
  EXPECT_EQ(set["event"], "capabilities_set");
  EXPECT_EQ(answer(*a, {{"op", "capabilities"}, {"address", kb.address()}})["capabilities"],
            (json{{"Mediate", "1"}}));

  json forged = metadata;
  forged["displayname"] = "0x" + std::string(130, '1');
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"op", "metadata"}, {"extra", 1}}, "bad_request"},
      {{{"op", "capabilities"}, {"address", "0x12"}}, "bad_request"},
      {{{"op", "set_capabilities"}, {"capabilities", {{"k", 1.5}}}}, "bad_request"},
      {{{"op", "set_capabilities"}}, "bad_request"},
      {{{"op", "peer"}, {"address", kb.address()}, {"metadata", "x"}}, "bad_request"},
      {{{"op", "peer"},
        {"address", kb.address()},
        {"metadata", metadata},
        {"user_ids", json::array()}},
       "bad_request"},
      {{{"op", "peer"}, {"address", kb.address()}, {"metadata", forged}}, "bad_user_id"},
      {{{"op", "peer"}, {"address", ka.address()}, {"metadata", metadata}}, "bad_user_id"},
      {{{"op", "challenge"}, {"address", ka.address()}, {"user_id", metadata["user_id"]}},
       "bad_user_id"},
      {{{"op", "challenge"}, {"address", kb.address()}}, "bad_request"},
  };
  for (const auto& [op, reason] : refused) {
    json error = answer(*a, op);
    EXPECT_EQ(error["event"], "error") << op.dump();
    EXPECT_EQ(error["reason"], reason) << op.dump();
  }
  for (auto* n : {a.get(), b.get()}) {
    n->write({{"op", "stop"}});
    EXPECT_EQ(n->wait_exit(30s), 0);
  }
}

TEST_F(NodeCli, ABadCapabilitiesOptionIsAUsageError) {
  const TestKey k = key("a");
  std::vector<std::string> args = node_args("node", "a", k, "to_device");
  args.insert(args.end(), {"--capabilities", R"({"k":[1.5]})"});
  NodeProcess n(args, dir / "a.stderr");
  EXPECT_EQ(n.wait_exit(30s), 2);
}

TEST_F(NodeCli, SigtermStopsCleanly) {
  const TestKey k = key("a");
  auto a = node("a", k, "to_device");
  expect_started(*a, k);
  a->signal(SIGTERM);
  EXPECT_TRUE(a->wait_event("stopped", 30s));
  EXPECT_EQ(a->wait_exit(30s), 0);
  // Restarted on the same store: the same device.
  const std::string device = json::parse(a->lines().front())["device_id"];
  auto again = node("a", k, "to_device");
  auto started = again->wait_event("started");
  ASSERT_TRUE(started);
  EXPECT_EQ((*started)["device_id"], device);
  again->signal(SIGINT);
  EXPECT_TRUE(again->wait_event("stopped", 30s));
  EXPECT_EQ(again->wait_exit(30s), 0);
}

TEST_F(NodeCli, StartFailuresExitNonZero) {
  const TestKey k = key("a", 0644);
  auto r = testing::run_mrt({"node", "--key-file", k.file.string(), "--homeserver",
                             "http://127.0.0.1:1", "--data", (dir / "a").string()},
                            dir);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "a")) << "refused before the store was created";
  r = testing::run_mrt({"node", "--key-file", k.file.string(), "--keystore", "x.json",
                        "--homeserver", "http://127.0.0.1:1", "--data", (dir / "a").string()},
                       dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // Nothing listens on port 1: the login fails at once, exit 7 (start_failed).
  const TestKey good = key("b");
  r = testing::run_mrt(
      {"node", "--key-file", good.file.string(), "--homeserver", "http://127.0.0.1:1",
       "--server-name", "localhost", "--data", (dir / "b").string(), "--json"},
      dir);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(json::parse(r.out)["error"], "start_failed") << r.out;
}

TEST_F(NodeCli, KeyFdReadsTheKeyFromADescriptorTheParentHandsOver) {
  const std::vector<std::string> args = {
      "node",          "--key-fd",  "3",      "--homeserver",       "http://127.0.0.1:1",
      "--server-name", "localhost", "--data", (dir / "a").string(), "--json"};
  const std::string good = to_0x_hex(PrivateKey::generate().secret()) + "\n";
  auto r = testing::run_mrt(args, dir, &good);
  EXPECT_EQ(r.exit_code, 7) << "the key was taken; nothing listens on port 1: " << r.err;
  const std::string bad = "0x1234\n";
  r = testing::run_mrt(args, dir, &bad);
  EXPECT_NE(r.exit_code, 7);
  EXPECT_NE(r.err.find("--key-fd 3"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("0x1234"), std::string::npos) << "the key's text is never printed";
  r = testing::run_mrt({"node", "--key-fd", "9", "--homeserver", "http://127.0.0.1:1", "--data",
                        (dir / "a").string()},
                       dir);
  EXPECT_NE(r.err.find("not an open descriptor"), std::string::npos) << r.err;
}

TEST_F(NodeCli, RejectedEnvelopesAreReportedWithTheirReason) {
  // b accepts envelopes at most 1 s old; a's message waits for b on the server longer.
  const TestKey ka = key("a"), kb = key("b");
  auto b_args = node_args("node", "b", kb, "to_device");
  b_args.insert(b_args.end(), {"--max-age-ms", "1000"});
  auto b = std::make_unique<NodeProcess>(b_args, dir / "b.stderr");
  expect_started(*b, kb);
  b->write({{"op", "stop"}});
  ASSERT_TRUE(b->wait_event("stopped"));
  ASSERT_EQ(b->wait_exit(30s), 0);
  auto a = node("a", ka, "to_device");
  expect_started(*a, ka);
  a->write({{"op", "send"}, {"to", kb.address()}, {"body", "late"}});
  auto sent = a->wait_event("sent");
  ASSERT_TRUE(sent);
  std::this_thread::sleep_for(1500ms);
  b = std::make_unique<NodeProcess>(b_args, dir / "b.stderr");
  auto rejected = b->wait_event("rejected");
  ASSERT_TRUE(rejected);
  EXPECT_EQ((*rejected)["reason"], "expired");
  EXPECT_EQ((*rejected)["id"], (*sent)["id"]);  // the nonce, readable once rule 1 passed
  EXPECT_EQ((*rejected)["from"], ka.address());
  EXPECT_EQ((*rejected)["carrier"], "to_device");
  b->write({{"op", "stats"}});
  auto stats = b->wait_event("stats");
  ASSERT_TRUE(stats);
  EXPECT_GE((*stats)["rejected"]["expired"], 1);
  EXPECT_EQ((*stats)["received"], 0);
  for (const auto& e : b->skipped()) EXPECT_NE(e["event"], "message") << e.dump();
}

TEST_F(NodeCli, HelpAndUsageErrors) {
  for (const char* command : {"node", "send", "listen", "demo"}) {
    auto r = testing::run_mrt({command, "--help"}, dir);
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find(std::string("mrt ") + command), std::string::npos) << r.out;
  }
  const TestKey k = key("a");
  const std::vector<std::vector<std::string>> usage_errors = {
      {"node", "--key-file", k.file.string(), "--data", "d"},  // no --homeserver
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--carrier", "pigeon"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--max-age-ms", "soon"},
      {"send", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--to", k.address()},  // no BODY
      {"send", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--to", "0x12", "body"},
      {"listen", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--count", "0"},
      {"demo", "--carrier", "pigeon"},
      {"demo", "--messages", "0"},
      {"demo", "--alice-homeserver", "hs=http://127.0.0.1:1"},  // and bob's?
      {"demo", "--alice-homeserver", "http://127.0.0.1:1", "--bob-homeserver", "hs=http://x"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--known-servers", "a,,b"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--known-servers", "a/b"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--known-servers", "a,a"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--broadcast-operators", "0x12"},
      {"node", "--key-file", k.file.string(), "--homeserver", "http://127.0.0.1:1", "--data", "d",
       "--log", "verbose"},
  };
  for (const auto& args : usage_errors) {
    auto r = testing::run_mrt(args, dir);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args.back() << ": " << r.err;
  }
}

TEST_F(NodeCli, SendWaitsForTheAckAndListenPrintsTheMessage) {
  const TestKey ka = key("a"), kb = key("b");
  auto args = node_args("listen", "b", kb, "to_device");
  args.insert(args.end(), {"--count", "1", "--json"});
  NodeProcess listen(args, dir / "b.stderr");
  // Wait until b is online, so that a finds its device at once.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (read_file(dir / "b.stderr").find("is listening") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  args = node_args("send", "a", ka, "to_device");
  args.insert(args.end(), {"--to", kb.key.address().to_checksummed(), "--json", "hi from send"});
  const auto sent = testing::run_mrt(args, dir);
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const json result = json::parse(sent.out);
  EXPECT_EQ(result["result"], "delivered");
  EXPECT_EQ(result["to"], kb.address());
  auto message = listen.next(30s);
  ASSERT_TRUE(message);
  EXPECT_EQ((*message)["event"], "message");
  EXPECT_EQ((*message)["id"], result["id"]);
  EXPECT_EQ((*message)["body"], "hi from send");
  EXPECT_EQ((*message)["from"], ka.address());
  EXPECT_EQ(listen.wait_exit(30s), 0);

  // Nobody acks a message to an address without a node: exit 8 after the timeout.
  args = node_args("send", "a", ka, "to_device");
  args.insert(args.end(),
              {"--to", PrivateKey::generate().address().to_hex(), "--timeout-ms", "500", "nobody"});
  const auto lost = testing::run_mrt(args, dir);
  EXPECT_EQ(lost.exit_code, 8) << lost.err;
}

TEST_F(NodeCli, DemoExitsZero) {
  const auto r = testing::run_mrt({"demo", "--messages", "1", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["result"], "ok");
  EXPECT_EQ(summary["carriers"]["to_device"]["messages"], 2);
  EXPECT_EQ(summary["carriers"]["room"]["messages"], 2);
  EXPECT_EQ(summary["carriers"]["room"]["over_room"], 2);
  EXPECT_NE(r.err.find("exactly once"), std::string::npos) << r.err;
}

// `mrt bench`, short: every carrier and durability, the fields of its summary.
TEST_F(NodeCli, BenchExitsZero) {
  const auto r = testing::run_mrt(
      {"bench", "--messages", "200", "--samples", "20", "--dir", dir.string(), "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["result"], "ok");
  EXPECT_GT(summary["primitives"]["sum_room_us"].get<double>(), 0);
  EXPECT_TRUE(summary["fsync"].contains("p50_ms")) << summary;
  ASSERT_EQ(summary["latency"].size(), 4u);
  ASSERT_EQ(summary["throughput"].size(), 4u);
  EXPECT_TRUE(summary["errors"].empty()) << summary["errors"];
  for (const auto& l : summary["latency"]) {
    EXPECT_EQ(l["samples"], 20);
    EXPECT_EQ(l["other_carrier"], 0);
    for (const char* field : {"carrier", "durability", "p50_ms", "p99_ms", "max_ms"})
      EXPECT_TRUE(l.contains(field)) << field;
  }
  for (const auto& t : summary["throughput"]) {
    EXPECT_EQ(t["received"], 200);
    EXPECT_EQ(t["duplicates"], 0);
    EXPECT_EQ(t["out_of_order"], 0);
    EXPECT_GT(t["received_per_s"].get<double>(), 0);
    EXPECT_GT(t["msgs_per_payload"].get<double>(), 1);
    EXPECT_GT(t["cpu_us_per_msg"].get<double>(), 0);
    EXPECT_EQ(t["server_in_process"], true);
  }
  // The stores' directory is gone.
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_FALSE(entry.path().filename().string().starts_with("mrt-bench-")) << entry.path();
  EXPECT_NE(r.err.find("Every message arrived exactly once"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mrt
