// Exactly-once delivery when `mrt node` processes die by SIGKILL in the middle of a burst and
// start again on the same store (fsync on), against the test homeserver (`mrt serve`, or Synapse
// with MRT_TEST_HOMESERVER=synapse: testing/test_homeserver.hpp). The homeserver's kill -9
// is in tests/transport/node_restart_test.cpp.
//
// What "exactly once" means for a JSON-lines reader: every message is written out at least
// once, none is lost, and a message id is written out again only by a restarted process and only
// if the killed one wrote it but had not yet made its consumption durable; readers deduplicate
// by (from, id), which is what the stable id is for.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mrt/bytes.hpp>
#include <mrt/eth.hpp>

#include "testing/node_process.hpp"
#include "testing/temp_dir.hpp"
#include "testing/test_homeserver.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::NodeProcess;

constexpr int kMessages = 300;
constexpr int kPerOp = 25;

class NodeCrash : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("nodecrash");
  void SetUp() override {
    fs::create_directories(dir);
    server_ = testing::make_test_homeserver(
        dir / "homeserver",
        std::vector<std::string>{"--rate-limits",
                                 "send=0,to_device=0,invite=0,create_room=0,login=0"});
  }
  void TearDown() override {
    if (HasFailure()) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".stderr") continue;
        std::ifstream in(entry.path());
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        std::cerr << "--- " << entry.path().filename() << "\n" << text;
      }
    }
    server_.reset();
    fs::remove_all(dir);
  }

  fs::path key_file(const std::string& name, const PrivateKey& key) {
    const fs::path file = dir / (name + ".key");
    testing::write_key_file(file, key);
    return file;
  }

  // A node with fsync on (the default): what survives SIGKILL is what the store made durable.
  std::unique_ptr<NodeProcess> node(const std::string& name, const PrivateKey& key,
                                    const std::string& carrier) {
    auto n = std::make_unique<NodeProcess>(
        std::vector<std::string>{"node", "--key-file", key_file(name, key).string(), "--homeserver",
                                 server_->base_url(), "--data", (dir / name).string(),
                                 "--server-name", server_->server_name(), "--carrier", carrier},
        dir / (name + ".stderr"));
    EXPECT_TRUE(n->wait_event("started")) << "no started event from " << name;
    return n;
  }

  // Sends kMessages to `to` in ops of kPerOp bodies; returns the ids as each op is answered.
  static std::vector<std::string> send_burst(NodeProcess& from, const Address& to, int first_op,
                                             int last_op) {
    std::vector<std::string> ids;
    for (int op = first_op; op < last_op; ++op) {
      json bodies = json::array();
      for (int i = 0; i < kPerOp; ++i) bodies.push_back("m" + std::to_string(op * kPerOp + i));
      from.write({{"op", "send"}, {"to", to.to_hex()}, {"bodies", bodies}});
      auto sent = from.wait_event("sent");
      if (!sent) return ids;
      for (const auto& id : (*sent)["ids"]) ids.push_back(id.get<std::string>());
    }
    return ids;
  }

  // The ids of the message events a process wrote out, in order.
  static std::vector<std::string> messages_of(const NodeProcess& n) {
    std::vector<std::string> ids;
    for (const auto& line : n.lines()) {
      const json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == "message") ids.push_back(e["id"]);
    }
    return ids;
  }

  static std::set<std::string> delivered_of(const NodeProcess& n) {
    std::set<std::string> ids;
    for (const auto& line : n.lines()) {
      const json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == "delivered") ids.insert(e["id"]);
      EXPECT_NE(e.value("event", ""), "failed") << line;
    }
    return ids;
  }

  // Reads events until `count_of(n)` reaches `want` or 60 s pass.
  static void wait_until(NodeProcess& n, const std::function<std::size_t()>& count_of,
                         std::size_t want) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (count_of() < want && std::chrono::steady_clock::now() < deadline) n.next(100ms);
  }

  std::unique_ptr<testing::TestHomeserver> server_;
};

class NodeCrashCarrier : public NodeCrash, public ::testing::WithParamInterface<const char*> {};

TEST_P(NodeCrashCarrier, ReceiverKilledMidBurstLosesNothingAndRepeatsOnlyUnconsumed) {
  const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
  auto a = node("a", ka, GetParam());
  auto b = node("b", kb, GetParam());
  // Half before the kill (it dies mid-stream), half while it is down.
  auto ids = send_burst(*a, kb.address(), 0, kMessages / kPerOp / 2);
  wait_until(
      *b, [&] { return messages_of(*b).size(); }, kMessages / 8);
  b->signal(SIGKILL);
  ASSERT_TRUE(b->wait_exit(10s));
  while (b->next(100ms)) {  // what it wrote before it died
  }
  const auto first_run = messages_of(*b);
  const auto later = send_burst(*a, kb.address(), kMessages / kPerOp / 2, kMessages / kPerOp);
  ids.insert(ids.end(), later.begin(), later.end());
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kMessages));

  b = node("b", kb, GetParam());
  std::set<std::string> seen(first_run.begin(), first_run.end());
  wait_until(
      *b,
      [&] {
        std::set<std::string> all = seen;
        for (const auto& id : messages_of(*b)) all.insert(id);
        return all.size();
      },
      kMessages);
  std::this_thread::sleep_for(1s);  // anything written twice would show by now
  while (b->next(100ms)) {
  }
  const auto second_run = messages_of(*b);

  std::set<std::string> all(first_run.begin(), first_run.end());
  std::size_t repeated = 0;
  std::set<std::string> second_seen;
  for (const auto& id : second_run) {
    EXPECT_TRUE(second_seen.insert(id).second) << id << " twice in one run";
    if (!all.insert(id).second) ++repeated;
  }
  EXPECT_EQ(all, std::set<std::string>(ids.begin(), ids.end())) << "messages lost";
  EXPECT_EQ(std::set<std::string>(first_run.begin(), first_run.end()).size(), first_run.size());
  // Only what the killed run wrote out and had not yet made consumed durable comes again.
  EXPECT_LE(repeated, first_run.size());
  RecordProperty("repeated_after_kill", static_cast<int>(repeated));

  wait_until(
      *a, [&] { return delivered_of(*a).size(); }, kMessages);
  EXPECT_EQ(delivered_of(*a), std::set<std::string>(ids.begin(), ids.end()));
}

