// Group commit: writes from many threads share transactions, each completes only once durable,
// and a step is applied whole or not at all.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "temp_store.hpp"

namespace mrt::store {
namespace {

class GroupCommit : public ::testing::Test {
 protected:
  std::filesystem::path dir = testing::fresh_dir("group");
  Options options{.dir = dir, .tables = {{"t", Sealing::plain}}};
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(GroupCommit, ConcurrentWritersShareCommits) {
  auto env = testing::open_or_die(options);
  const auto t = env.table<U64Key, U64Value>("t");
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        Changes c;
        const auto id = static_cast<std::uint64_t>(w * kEach + i);
        c.put(t, id, id * 2);
        env.commit(std::move(c)).get();
      }
    });
  }
  for (auto& th : threads) th.join();
  const Stats s = env.stats();
  EXPECT_EQ(s.writes, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_LT(s.group_commits, s.writes);  // some writes shared a commit
  auto txn = env.read();
  EXPECT_EQ(t.count(txn), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(t.get(txn, 1234), 2468u);
}

TEST_F(GroupCommit, AGroupCommitTheFaultHookRefusesAppliesNoneOfItsWritesAndTheNextProceeds) {
  std::atomic<int> commits{0};
  options.before_group_commit = [&] {
    if (commits++ == 1) throw std::runtime_error("injected: the disk refuses");
  };
  auto env = testing::open_or_die(options);
  const auto t = env.table<StringKey, StringValue>("t");
  const auto put = [&](const char* key) {
    Changes c;
    c.put(t, key, "yes");
    return env.commit(std::move(c));
  };
  put("first").get();
  EXPECT_THROW(put("refused").get(), std::runtime_error);
  put("third").get();
  auto txn = env.read();
  EXPECT_EQ(t.get(txn, "first"), "yes");
  EXPECT_EQ(t.get(txn, "refused"), std::nullopt);
  EXPECT_EQ(t.get(txn, "third"), "yes");
}

TEST_F(GroupCommit, AFailingStepIsUndoneAloneAndReported) {
  auto env = testing::open_or_die(options);
  const auto t = env.table<StringKey, StringValue>("t");
  auto good = env.write([&](WriteTxn& txn) { t.put(txn, "good", "yes"); });
  auto bad = env.write([&](WriteTxn& txn) {
    t.put(txn, "half", "applied?");
    throw std::runtime_error("step failed midway");
  });
  good.get();
  EXPECT_THROW(bad.get(), std::runtime_error);
  auto txn = env.read();
  EXPECT_EQ(t.get(txn, "good"), "yes");
  EXPECT_EQ(t.get(txn, "half"), std::nullopt);
}

TEST_F(GroupCommit, CallbackFiresAfterTheDataIsVisible) {
  auto env = testing::open_or_die(options);
  const auto t = env.table<StringKey, StringValue>("t");
  std::promise<std::optional<std::string>> seen;
  env.write([&](WriteTxn& txn) { t.put(txn, "k", "v"); },
            [&](std::exception_ptr error) {
              EXPECT_FALSE(error);
              auto txn = env.read();
              seen.set_value(t.get(txn, "k"));
            });
  EXPECT_EQ(seen.get_future().get(), "v");
}

TEST_F(GroupCommit, ClosingFinishesQueuedWrites) {
  {
    auto env = testing::open_or_die(options);
    const auto t = env.table<U64Key, U64Value>("t");
    for (std::uint64_t i = 0; i < 500; ++i) {
      Changes c;
      c.put(t, i, i);
      (void)env.commit(std::move(c));  // not waited for
    }
  }
  auto env = testing::open_or_die(options);
  auto txn = env.read();
  EXPECT_EQ((env.table<U64Key, U64Value>("t").count(txn)), 500u);
}

TEST_F(GroupCommit, ReadersDoNotSeeUncommittedSteps) {
  auto env = testing::open_or_die(options);
  const auto t = env.table<StringKey, StringValue>("t");
  std::promise<void> inside, release;
  auto step = env.write([&](WriteTxn& txn) {
    t.put(txn, "k", "v");
    inside.set_value();
    release.get_future().wait();
  });
  inside.get_future().wait();
  {
    auto txn = env.read();
    EXPECT_EQ(t.get(txn, "k"), std::nullopt);
  }
  release.set_value();
  step.get();
  auto txn = env.read();
  EXPECT_EQ(t.get(txn, "k"), "v");
}

TEST_F(GroupCommit, JsonValuesRoundTripCanonically) {
  Options o = options;
  auto env = testing::open_or_die(o);
  const auto t = env.table<StringKey, JsonValue>("t");
  Changes c;
  c.put(t, std::string("j"), nlohmann::json{{"b", 1}, {"a", "é"}});
  env.commit(std::move(c)).get();
  auto txn = env.read();
  EXPECT_EQ(t.get(txn, "j"), (nlohmann::json{{"a", "é"}, {"b", 1}}));
}

TEST_F(GroupCommit, AFloatCannotBeStoredAsJson) {
  auto env = testing::open_or_die(options);
  Changes c;
  EXPECT_THROW(c.put(env.table<StringKey, JsonValue>("t"), std::string("j"), nlohmann::json(1.5)),
               std::invalid_argument);
}

}  // namespace
}  // namespace mrt::store
