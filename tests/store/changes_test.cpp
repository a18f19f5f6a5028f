// A step's Changes: reads through its own writes, after-commit hooks that run once it is durable,
// abandon hooks that run when it never becomes so.
#include <string>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "temp_store.hpp"

namespace mrt::store {
namespace {

class ChangesTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = testing::fresh_dir("changes");
  Env env = testing::open_or_die({.dir = dir, .tables = {{"t", Sealing::plain}}});
  Table<StringKey, StringValue> t = env.table<StringKey, StringValue>("t");
  void TearDown() override { std::filesystem::remove_all(dir); }

  void put_now(const std::string& key, const std::string& value) {
    Changes c;
    c.put(t, key, value);
    env.commit_now(std::move(c));
  }
};

TEST_F(ChangesTest, ReadsSeeTheStepsOwnLastWriteElseTheTable) {
  put_now("stored", "old");
  put_now("erased", "there");
  Changes c;
  c.put(t, "new", "first");
  c.put(t, "new", "second");
  c.erase(t, "erased");
  const auto txn = env.read();
  EXPECT_EQ(c.get(t, txn, "new"), "second");
  EXPECT_EQ(c.get(t, txn, "erased"), std::nullopt);
  EXPECT_EQ(c.get(t, txn, "stored"), "old");
  EXPECT_EQ(c.get(t, txn, "absent"), std::nullopt);
}

TEST_F(ChangesTest, AppendedWritesAreReadThroughToo) {
  Changes step, part;
  part.put(t, "k", "from the part");
  step.append(std::move(part));
  EXPECT_EQ(step.get(t, env.read(), "k"), "from the part");
}

TEST_F(ChangesTest, CommitNowRunsAfterCommitHooksOnceDurable) {
  Changes c;
  c.put(t, "k", "v");
  bool durable_in_hook = false;
  c.after_commit(this, [&] { durable_in_hook = t.get(env.read(), "k") == "v"; });
  env.commit_now(std::move(c));
  EXPECT_TRUE(durable_in_hook);
}

TEST_F(ChangesTest, OneHookPerOwner) {
  Changes c;
  int runs = 0;
  c.after_commit(this, [&] { ++runs; });
  c.after_commit(this, [&] { ++runs; });
  env.commit_now(std::move(c));
  EXPECT_EQ(runs, 1);
}

TEST_F(ChangesTest, AStepDroppedUncommittedRunsItsAbandonHooks) {
  bool abandoned = false;
  {
    Changes c;
    c.put(t, "k", "v");
    c.on_abandon(this, [&] { abandoned = true; });
  }
  EXPECT_TRUE(abandoned);
  EXPECT_EQ(t.get(env.read(), "k"), std::nullopt);
}

TEST_F(ChangesTest, AFailedCommitRunsAbandonHooksAndRethrows) {
  Changes c;
  c.put(t, "fine", "v");
  c.put(t, std::string(600, 'k'), "v");  // longer than LMDB's 511-byte key limit
  bool abandoned = false, committed = false;
  c.on_abandon(this, [&] { abandoned = true; });
  c.after_commit(this, [&] { committed = true; });
  EXPECT_ANY_THROW(env.commit_now(std::move(c)));
  EXPECT_TRUE(abandoned);
  EXPECT_FALSE(committed);
  EXPECT_EQ(t.get(env.read(), "fine"), std::nullopt) << "all or nothing";
}

TEST_F(ChangesTest, ACommittedStepIsNotAbandonedWhenItsMovedFromShellDies) {
  bool abandoned = false;
  {
    Changes c;
    c.on_abandon(this, [&] { abandoned = true; });
    env.commit_now(std::move(c));
  }
  EXPECT_FALSE(abandoned);
}

TEST_F(ChangesTest, TheAsyncCommitRefusesAStepWithHooks) {
  Changes c;
  c.after_commit(this, [] {});
  EXPECT_THROW((void)env.commit(std::move(c)), std::invalid_argument);
}

TEST_F(ChangesTest, CommitNowOfNothingWritesNothing) {
  const auto before = env.stats().writes;
  bool ran = false;
  Changes c;
  c.after_commit(this, [&] { ran = true; });
  env.commit_now(std::move(c));
  EXPECT_TRUE(ran);
  EXPECT_EQ(env.stats().writes, before);
}

}  // namespace
}  // namespace mrt::store
