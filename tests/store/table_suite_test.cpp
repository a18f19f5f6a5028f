// One suite every table setup passes: plain and sealed values, durable and not, read back in
// the same process and after reopening the store.
#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "temp_store.hpp"

namespace mrt::store {
namespace {

struct Setup {
  const char* name;
  Sealing sealing;
  Durability durability;
  bool reopen;  // read back through a newly opened Env
};

class TableSuite : public ::testing::TestWithParam<Setup> {
 protected:
  std::filesystem::path dir = testing::fresh_dir("table");
  Options options() const {
    return {.dir = dir, .tables = {{"t", GetParam().sealing}}, .durability = GetParam().durability};
  }
  std::optional<Env> env{testing::open_or_die(options())};
  Table<StringKey, BytesValue> table() const { return env->table<StringKey, BytesValue>("t"); }

  void TearDown() override {
    env.reset();
    std::filesystem::remove_all(dir);
  }
  void put(const std::string& k, const Bytes& v) {
    Changes c;
    c.put(table(), k, v);
    env->commit(std::move(c)).get();
  }
  // Reopens when the setup asks for it, so reads come from disk.
  void maybe_reopen() {
    if (!GetParam().reopen) return;
    env.reset();
    env.emplace(testing::open_or_die(options()));
  }
  std::optional<Bytes> get(const std::string& k) {
    auto txn = env->read();
    return table().get(txn, k);
  }
};

TEST_P(TableSuite, RoundTrips) {
  put("a", {1, 2, 3});
  maybe_reopen();
  EXPECT_EQ(get("a"), (Bytes{1, 2, 3}));
}

TEST_P(TableSuite, MissingKeyIsNullopt) {
  EXPECT_EQ(get("absent"), std::nullopt);
}

TEST_P(TableSuite, EmptyValueRoundTrips) {
  put("empty", {});
  maybe_reopen();
  EXPECT_EQ(get("empty"), Bytes{});
}

TEST_P(TableSuite, OverwriteKeepsTheLastValue) {
  put("a", {1});
  put("a", {2});
  maybe_reopen();
  EXPECT_EQ(get("a"), Bytes{2});
}

TEST_P(TableSuite, EraseRemoves) {
  put("a", {1});
  Changes c;
  c.erase(table(), std::string("a"));
  env->commit(std::move(c)).get();
  maybe_reopen();
  EXPECT_EQ(get("a"), std::nullopt);
}

TEST_P(TableSuite, LargeValuesRoundTrip) {
  Bytes big(3 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  put("big", big);
  maybe_reopen();
  EXPECT_EQ(get("big"), big);
}

TEST_P(TableSuite, ManyRecordsInOneStep) {
  Changes c;
  for (int i = 0; i < 10000; ++i) {
    c.put(table(), "k" + std::to_string(i), Bytes{static_cast<std::uint8_t>(i)});
  }
  env->commit(std::move(c)).get();
  maybe_reopen();
  auto txn = env->read();
  EXPECT_EQ(table().count(txn), 10000u);
  EXPECT_EQ(table().get(txn, "k9999"), Bytes{static_cast<std::uint8_t>(9999)});
}

TEST_P(TableSuite, PrefixIterationVisitsOnlyThePrefixInOrder) {
  Changes c;
  for (const std::string& k :
       {join_key({"room", "b"}), join_key({"room", "a"}), std::string("roomy"),
        std::string("other"), join_key({"room", "c"})}) {
    c.put(table(), k, Bytes{1});
  }
  env->commit(std::move(c)).get();
  maybe_reopen();
  auto txn = env->read();
  std::vector<std::string> seen;
  const std::string prefix = join_key({"room"});
  table().for_each(txn, as_bytes(prefix), [&](const std::string& k, Bytes) {
    seen.push_back(k);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{join_key({"room", "a"}), join_key({"room", "b"}),
                                            join_key({"room", "c"})}));
}

TEST_P(TableSuite, IterationStopsWhenTheVisitorSaysSo) {
  put("a", {1});
  put("b", {2});
  auto txn = env->read();
  int visits = 0;
  table().for_each(txn, {}, [&](const std::string&, Bytes) { return ++visits < 1; });
  EXPECT_EQ(visits, 1);
}

TEST_P(TableSuite, StepReadsItsOwnWrites) {
  env->write([&](WriteTxn& txn) {
       table().put(txn, "a", Bytes{5});
       auto v = table().get(txn, "a");
       table().put(txn, "b", Bytes{static_cast<std::uint8_t>((*v)[0] + 1)});
     })
      .get();
  maybe_reopen();
  EXPECT_EQ(get("b"), Bytes{6});
}

INSTANTIATE_TEST_SUITE_P(
    EverySetup, TableSuite,
    ::testing::Values(Setup{"plain", Sealing::plain, Durability::full, false},
                      Setup{"sealed", Sealing::sealed, Durability::full, false},
                      Setup{"plain_reopened", Sealing::plain, Durability::full, true},
                      Setup{"sealed_reopened", Sealing::sealed, Durability::full, true},
                      Setup{"sealed_sync_off", Sealing::sealed, Durability::off, true}),
    [](const auto& setup) { return std::string(setup.param.name); });

}  // namespace
}  // namespace mrt::store
