// Opening a store: what is created, and each refusal with its specific error.
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "temp_store.hpp"

namespace mrt::store {
namespace {

namespace fs = std::filesystem;

class EnvOpen : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("open");
  Options options{.dir = dir, .tables = {{"t", Sealing::sealed}}};
  void TearDown() override { fs::remove_all(dir); }

  OpenError refusal(const Options& o, const StoreKey& key = testing::owner_key()) {
    auto env = Env::open(o, key);
    EXPECT_FALSE(env);
    return env ? OpenError{} : env.error().code;
  }
  void write_one(Env& env) {
    Changes c;
    c.put(env.table<StringKey, StringValue>("t"), std::string("k"), std::string("v"));
    env.commit(std::move(c)).get();
  }
};

mode_t mode_of(const fs::path& p) {
  struct stat st;
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_F(EnvOpen, CreatesAPrivateDirectoryAndFiles) {
  auto env = testing::open_or_die(options);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir / "data.mdb"), 0600u);
  EXPECT_EQ(mode_of(dir / "lock.mdb"), 0600u);
}

TEST_F(EnvOpen, TightensAnExistingDirectoryTo0700) {
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  auto env = testing::open_or_die(options);
  EXPECT_EQ(mode_of(dir), 0700u);
}

TEST_F(EnvOpen, ReopensWithTheSameKey) {
  {
    auto env = testing::open_or_die(options);
    write_one(env);
  }
  auto env = testing::open_or_die(options);
  auto txn = env.read();
  EXPECT_EQ((env.table<StringKey, StringValue>("t").get(txn, "k")), "v");
}

TEST_F(EnvOpen, AnotherKeyIsRefused) {
  { auto env = testing::open_or_die(options); }
  auto env = Env::open(options, testing::key_of(0x07));
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().code, OpenError::wrong_key);
  EXPECT_NE(env.error().message.find("belongs to another key"), std::string::npos);
}

TEST_F(EnvOpen, ASecondOpenerIsRefusedAsLocked) {
  auto first = testing::open_or_die(options);
  auto second = Env::open(options, testing::owner_key());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, OpenError::locked);
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error().message;
}

TEST_F(EnvOpen, TheLockIsReleasedOnClose) {
  { auto env = testing::open_or_die(options); }
  EXPECT_TRUE(Env::open(options, testing::owner_key()));
}

TEST_F(EnvOpen, ANewerSchemaIsRefused) {
  Options newer = options;
  newer.schema_version = kSchemaVersion + 1;
  newer.migrations[kSchemaVersion] = [](WriteTxn&) {};
  { auto env = testing::open_or_die(options); }
  { auto env = testing::open_or_die(newer); }
  EXPECT_EQ(refusal(options), OpenError::newer_schema);
}

TEST_F(EnvOpen, AMigrationRunsOnceFromOlderToNewer) {
  {
    auto env = testing::open_or_die(options);
    write_one(env);
  }
  int runs = 0;
  Options newer = options;
  newer.schema_version = kSchemaVersion + 1;
  newer.migrations[kSchemaVersion] = [&](WriteTxn& txn) {
    ++runs;
    (void)txn;
  };
  { auto env = testing::open_or_die(newer); }
  { auto env = testing::open_or_die(newer); }
  EXPECT_EQ(runs, 1);
}

TEST_F(EnvOpen, AFailingMigrationLeavesTheStoreAsItWas) {
  {
    auto env = testing::open_or_die(options);
    write_one(env);
  }
  Options newer = options;
  newer.schema_version = kSchemaVersion + 1;
  newer.migrations[kSchemaVersion] = [](WriteTxn&) { throw std::runtime_error("boom"); };
  EXPECT_EQ(refusal(newer), OpenError::migration_failed);
  auto env = testing::open_or_die(options);  // still the old schema, data intact
  auto txn = env.read();
  EXPECT_EQ((env.table<StringKey, StringValue>("t").get(txn, "k")), "v");
}

TEST_F(EnvOpen, AMissingMigrationIsRefused) {
  { auto env = testing::open_or_die(options); }
  Options newer = options;
  newer.schema_version = kSchemaVersion + 1;
  EXPECT_EQ(refusal(newer), OpenError::migration_failed);
}

TEST_F(EnvOpen, ADirectoryWithOtherFilesIsNotAStore) {
  fs::create_directories(dir);
  std::ofstream(dir / "notes.txt") << "mine";
  EXPECT_EQ(refusal(options), OpenError::not_a_store);
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
}

TEST_F(EnvOpen, AFileIsNotAStore) {
  std::ofstream(dir) << "x";
  EXPECT_EQ(refusal(options), OpenError::not_a_store);
}

TEST_F(EnvOpen, GarbageDataFileIsCorrupt) {
  fs::create_directories(dir);
  std::ofstream(dir / "data.mdb") << std::string(20000, 'x');
  EXPECT_EQ(refusal(options), OpenError::corrupt);
}

TEST_F(EnvOpen, ATruncatedDataFileIsCorrupt) {
  {
    auto env = testing::open_or_die(options);
    Changes c;
    c.put(env.table<StringKey, BytesValue>("t"), std::string("big"), Bytes(1 << 20, 7));
    env.commit(std::move(c)).get();
  }
  fs::resize_file(dir / "data.mdb", fs::file_size(dir / "data.mdb") / 2);
  EXPECT_EQ(refusal(options), OpenError::corrupt);
}

TEST_F(EnvOpen, UndeclaredTableIsAProgrammingError) {
  auto env = testing::open_or_die(options);
  EXPECT_THROW((env.table<StringKey, StringValue>("nope")), std::invalid_argument);
}

TEST_F(EnvOpen, TheMapGrowsInsteadOfFailing) {
  options.initial_map_size = 1 << 20;
  auto env = testing::open_or_die(options);
  const auto t = env.table<StringKey, BytesValue>("t");
  for (int i = 0; i < 8; ++i) {
    Changes c;
    c.put(t, "k" + std::to_string(i), Bytes(1 << 20, static_cast<std::uint8_t>(i)));
    env.commit(std::move(c)).get();
  }
  EXPECT_GT(env.stats().map_resizes, 0u);
  auto txn = env.read();
  EXPECT_EQ(t.count(txn), 8u);
}

TEST(StoreKey, IsThirtyTwoBytes) {
  EXPECT_THROW(StoreKey(SecretBuffer(Bytes(31, 1))), std::invalid_argument);
  EXPECT_NO_THROW(StoreKey(SecretBuffer(Bytes(32, 1))));
}

}  // namespace
}  // namespace mrt::store
