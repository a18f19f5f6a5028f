// `mrt bench`: the node-to-node benchmark (node_benchmark.hpp) with the dev homeserver in
// this process, as `mrt demo` runs it, its rate limits lifted: latency per carrier and store
// durability, throughput with send_many, CPU per message against the raw primitives.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "args.hpp"
#include "bench/support/node_benchmark.hpp"
#include "command.hpp"
#include "dev_homeserver.hpp"
#include "node_setup.hpp"

namespace mrt::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

class InProcessBenchHomeserver : public BenchHomeserver {
 public:
  explicit InProcessBenchHomeserver(const fs::path& data_dir)
      : server_(data_dir, {.rate_limits = "send=0,to_device=0,invite=0,create_room=0,login=0"}) {}
  std::string url() const override { return server_.url(); }
  double cpu_seconds() const override {
    double total = 0;
    for (const pid_t tid : server_.threads()) {
      total += proc_stat_cpu_seconds("/proc/self/task/" + std::to_string(tid) + "/stat");
    }
    return total;
  }
  bool in_process() const override { return true; }

 private:
  InProcessHomeserver server_;
};

int bench(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {"--carrier", "--messages", "--samples", "--dir"},
                  {"--no-fsync", "--json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument " + args.positional()[0]);
  NodeBenchOptions options;
  const std::string which = args.get("--carrier").value_or("both");
  options.carriers.clear();
  if (which == "both" || which == "to_device") options.carriers.push_back(Carrier::to_device);
  if (which == "both" || which == "room") options.carriers.push_back(Carrier::room);
  if (options.carriers.empty()) throw UsageError("--carrier is both, room or to_device");
  options.messages = static_cast<std::size_t>(int_option(args, "--messages", 2000, 1, 1'000'000));
  options.samples = static_cast<std::size_t>(int_option(args, "--samples", 200, 1, 100'000));
  options.warmup = std::min<std::size_t>(20, options.samples);
  if (args.has("--no-fsync")) options.durabilities = {store::Durability::off};
  options.dir = args.get("--dir").value_or(fs::temp_directory_path().string());
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  std::string pattern = (options.dir / "mrt-bench-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    throw CommandError(kBadInput, "cannot create a directory in " + options.dir.string());
  }
  const fs::path root = pattern;

  StopSignals signals;         // before any thread: Ctrl-C ends the run, which still cleans up
  ::signal(SIGPIPE, SIG_IGN);  // `mrt bench | head` too
  std::ostream& say = json_out ? std::cerr : std::cout;
  say << "mrt bench: two mrt::Node and the dev homeserver in this process (rate limits lifted),\n"
         "stores in "
      << root.string() << "; " << options.messages << " messages per throughput run, "
      << options.samples << " latency samples after " << options.warmup << " of warm-up.\n"
      << std::flush;

  std::vector<json> results;
  NodeBenchHooks hooks;
  hooks.start_homeserver = [](const fs::path& dir) -> std::unique_ptr<BenchHomeserver> {
    return std::make_unique<InProcessBenchHomeserver>(dir);
  };
  hooks.emit = [&](const json& line) {
    results.push_back(line);
    if (json_out) return;
    const std::string kind = line.value("kind", "");
    if (kind == "primitives" || kind == "setup" || kind == "fsync") return;
    say << "  measured " << kind << " " << line.value("carrier", "") << "/"
        << line.value("durability", "") << "\n"
        << std::flush;
  };
  hooks.interrupted = [&] { return signals.received(); };
  const auto t0 = Clock::now();
  bool ok = false;
  try {
    ok = run_node_benchmark(options, root, hooks);
  } catch (const NodeBenchInterrupted&) {
    throw CommandError(kNotDelivered, "interrupted");
  } catch (const CommandError&) {
    throw;
  } catch (const std::exception& e) {
    throw CommandError(kBadInput, e.what());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // What failed, if anything, in a sentence.
  std::vector<std::string> failures;
  json summary = {{"dir", options.dir.string()}, {"messages", options.messages},
                  {"samples", options.samples},  {"warmup", options.warmup},
                  {"latency", json::array()},    {"throughput", json::array()},
                  {"setup", json::array()},      {"errors", json::array()}};
  for (const json& r : results) {
    const std::string kind = r.value("kind", "");
    const std::string where = r.value("carrier", "") + "/" + r.value("durability", "");
    if (kind == "primitives") {
      summary["primitives"] = r;
    } else if (kind == "fsync") {
      summary["fsync"] = r;
    } else if (kind == "latency" || kind == "throughput" || kind == "setup") {
      summary[kind].push_back(r);
    } else if (kind == "error") {
      summary["errors"].push_back(r);
      failures.push_back(where + ": " + r.value("what", ""));
    }
    if (kind == "latency" && r.value("other_carrier", 0) != 0) {
      failures.push_back(where + ": " + std::to_string(r.value("other_carrier", 0)) +
                         " message(s) came over the other carrier");
    }
    if (kind == "throughput") {
      const auto n = r.value("messages", std::uint64_t{0});
      std::ostringstream what;
      if (r.value("received", n) != n) what << ", " << n - r.value("received", n) << " lost";
      if (r.value("delivered", n) != n)
        what << ", " << n - r.value("delivered", n) << " not acknowledged";
      if (r.value("duplicates", 0) != 0) what << ", " << r.value("duplicates", 0) << " duplicated";
      if (r.value("out_of_order", 0) != 0)
        what << ", " << r.value("out_of_order", 0) << " out of order";
      if (r.value("rejected_since_start", 0) != 0)
        what << ", " << r.value("rejected_since_start", 0) << " envelope(s) rejected";
      if (r.value("undecryptable_since_start", 0) != 0)
        what << ", " << r.value("undecryptable_since_start", 0) << " payload(s) undecryptable";
      if (!what.str().empty()) failures.push_back(where + what.str().substr(1));
    }
  }
  if (!ok && failures.empty()) failures.push_back("a check failed");
  summary["result"] = ok ? "ok" : "failed";
  summary["seconds"] = seconds;
  if (!ok) {
    std::string message;
    for (const auto& f : failures) message += (message.empty() ? "" : "; ") + f;
    summary["error"] = "check_failed";
    summary["message"] = message;
  }

  say << "\n" << node_bench_tables(results) << "\n";
  if (ok) {
    say << "Every message arrived exactly once, in order, on the carrier asked for, and was\n"
           "acknowledged; no envelope was rejected and no payload failed to decrypt.\n";
  } else {
    say << "FAILED: " << summary["message"].get<std::string>() << "\n";
  }
  say << "Done in " << std::fixed << std::setprecision(1) << seconds << " s.\n" << std::flush;
  if (json_out) std::cout << json_line(summary) << std::flush;
  return ok ? kOk : kCheckFailed;
}

}  // namespace

Command bench_command() {
  return {"bench",
          "mrt bench [--carrier both|room|to_device] [--messages N] [--samples N] [--dir DIR]\n"
          "          [--no-fsync] [--json]\n"
          "  Node-to-node benchmark: the dev homeserver (rate limits lifted) and two nodes with\n"
          "  new keys, in this process, stores in a new directory under DIR (default: the temp\n"
          "  directory; removed at the end). Per carrier and store durability (full and off, or\n"
          "  off only with --no-fsync): latency of N (default 200) messages one at a time\n"
          "  (p50/p99/max), a burst of N (default 2000) messages with send_many (msg/s,\n"
          "  messages per Matrix send), CPU per message against the raw primitives. Exit 0, or\n"
          "  1 if a message was lost, duplicated, reordered or came over the other carrier, or an\n"
          "  envelope was rejected; 8 on Ctrl-C. With --json the tables go to stderr and stdout\n"
          "  gets one summary object.",
          bench};
}

}  // namespace mrt::cli
