#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::cli {

// Exit codes, documented in docs/cli.md; scripts depend on them, so they never change.
enum ExitCode : int {
  kOk = 0,
  kCheckFailed = 1,     // vectors failed, a signature did not recover
  kUsage = 2,           // bad flags or arguments
  kBadInput = 3,        // a file unreadable or malformed (keystore, key file, vector file, hex)
  kKeyRefused = 4,      // wrong password, or a keystore whose content is refused
  kWouldOverwrite = 5,  // the output file exists
  kStoreRefused = 6,    // a node's data directory cannot be used (locked, another key, corrupt)
  kStartFailed = 7,     // a node could not start: login refused, homeserver unreachable
  kNotDelivered = 8,    // mrt send / mrt demo: a message was not delivered in time
};

// A failure a command reports: printed on stderr as "mrt <command>: <message>" and, with
// --json, as {"error": <code name>, "message": ...} on stdout.
class CommandError : public std::runtime_error {
 public:
  CommandError(ExitCode exit_code, const std::string& message)
      : std::runtime_error(message), code(exit_code) {}
  ExitCode code;
};

struct Command {
  std::string name;  // "key new", "sign", ...
  std::string usage;
  std::function<int(const std::vector<std::string>& args, bool json)> run;
};

// What a command prints: text for people, or one JSON object with --json.
void print_result(bool json, const nlohmann::json& object,
                  const std::vector<std::pair<std::string, std::string>>& text_lines);

std::vector<Command> key_commands();
std::vector<Command> signature_commands();
Command vectors_command();
Command serve_command();               // the dev homeserver (devserver/)
std::vector<Command> node_commands();  // node, send, listen (mrt::Node)
Command demo_command();                // a dev homeserver and two nodes in one process
Command bench_command();               // the node-to-node benchmark, the same way

}  // namespace mrt::cli
