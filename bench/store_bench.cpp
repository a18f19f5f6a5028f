// Store costs: durable writes one commit at a time vs group commit, and sealed vs plain
// records. Reported by bench/run.sh as ratios from the same run.
#include <deque>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <mrt/owner_store_key.hpp>
#include <mrt/store/env.hpp>

namespace {

using namespace mrt::store;
namespace fs = std::filesystem;

const mrt::PrivateKey& key() {
  static const mrt::PrivateKey k = mrt::PrivateKey::generate();
  return k;
}

// One store per configuration, shared by a benchmark's threads; removed at exit.
struct BenchStore {
  fs::path dir;
  std::optional<Env> env;
  BenchStore(const char* tag, Durability durability) {
    dir = fs::temp_directory_path() /
          ("mrt-bench-" + std::string(tag) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    env.emplace(Env::open({.dir = dir,
                           .tables = {{"plain", Sealing::plain}, {"sealed", Sealing::sealed}},
                           .durability = durability,
                           .initial_map_size = std::size_t{1} << 30},
                          mrt::store_key_for(key()))
                    .value());
  }
  ~BenchStore() {
    env.reset();
    fs::remove_all(dir);
  }
};

BenchStore& durable_store() {
  static BenchStore s("durable", Durability::full);
  return s;
}
BenchStore& memory_store() {
  static BenchStore s("nosync", Durability::off);
  return s;
}

const mrt::Bytes kValue(256, 0x5a);

// Average writes per commit (one fsync pair each) over a benchmark run.
struct BatchCounter {
  Env& env;
  Stats before = env.stats();
  void report(benchmark::State& state) const {
    const Stats after = env.stats();
    state.counters["writes_per_commit"] =
        static_cast<double>(after.writes - before.writes) /
        static_cast<double>(std::max<std::uint64_t>(1, after.group_commits - before.group_commits));
  }
};

// Each benchmark thread is a writer that waits for each of its writes to be durable: with one
// thread, every write is its own commit (one fsync each); with more, they share commits.
void BM_DurableWrite(benchmark::State& state) {
  Env& env = *durable_store().env;
  const auto t = env.table<U64Key, BytesValue>("plain");
  std::uint64_t id = static_cast<std::uint64_t>(state.thread_index()) << 40;
  const BatchCounter batches{env};
  for (auto _ : state) {
    Changes c;
    c.put(t, id++, kValue);
    env.commit(std::move(c)).get();
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) batches.report(state);
}
BENCHMARK(BM_DurableWrite)->Threads(1)->Threads(8)->Threads(64)->UseRealTime()->MinTime(2);

// One thread keeping 64 writes in flight (what Node's send path does): group commit without
// many threads.
void BM_DurableWritePipelined64(benchmark::State& state) {
  Env& env = *durable_store().env;
  const auto t = env.table<U64Key, BytesValue>("plain");
  std::uint64_t id = std::uint64_t{1} << 50;
  std::deque<std::future<void>> in_flight;
  const BatchCounter batches{env};
  for (auto _ : state) {
    Changes c;
    c.put(t, id++, kValue);
    in_flight.push_back(env.commit(std::move(c)));
    if (in_flight.size() == 64) {
      in_flight.front().get();
      in_flight.pop_front();
    }
  }
  for (auto& f : in_flight) f.get();
  state.SetItemsProcessed(state.iterations());
  batches.report(state);
}
BENCHMARK(BM_DurableWritePipelined64)->UseRealTime()->MinTime(2);

// Put + get of a 256-byte value, 1,000 per transaction, sync off: the table's own cost.
void put_get(benchmark::State& state, const char* table) {
  Env& env = *memory_store().env;
  const auto t = env.table<U64Key, BytesValue>(table);
  std::uint64_t id = 0;
  for (auto _ : state) {
    env.write([&](WriteTxn& txn) {
         for (int i = 0; i < 1000; ++i, ++id) {
           t.put(txn, id % 100000, kValue);
           benchmark::DoNotOptimize(t.get(txn, id % 100000));
         }
       })
        .get();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
void BM_PutGet256Plain(benchmark::State& state) {
  put_get(state, "plain");
}
void BM_PutGet256Sealed(benchmark::State& state) {
  put_get(state, "sealed");
}
BENCHMARK(BM_PutGet256Plain)->UseRealTime();
BENCHMARK(BM_PutGet256Sealed)->UseRealTime();

}  // namespace