TEST_P(NodeCrashCarrier, SenderKilledMidBurstDeliversEveryMessageOnce) {
  const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
  auto a = node("a", ka, GetParam());
  auto b = node("b", kb, GetParam());
  // Every "sent" answer means the message is durable in a's outbox; kill right after the last.
  const auto ids = send_burst(*a, kb.address(), 0, kMessages / kPerOp);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kMessages));
  a->signal(SIGKILL);
  ASSERT_TRUE(a->wait_exit(10s));
  while (a->next(100ms)) {
  }
  const auto delivered_before = delivered_of(*a);

  a = node("a", ka, GetParam());
  wait_until(
      *b, [&] { return messages_of(*b).size(); }, kMessages);
  std::this_thread::sleep_for(1s);
  while (b->next(100ms)) {
  }
  const auto got = messages_of(*b);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kMessages)) << "the receiver saw duplicates";

  std::set<std::string> delivered = delivered_before;
  wait_until(
      *a,
      [&] {
        std::set<std::string> all = delivered_before;
        for (const auto& id : delivered_of(*a)) all.insert(id);
        return all.size();
      },
      kMessages);
  for (const auto& id : delivered_of(*a)) delivered.insert(id);
  EXPECT_EQ(delivered, std::set<std::string>(ids.begin(), ids.end()));
}

// A store that refuses writes (here RLIMIT_FSIZE below the data file's first data page, as a
// full disk would) costs the receiver time only: one store_failed event, no step applied, and
// when writes are possible again every message arrives once.
TEST_F(NodeCrash, AStoreRefusingWritesIsReportedAndLosesOrRepeatsNothing) {
  const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
  auto a = node("a", ka, "to_device");
  auto b = node("b", kb, "to_device");
  auto ids = send_burst(*a, kb.address(), 0, 1);
  wait_until(
      *b, [&] { return messages_of(*b).size(); }, ids.size());

  rlimit before{};
  ASSERT_EQ(::prlimit(b->pid(), RLIMIT_FSIZE, nullptr, &before), 0);
  const rlimit meta_pages_only{8192, before.rlim_max};  // LMDB's two meta pages
  ASSERT_EQ(::prlimit(b->pid(), RLIMIT_FSIZE, &meta_pages_only, nullptr), 0);
  const auto later = send_burst(*a, kb.address(), 1, 2);
  ids.insert(ids.end(), later.begin(), later.end());
  const auto failed = b->wait_event("store_failed");
  ASSERT_TRUE(failed) << "no store_failed event";
  EXPECT_FALSE(failed->value("detail", "").empty());
  ASSERT_EQ(::prlimit(b->pid(), RLIMIT_FSIZE, &before, nullptr), 0);

  wait_until(
      *b, [&] { return messages_of(*b).size(); }, ids.size());
  std::this_thread::sleep_for(1s);  // anything written twice would show by now
  while (b->next(100ms)) {
  }
  const auto got = messages_of(*b);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(got.size(), ids.size()) << "a message was written out twice";
  b->write({{"op", "stats"}});
  const auto stats = b->wait_event("stats");
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->value("store_errors", 0), 1);
  EXPECT_EQ(stats->value("step_failures", -1), 0);
}

// The sender's side of a full disk: a send that cannot be made durable is refused with the
// store's reason (the op is answered, the node goes on), and once writes are possible again the
// next send is accepted and arrives.
TEST_F(NodeCrash, ASendWhoseStoreRefusesWritesIsRefusedAndTheNextOneGoesThrough) {
  const PrivateKey ka = PrivateKey::generate(), kb = PrivateKey::generate();
  auto a = node("a", ka, "to_device");
  auto b = node("b", kb, "to_device");
  rlimit before{};
  ASSERT_EQ(::prlimit(a->pid(), RLIMIT_FSIZE, nullptr, &before), 0);
  const rlimit meta_pages_only{8192, before.rlim_max};
  ASSERT_EQ(::prlimit(a->pid(), RLIMIT_FSIZE, &meta_pages_only, nullptr), 0);
  a->write({{"op", "send"}, {"to", kb.address().to_hex()}, {"bodies", {"refused"}}});
  const auto refused = a->wait_for([](const json& e) {
    return e.value("event", "") == "error" || e.value("event", "") == "sent";
  });
  ASSERT_TRUE(refused) << "the send op got no answer";
  EXPECT_EQ(refused->value("event", ""), "error");
  EXPECT_EQ(refused->value("reason", ""), "store");

  ASSERT_EQ(::prlimit(a->pid(), RLIMIT_FSIZE, &before, nullptr), 0);
  const auto ids = send_burst(*a, kb.address(), 0, 1);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kPerOp));
  wait_until(
      *b, [&] { return messages_of(*b).size(); }, ids.size());
  const auto got = messages_of(*b);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            std::set<std::string>(ids.begin(), ids.end()));
}

INSTANTIATE_TEST_SUITE_P(Carriers, NodeCrashCarrier, ::testing::Values("to_device", "room"));

}  // namespace
}  // namespace mrt
