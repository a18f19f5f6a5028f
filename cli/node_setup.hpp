// What `mrt node`, `mrt send` and `mrt listen` share: their node options (key, homeserver,
// data directory, carrier, policy), opening and starting an mrt::Node with the CLI's exit codes,
// the JSON form of node events, and SIGINT/SIGTERM as a file descriptor.
#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>
#include <mrt/node.hpp>

#include "args.hpp"

namespace mrt::cli {

// The flags every node command takes (and the usage text that lists them).
extern const std::set<std::string> kNodeOptions;   // --keystore --password-file --key-file ...
extern const std::set<std::string> kNodeSwitches;  // --no-fsync --json
extern const char* const kNodeUsage;

// The node's key: --key-file F (first line 0x + 64 hex; refused unless only its owner may read
// or write it), --key-fd N (the same from a descriptor the parent handed over) or --keystore
// FILE with --password-file F or the prompt. Exactly one of them.
PrivateKey node_key(const Args& args);

// The NodeConfig the flags describe (on_event and now_ms unset).
NodeConfig node_config(const Args& args);

// Node::open and start(), or a CommandError with the exit code the failure means.
Node open_and_start(NodeConfig config, const PrivateKey& key);

// A flag's value as an integer in [min, max], or a UsageError naming the flag.
std::int64_t int_option(const Args& args, const std::string& name, std::int64_t fallback,
                        std::int64_t min, std::int64_t max);

// The event objects of docs/cli.md ("JSON lines"). Addresses are in the wire form (lowercase).
nlohmann::json event_json(const NodeEvent& event);
nlohmann::json started_json(const Node& node);
// One line of compact JSON, "\n" included; invalid UTF-8 (never expected) becomes U+FFFD.
std::string json_line(const nlohmann::json& object);

// SIGINT and SIGTERM, blocked for the whole process while this lives and read from a signalfd
// instead, so that every thread (the node's included) ignores them and the command decides
// when to stop. Construct it before any thread starts.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int fd() const { return fd_; }
  // True once SIGINT or SIGTERM has arrived (waits at most `wait_ms` for one).
  bool received(int wait_ms = 0);

 private:
  int fd_ = -1;
  bool received_ = false;
  sigset_t saved_{};
};

}  // namespace mrt::cli
