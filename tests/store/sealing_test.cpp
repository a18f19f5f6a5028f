// Values at rest: sealed tables never hold plaintext, and a modified or moved sealed value is a
// clear IntegrityError, never garbage.
#include <filesystem>
#include <fstream>
#include <lmdb.h>
#include <sstream>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "temp_store.hpp"

namespace mrt::store {
namespace {

namespace fs = std::filesystem;

class Sealed : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("sealing");
  Options options{.dir = dir, .tables = {{"secrets", Sealing::sealed}, {"public", Sealing::plain}}};
  void TearDown() override { fs::remove_all(dir); }

  void put(const char* table, const std::string& k, const std::string& v) {
    auto env = testing::open_or_die(options);
    Changes c;
    c.put(env.table<StringKey, StringValue>(table), k, v);
    env.commit(std::move(c)).get();
  }
  std::string raw_file() {
    std::ifstream in(dir / "data.mdb", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Edits a stored (sealed) value with LMDB directly, as damage or an attacker would.
  void edit_raw(const char* table, const std::string& from_key, const std::string& to_key,
                bool flip) {
    MDB_env* env;
    MDB_txn* txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0600), 0);
    mdb_txn_begin(env, nullptr, 0, &txn);
    ASSERT_EQ(mdb_dbi_open(txn, table, 0, &dbi), 0);
    MDB_val k{from_key.size(), const_cast<char*>(from_key.data())}, v;
    ASSERT_EQ(mdb_get(txn, dbi, &k, &v), 0);
    std::string value(static_cast<char*>(v.mv_data), v.mv_size);
    if (flip) value[value.size() / 2] ^= 0x01;
    MDB_val k2{to_key.size(), const_cast<char*>(to_key.data())};
    MDB_val v2{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k2, &v2, 0), 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
  }
  void expect_integrity_error(const std::string& key) {
    auto env = testing::open_or_die(options);
    auto txn = env.read();
    const auto secrets = env.table<StringKey, StringValue>("secrets");
    EXPECT_THROW((void)secrets.get(txn, key), IntegrityError);
  }
};

TEST_F(Sealed, SecretsNeverReachTheFileInPlaintext) {
  const std::string secret = "olm-pickle-5d1f8a0c3b9e47d2a6f0";
  const std::string visible = "room-id-public-8e2b71c4d5a9f306";
  put("secrets", "session", secret);
  put("public", "room", visible);
  const std::string raw = raw_file();
  EXPECT_EQ(raw.find(secret), std::string::npos);
  EXPECT_NE(raw.find(visible), std::string::npos);  // the scan does find plaintext
}

TEST_F(Sealed, AFlippedByteIsAnIntegrityError) {
  put("secrets", "session", "pickle");
  edit_raw("secrets", "session", "session", true);
  expect_integrity_error("session");
}

TEST_F(Sealed, AValueMovedToAnotherRecordDoesNotOpen) {
  put("secrets", "alice", "alice's pickle");
  edit_raw("secrets", "alice", "bob", false);
  expect_integrity_error("bob");
}

// The associated data spends one byte on the table name's length (store/store_keys.hpp): table
// "a" + 256 bytes with key "k" would bind a value exactly as table "a" with key (those 256 bytes
// + "k") does, so such names are refused before anything is sealed (found by fuzz:store_records).
TEST_F(Sealed, TableNamesAbove255BytesAreRefused) {
  Options longest = options;
  longest.tables.push_back({std::string(255, 's'), Sealing::sealed});
  EXPECT_NO_THROW(testing::open_or_die(longest));
  Options too_long = options;
  too_long.tables.push_back({std::string(256, 's'), Sealing::sealed});
  EXPECT_THROW(testing::open_or_die(too_long), std::invalid_argument);
}

TEST_F(Sealed, TheSameValueSealsDifferentlyEachTime) {
  put("secrets", "a", "same");
  put("secrets", "b", "same");
  auto env = testing::open_or_die(options);
  EXPECT_NE(env.keyed_hash(as_bytes("x")), Bytes{});
  auto txn = env.read();
  const auto t = env.table<StringKey, StringValue>("secrets");
  EXPECT_EQ(t.get(txn, "a"), t.get(txn, "b"));
}

TEST_F(Sealed, KeyedHashDependsOnTheOwnerKey) {
  Bytes mine;
  {
    auto env = testing::open_or_die(options);
    mine = env.keyed_hash(as_bytes("session id"));
  }
  const fs::path other_dir = dir.string() + "-other";
  auto other = testing::open_or_die({.dir = other_dir}, testing::key_of(0x07));
  EXPECT_NE(other.keyed_hash(as_bytes("session id")), mine);
  fs::remove_all(other_dir);
}

}  // namespace
}  // namespace mrt::store
