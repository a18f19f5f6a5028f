// Kill -9 a process in the middle of group-committed writes, reopen, and check that every write
// it acknowledged is there, intact, and that no step is half applied. Cycles: 10 by default,
// MRT_CRASH_CYCLES to change (the `soak` CTest label runs 100).
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <set>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include <gtest/gtest.h>

#include <mrt/store/env.hpp>

#include "crash_payload.hpp"
#include "temp_store.hpp"

namespace mrt::store {
namespace {

struct ChildRun {
  std::set<std::uint64_t> acknowledged;
  int status = 0;
};

// Runs the child until its first acknowledged write and `run_for` more (so that a loaded machine,
// slow to start the child, still kills it mid-stream), SIGKILLs it, and returns every id it had
// acknowledged. A child that acknowledges nothing in 30 s is killed then.
ChildRun run_and_kill(const std::filesystem::path& dir, std::uint64_t first_id,
                      std::chrono::milliseconds run_for) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    const std::string first = std::to_string(first_id);
    ::execl(MRT_CRASH_CHILD_PATH, MRT_CRASH_CHILD_PATH, dir.c_str(), first.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  ChildRun run;
  std::string pending;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool started = false, killed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!killed && left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{out[0], POLLIN, 0};
    ::poll(&p, 1, killed ? 1000 : static_cast<int>(std::max<long>(left.count(), 0)));
    if (!(p.revents & (POLLIN | POLLHUP))) continue;
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child is gone and its acks are all read
    pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      run.acknowledged.insert(std::stoull(pending.substr(0, nl)));
      if (!std::exchange(started, true)) deadline = std::chrono::steady_clock::now() + run_for;
    }
  }
  ::close(out[0]);
  ::waitpid(pid, &run.status, 0);
  return run;
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkillWhole) {
  const char* env_cycles = std::getenv("MRT_CRASH_CYCLES");
  const int cycles = env_cycles ? std::atoi(env_cycles) : 10;
  const auto dir = testing::fresh_dir("crash");
  const auto key = crash_test::owner_key();
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> ms(20, 250);
  std::set<std::uint64_t> all_acked;
  std::uint64_t total_stored = 0;

  for (int cycle = 0; cycle < cycles; ++cycle) {
    const ChildRun run = run_and_kill(dir, static_cast<std::uint64_t>(cycle) * 1'000'000,
                                      std::chrono::milliseconds(ms(rng)));
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "cycle " << cycle << ": the child ended on its own (status " << run.status << ")";
    all_acked.insert(run.acknowledged.begin(), run.acknowledged.end());

    auto env = Env::open({.dir = dir, .tables = crash_test::tables()}, key);
    ASSERT_TRUE(env) << env.error().message;
    const auto sealed = env->table<U64Key, StringValue>("sealed");
    const auto plain = env->table<U64Key, StringValue>("plain");
    auto txn = env->read();
    for (std::uint64_t id : all_acked) {
      ASSERT_EQ(sealed.get(txn, id), crash_test::payload(id)) << "acknowledged id " << id;
      ASSERT_EQ(plain.get(txn, id), crash_test::payload(id)) << "acknowledged id " << id;
    }
    // Unacknowledged steps may or may not be there, but never half.
    std::set<std::uint64_t> in_sealed, in_plain;
    sealed.for_each(txn, {}, [&](const std::uint64_t& id, std::string v) {
      EXPECT_EQ(v, crash_test::payload(id));
      return in_sealed.insert(id).second;
    });
    plain.for_each(txn, {}, [&](const std::uint64_t& id, std::string v) {
      EXPECT_EQ(v, crash_test::payload(id));
      return in_plain.insert(id).second;
    });
    ASSERT_EQ(in_sealed, in_plain) << "a step was half applied in cycle " << cycle;
    total_stored = in_sealed.size();
  }
  RecordProperty("cycles", cycles);
  RecordProperty("acknowledged", static_cast<int>(all_acked.size()));
  std::printf("crash test: %d cycles, %zu acknowledged writes, %llu stored, 0 lost\n", cycles,
              all_acked.size(), static_cast<unsigned long long>(total_stored));
  EXPECT_GT(all_acked.size(), 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mrt::store
