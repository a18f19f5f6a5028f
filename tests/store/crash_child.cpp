// The writer of the store crash test (crash_test.cpp): writes numbered steps from several
// threads with group commit and prints each id on stdout once its commit is durable, until it is
// killed. Each step puts the same id into two tables, so a half-applied step is visible.
//   mrt_store_crash_child DIR FIRST_ID
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <mrt/store/env.hpp>

#include "crash_payload.hpp"

int main(int argc, char** argv) {
  using namespace mrt::store;
  if (argc != 3) return 2;
  const auto key = crash_test::owner_key();
  auto env = Env::open({.dir = argv[1], .tables = crash_test::tables()}, key);
  if (!env) {
    std::fprintf(stderr, "crash child: %s\n", env.error().message.c_str());
    return 1;
  }
  const auto sealed = env->table<U64Key, StringValue>("sealed");
  const auto plain = env->table<U64Key, StringValue>("plain");
  std::atomic<std::uint64_t> next{std::stoull(argv[2])};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      for (;;) {
        const std::uint64_t id = next++;
        Changes c;
        c.put(sealed, id, crash_test::payload(id));
        c.put(plain, id, crash_test::payload(id));
        env->commit(std::move(c)).get();
        const std::string line = std::to_string(id) + "\n";  // < PIPE_BUF: written atomically
        if (::write(1, line.data(), line.size()) < 0) return;
      }
    });
  }
  for (auto& w : writers) w.join();
  return 0;
}
